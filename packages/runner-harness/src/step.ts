// One step's process as the runner starts and cancels it: a direct child whose output is captured,
// and the runner's cancel schedule — SIGINT to that child, SIGTERM 7.5 s later, SIGKILL at 10 s —
// with the moment of each signal and of the exit measured, so tests can assert a cancel is
// handled within the runner's limits.
import { spawn, type ChildProcess } from 'node:child_process';

/** The runner's cancel schedule (actions/runner ProcessInvoker: SIGINT, 7.5 s, SIGTERM, 2.5 s, kill). */
export const CANCEL_SCHEDULE = { sigtermAfterMs: 7500, sigkillAfterMs: 10000 } as const;

export interface CancelTimings {
  /** ms from SIGINT to SIGTERM, when SIGTERM was sent. */
  sigtermAtMs?: number;
  /** ms from SIGINT to SIGKILL, when SIGKILL was sent. */
  sigkillAtMs?: number;
  /** ms from SIGINT to the child's exit. */
  exitedAtMs: number;
  /** The last signal sent before the child exited. */
  lastSignal: 'SIGINT' | 'SIGTERM' | 'SIGKILL';
}

export interface StepExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  /** Present when the step was cancelled. */
  cancel?: CancelTimings;
}

export interface RunningProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Everything written to stdout so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves when stdout + stderr match `pattern` (rejects after timeoutMs or if the process ends first). */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Applies the runner's cancel schedule and resolves with the timings once the child has exited. */
  cancel(): Promise<CancelTimings>;
  readonly exited: Promise<StepExit>;
}

export interface SpawnStepOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Hard bound for the step (the job's timeout); the child is killed after it. Default 120 s. */
  timeoutMs?: number;
  /** Scales the cancel schedule for fast tests of the harness itself (1 = the runner's). */
  cancelScale?: number;
}

export function spawnStep(command: string, args: string[], options: SpawnStepOptions): RunningProcess {
  const started = Date.now();
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    for (const l of listeners) l();
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
    for (const l of listeners) l();
  });
  let cancelTimings: CancelTimings | undefined;
  let cancelled: Promise<CancelTimings> | undefined;
  const hardStop = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
  const exited = new Promise<StepExit>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(hardStop);
      for (const l of listeners) l();
      resolve({
        code,
        signal,
        stdout: out,
        stderr: err,
        durationMs: Date.now() - started,
        ...(cancelTimings ? { cancel: cancelTimings } : {}),
      });
    });
  });
  let done = false;
  void exited.then(
    () => (done = true),
    () => (done = true),
  );
  const scale = options.cancelScale ?? 1;
  return {
    pid: child.pid!,
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitForOutput(pattern, timeoutMs = 60_000) {
      return new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (pattern.test(out + err)) finish(resolve);
          else if (done)
            finish(() => reject(new Error(`process ended before output matched ${pattern}:\n${out}${err}`)));
        };
        const timer = setTimeout(
          () =>
            finish(() =>
              reject(new Error(`no output matching ${pattern} within ${timeoutMs} ms:\n${out}${err}`)),
            ),
          timeoutMs,
        );
        const finish = (f: () => void): void => {
          clearTimeout(timer);
          listeners.delete(check);
          f();
        };
        listeners.add(check);
        exited.then(check, check);
        check();
      });
    },
    cancel() {
      if (cancelled) return cancelled;
      const t0 = Date.now();
      const timings: Partial<CancelTimings> & { lastSignal: CancelTimings['lastSignal'] } = {
        lastSignal: 'SIGINT',
      };
      const send = (signal: NodeJS.Signals): void => {
        if (done) return;
        try {
          process.kill(child.pid!, signal);
        } catch {
          /* already gone */
        }
      };
      send('SIGINT');
      const term = setTimeout(() => {
        if (done) return;
        timings.sigtermAtMs = Date.now() - t0;
        timings.lastSignal = 'SIGTERM';
        send('SIGTERM');
      }, CANCEL_SCHEDULE.sigtermAfterMs * scale);
      const kill = setTimeout(() => {
        if (done) return;
        timings.sigkillAtMs = Date.now() - t0;
        timings.lastSignal = 'SIGKILL';
        send('SIGKILL');
      }, CANCEL_SCHEDULE.sigkillAfterMs * scale);
      cancelled = new Promise<CancelTimings>((resolve) => {
        child.once('exit', () => {
          clearTimeout(term);
          clearTimeout(kill);
          cancelTimings = { ...timings, exitedAtMs: Date.now() - t0 } as CancelTimings;
          resolve(cancelTimings);
        });
        if (done || child.exitCode !== null || child.signalCode !== null) {
          clearTimeout(term);
          clearTimeout(kill);
          cancelTimings = { ...timings, exitedAtMs: 0 } as CancelTimings;
          resolve(cancelTimings);
        }
      });
      return cancelled;
    },
  };
}
