// Ctrl-C (SIGINT) and SIGTERM as an AbortSignal for the commands that stop cleanly on a cancel:
// the work stops, records what it must and exits with one line.
// The `abort` entry, not the package index: index.ts imports this file, and the index would load
// the config schemas (ajv) for every command.
import { withSignalAbort } from '@guarded-rollout/config/abort';
import type { CliContext } from './context.js';

let cancelReceived = false;

/** Whether a cancel arrived while a command ran: the CLI then exits once the command has reported
 *  (index.ts), not when the work the cancel abandoned happens to end (a backup artifact's
 *  download, which @actions/artifact cannot stop, kept the process alive until it finished). */
export function cancelled(): boolean {
  return cancelReceived;
}

/** Aborts on SIGINT/SIGTERM while `body` runs, saying on stderr what the cancel does. A second
 *  Ctrl-C does not cut the recording short; the line says how to, for an operator who must. */
export function withCancellation<T>(
  ctx: CliContext,
  body: (signal: AbortSignal) => Promise<T>,
  doing = 'stopping the running command and recording the cancellation',
): Promise<T> {
  return withSignalAbort(body, (name, first) => {
    cancelReceived = true;
    ctx.stderr(
      first
        ? `received ${name}: ${doing}\n`
        : `received ${name}: still stopping; to stop at once anyway: kill -9 ${process.pid}\n`,
    );
  });
}
