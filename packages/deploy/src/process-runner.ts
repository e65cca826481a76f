// Runs an operator's command (deploy, migrate, log producer) as a shell command in its own process
// group, streams its output line by line, and enforces a timeout by killing the whole tree:
// SIGTERM to the group, SIGKILL after a grace period. @actions/exec cannot start a process group,
// so a timeout there would kill only the shell and leave its grandchildren running.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** On cancellation the runner kills the job ~10 s after its signal; the tree must be gone well before. */
export const CANCEL_GRACE_MS = 3000;

export type CommandOutcome = 'succeeded' | 'failed' | 'timed-out' | 'cancelled';

export interface CommandResult {
  outcome: CommandOutcome;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  durationMs: number;
  pid: number | undefined;
  /** True when the group ignored SIGTERM and had to be SIGKILLed. */
  forceKilled: boolean;
}

export interface RunCommandOptions {
  command: string;
  /** Extra arguments appended to the command line, each shell-quoted (e.g. "--dry-run"). */
  args?: string[];
  cwd: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs: number;
  /** Time between SIGTERM and SIGKILL. */
  killGraceMs: number;
  /** Aborting stops the command the same way a timeout does, reported as `cancelled`. */
  signal?: AbortSignal;
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Called with the pid (= process group id on POSIX) once the command runs, e.g. to save it for
   *  a post step that must stop the group if this process is killed first. */
  onSpawn?: (pid: number) => void;
  now?: () => number;
}

/** What to do with a running command at a given moment: the pure half of the timeout policy. */
export type KillStep = { action: 'wait'; untilMs: number } | { action: 'terminate' } | { action: 'kill' };

export function killStep(
  state: { startedAt: number; timeoutMs: number; killGraceMs: number; terminatedAt?: number },
  nowMs: number,
): KillStep {
  if (state.terminatedAt !== undefined) {
    const killAt = state.terminatedAt + state.killGraceMs;
    return nowMs >= killAt ? { action: 'kill' } : { action: 'wait', untilMs: killAt };
  }
  const deadline = state.startedAt + state.timeoutMs;
  return nowMs >= deadline ? { action: 'terminate' } : { action: 'wait', untilMs: deadline };
}

/** Quotes one argument for POSIX sh or cmd.exe. */
export function shellQuote(arg: string): string {
  if (/^[A-Za-z0-9_\-.,:/=@%+]+$/.test(arg)) return arg;
  if (process.platform === 'win32') return `"${arg.replace(/"/g, '""')}"`;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Signals a whole process group; on Windows, where groups do not exist, only the direct child. */
export function signalTree(pid: number, signal: NodeJS.Signals): void {
  try {
    if (process.platform === 'win32') process.kill(pid, signal);
    else process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

// A killed process stays a zombie until its reaper collects it; some container inits never do.
// A zombie runs nothing, so on Linux it counts as gone.
function linuxState(pid: number): { state: string; pgid: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0]!, pgid: Number(fields[2]) };
  } catch {
    return undefined;
  }
}

/** True while the process exists and is not a zombie. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (process.platform !== 'linux') return true;
  const info = linuxState(pid);
  return info !== undefined && info.state !== 'Z';
}

/** True while any live (non-zombie) process of the group (POSIX) or the process (Windows) exists. */
export function treeAlive(pid: number): boolean {
  if (process.platform === 'win32') return processAlive(pid);
  try {
    process.kill(-pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (process.platform !== 'linux') return true;
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const info = linuxState(Number(entry));
      if (info && info.pgid === pid && info.state !== 'Z') return true;
    }
  } catch {
    return true;
  }
  return false;
}

/** Splits a stream into lines, keeping a trailing partial line until more data or the end. */
function lineSplitter(emit: (line: string) => void): { push: (chunk: Buffer) => void; end: () => void } {
  let pending = '';
  return {
    push(chunk) {
      pending += chunk.toString('utf8');
      const parts = pending.split(/\r?\n/);
      pending = parts.pop() ?? '';
      for (const part of parts) emit(part);
    },
    end() {
      if (pending !== '') emit(pending);
      pending = '';
    },
  };
}

export function runCommand(options: RunCommandOptions): Promise<CommandResult> {
  const now = options.now ?? Date.now;
  const startedAt = now();
  const commandLine = [options.command, ...(options.args ?? []).map(shellQuote)].join(' ');
  return new Promise((resolve) => {
    if (options.signal?.aborted) {
      resolve({
        outcome: 'cancelled',
        exitCode: null,
        signal: null,
        durationMs: 0,
        pid: undefined,
        forceKilled: false,
      });
      return;
    }
    const child = spawn(commandLine, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      shell: true,
      // Own process group (POSIX), so the whole tree can be signalled at once.
      detached: process.platform !== 'win32',
      stdio: ['ignore', 'pipe', 'pipe'],
      windowsHide: true,
    });
    const pid = child.pid;
    if (pid !== undefined) options.onSpawn?.(pid);
    let stopReason: 'timed-out' | 'cancelled' | undefined;
    let terminatedAt: number | undefined;
    let graceMs = options.killGraceMs;
    let forceKilled = false;
    let timer: NodeJS.Timeout | undefined;
    let settled = false;

    const out = lineSplitter((l) => options.onLine?.(l, 'stdout'));
    const err = lineSplitter((l) => options.onLine?.(l, 'stderr'));
    child.stdout.on('data', out.push);
    child.stderr.on('data', err.push);

    const schedule = (): void => {
      const step = killStep(
        { startedAt, timeoutMs: options.timeoutMs, killGraceMs: graceMs, terminatedAt },
        now(),
      );
      if (step.action === 'wait') {
        timer = setTimeout(schedule, Math.max(0, step.untilMs - now()));
        return;
      }
      if (step.action === 'terminate') {
        stopReason ??= 'timed-out';
        stop();
        return;
      }
      if (pid !== undefined) {
        forceKilled = true;
        signalTree(pid, 'SIGKILL');
      }
    };
    const stop = (): void => {
      if (terminatedAt !== undefined || pid === undefined) return;
      terminatedAt = now();
      signalTree(pid, 'SIGTERM');
      clearTimeout(timer);
      schedule();
    };
    const onAbort = (): void => {
      stopReason ??= 'cancelled';
      graceMs = Math.min(graceMs, CANCEL_GRACE_MS);
      stop();
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    schedule();

    const finish = (exitCode: number | null, signal: NodeJS.Signals | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      const outcome: CommandOutcome = stopReason ?? (exitCode === 0 ? 'succeeded' : 'failed');
      resolve({ outcome, exitCode, signal, durationMs: now() - startedAt, pid, forceKilled });
    };

    child.on('error', (error) => {
      options.onLine?.(`cannot start command: ${error.message}`, 'stderr');
      finish(null, null);
    });
    child.on('exit', (exitCode, signal) => {
      const done = (): void => {
        out.end();
        err.end();
        finish(exitCode, signal);
      };
      if (stopReason && pid !== undefined && treeAlive(pid)) {
        // The shell died but members of its group may linger (e.g. ignoring SIGTERM): wait for the
        // SIGKILL step, then for the group to be gone, bounded by the grace period twice over.
        const deadline = now() + graceMs * 2 + 1000;
        const poll = (): void => {
          if (!treeAlive(pid) || now() > deadline) done();
          else setTimeout(poll, 25);
        };
        poll();
        return;
      }
      // A background process the command started may hold our pipes open for ever; do not wait
      // for it, give the pipes a moment to drain and move on.
      if (child.stdout.readableEnded && child.stderr.readableEnded) done();
      else {
        const drain = setTimeout(() => {
          child.stdout.destroy();
          child.stderr.destroy();
          done();
        }, 500);
        child.on('close', () => {
          clearTimeout(drain);
          done();
        });
      }
    });
  });
}
