// The runner's cancel as an AbortSignal: it sends SIGINT to the step's process, SIGTERM 7.5 s
// later and kills it at 10 s. Node's default for either signal is to die at once, so without this
// the work stops wherever it is, with no line saying what was left.
import * as core from '@actions/core';

/** Runs `body` with a signal aborted by the first SIGINT or SIGTERM, logging `received X: doing`. */
export async function withRunnerCancel<T>(
  doing: string,
  body: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  const cancel = (signal: string): void => {
    if (controller.signal.aborted) return;
    core.warning(`received ${signal}: ${doing}`);
    controller.abort();
  };
  const onInt = (): void => cancel('SIGINT');
  const onTerm = (): void => cancel('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    return await body(controller.signal);
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
}
