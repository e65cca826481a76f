// Finds processes a step left behind after it ended: by process group or by the marker the harness
// puts in every step's env (inherited by children, kept across setsid and re-parenting). Linux only
// (reads /proc); callers skip elsewhere.
import { readdirSync, readFileSync } from 'node:fs';

export interface LeftoverProcess {
  pid: number;
  pgid: number;
  command: string;
}

function stat(pid: number): { pgid: number; state: string } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid pgrp ..." — comm may contain spaces and parentheses.
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0]!, pgid: Number(rest[2]) };
  } catch {
    return undefined;
  }
}

/** Live (non-zombie) processes in process group `pgid`, or whose env carries the marker. */
export function leftoverProcesses(match: number | string): LeftoverProcess[] {
  const found: LeftoverProcess[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const s = stat(pid);
    if (!s || s.state === 'Z') continue;
    let hit = false;
    if (typeof match === 'number') hit = s.pgid === match;
    else {
      try {
        hit = readFileSync(`/proc/${pid}/environ`, 'latin1')
          .split('\0')
          .includes(`GR_HARNESS_MARKER=${match}`);
      } catch {
        hit = false;
      }
    }
    if (!hit) continue;
    let command = '';
    try {
      command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    } catch {
      /* gone */
    }
    found.push({ pid, pgid: s.pgid, command });
  }
  return found;
}

/** SIGKILLs processes a test found with leftoverProcesses (cleanup after asserting). */
export function killProcesses(list: LeftoverProcess[]): void {
  for (const p of list) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}
