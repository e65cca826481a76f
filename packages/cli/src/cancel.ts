// Ctrl-C (SIGINT) and SIGTERM as an AbortSignal for the commands that stop cleanly on a cancel:
// the work stops, records what it must and exits with one line.
import { withSignalAbort } from '@guarded-rollout/config';
import type { CliContext } from './context.js';

/** Aborts on SIGINT/SIGTERM while `body` runs, saying on stderr what the cancel does. A second
 *  Ctrl-C does not cut the recording short; the line says how to, for an operator who must. */
export function withCancellation<T>(
  ctx: CliContext,
  body: (signal: AbortSignal) => Promise<T>,
  doing = 'stopping the running command and recording the cancellation',
): Promise<T> {
  return withSignalAbort(body, (name, first) =>
    ctx.stderr(
      first
        ? `received ${name}: ${doing}\n`
        : `received ${name}: still stopping; to stop at once anyway: kill -9 ${process.pid}\n`,
    ),
  );
}
