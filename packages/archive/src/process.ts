// Running an operator-supplied shell command (dump, restart, smoke) with a hard timeout. The
// command gets its own process group so a timeout kills everything it started, not just the shell.
import { spawn } from 'node:child_process';

export interface CommandResult {
  ok: boolean;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  /** Stopped because `signal` aborted (a cancel): the group got SIGTERM, SIGKILL 2 s later. */
  cancelled?: boolean;
  durationMs: number;
  /** The last 4 KiB of stdout+stderr: enough to explain a failure, bounded whatever the command prints. */
  outputTail: string;
}

const TAIL_BYTES = 4096;

export function runShellCommand(
  command: string,
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs: number; signal?: AbortSignal },
): Promise<CommandResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(command, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      shell: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: process.platform !== 'win32',
    });
    let tail = '';
    const keep = (chunk: Buffer): void => {
      tail = (tail + chunk.toString('utf8')).slice(-TAIL_BYTES);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let timedOut = false;
    const kill = (sig: NodeJS.Signals = 'SIGKILL'): void => {
      try {
        if (child.pid && process.platform !== 'win32') process.kill(-child.pid, sig);
        else child.kill(sig);
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, options.timeoutMs);
    // A cancel stops the whole group (it is detached: nothing else would): SIGTERM lets a dump
    // tool remove its partial output, SIGKILL 2 s later ends one that ignores it.
    let cancelled = false;
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      cancelled = true;
      kill('SIGTERM');
      killTimer = setTimeout(() => kill(), 2000);
    };
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });
    const done = (): void => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      options.signal?.removeEventListener('abort', onAbort);
    };
    child.on('error', (error) => {
      done();
      resolve({
        ok: false,
        exitCode: null,
        signal: null,
        timedOut,
        cancelled,
        durationMs: Date.now() - started,
        outputTail: String(error),
      });
    });
    child.on('close', (code, signal) => {
      done();
      resolve({
        ok: !timedOut && !cancelled && code === 0,
        exitCode: code,
        signal,
        timedOut,
        cancelled,
        durationMs: Date.now() - started,
        outputTail: tail,
      });
    });
  });
}

export function describeCommandResult(result: CommandResult, timeoutMs: number): string {
  if (result.timedOut) return `timed out after ${timeoutMs} ms (killed)`;
  if (result.cancelled) return 'was stopped by the cancel';
  if (result.exitCode === null) return `could not run (${result.outputTail.trim() || result.signal})`;
  return `exited with code ${result.exitCode}${result.signal ? ` (signal ${result.signal})` : ''}`;
}
