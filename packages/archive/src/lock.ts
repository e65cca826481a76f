// One holder at a time: a lock file created atomically (hard link of a private file, which fails
// when the lock exists), naming its holder. A holder that died (kill -9, power loss) on this host
// is detected by its pid and its lock is taken over, with a note; a live holder gets an honest
// "busy" refusal naming it.
import {
  closeSync,
  linkSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { CheckFailedError } from '@guarded-rollout/config/errors';

/** Another run holds the lock: the attempted thing did not happen (exit 1). */
export class LockBusyError extends CheckFailedError {}

export interface LockHolder {
  pid: number;
  host: string;
  startedAt: string;
  purpose: string;
}

export interface HeldLock {
  path: string;
  /** Set when a dead holder's lock was taken over: one line for the log. */
  tookOver?: string;
  release: () => void;
}

export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readHolder(path: string): LockHolder | undefined {
  try {
    const h = JSON.parse(readFileSync(path, 'utf8')) as LockHolder;
    return typeof h.pid === 'number' ? h : undefined;
  } catch {
    return undefined;
  }
}

/** Private files of runs killed between creating and linking them, and stale locks moved aside
 *  by a run killed before it deleted them. */
function sweepPrivateFiles(path: string): void {
  const prefix = `.${basename(path)}.`;
  const aside = `${basename(path)}.stale-`;
  for (const name of readdirSync(dirname(path))) {
    let pid: number;
    if (name.startsWith(prefix)) pid = Number(name.slice(prefix.length).split('.')[0]);
    else if (name.startsWith(aside)) pid = Number(name.slice(aside.length));
    else continue;
    if (pid !== process.pid && !isProcessAlive(pid)) rmSync(join(dirname(path), name), { force: true });
  }
}

/** Takes the lock at `path` or throws LockBusyError naming the live holder. */
export function acquireLock(path: string, purpose: string, now: () => Date = () => new Date()): HeldLock {
  const holder: LockHolder = { pid: process.pid, host: hostname(), startedAt: now().toISOString(), purpose };
  sweepPrivateFiles(path);
  const mine = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}`);
  const fd = openSync(mine, 'wx', 0o644);
  try {
    writeSync(fd, `${JSON.stringify(holder)}\n`);
  } finally {
    closeSync(fd);
  }
  let tookOver: string | undefined;
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        linkSync(mine, path);
        const { ino, dev } = statSync(mine);
        const release = (): void => {
          // Only our own lock: a takeover may have replaced it meanwhile.
          try {
            const now = statSync(path);
            if (now.ino === ino && now.dev === dev) unlinkSync(path);
          } catch {
            // already gone
          }
        };
        return { path, ...(tookOver ? { tookOver } : {}), release };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const other = readHolder(path);
      const sameHost = !other || other.host === hostname();
      if (other && (!sameHost || isProcessAlive(other.pid))) {
        throw new LockBusyError(
          `${purpose} is already running (pid ${other.pid} on ${other.host}, started ${other.startedAt}; lock ${path}); wait for it to finish, nothing was changed by this run. If that process is gone for good, delete ${path}`,
        );
      }
      // Dead holder (or an unreadable, half-written lock): move it aside atomically, so two
      // runs taking over at once cannot both delete a fresh lock.
      const aside = `${path}.stale-${process.pid}`;
      try {
        renameSync(path, aside);
        rmSync(aside, { force: true });
        tookOver = `took over the lock ${path} of ${other ? `pid ${other.pid} (started ${other.startedAt}), which is no longer running` : 'an unreadable lock file'}`;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    throw new LockBusyError(
      `${purpose}: could not take the lock ${path} after 5 attempts; another run keeps taking it`,
    );
  } finally {
    rmSync(mine, { force: true });
  }
}
