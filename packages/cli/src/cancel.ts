// Ctrl-C (SIGINT) and SIGTERM as an AbortSignal for the commands that stop cleanly on a cancel
// (deploy, backup, rollback): the work stops, records what it must and exits with one line.
import type { CliContext } from './context.js';

/** Aborts on SIGINT/SIGTERM while `body` runs, so the child tree is stopped and GitHub told. */
export async function withCancellation<T>(
  ctx: CliContext,
  body: (signal: AbortSignal) => Promise<T>,
  doing = 'stopping the running command and recording the cancellation',
): Promise<T> {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    ctx.stderr(`received ${signal}: ${doing}\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await body(controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
