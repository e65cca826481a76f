// The runner's cancel as an AbortSignal, announced as a warning annotation.
import * as core from '@actions/core';
import { withSignalAbort } from '@guarded-rollout/config';

/** Runs `body` with a signal aborted by the first SIGINT or SIGTERM, logging `received X: doing`
 *  (and, for the runner's SIGTERM 7.5 s later, that the step is still stopping). */
export function withRunnerCancel<T>(doing: string, body: (signal: AbortSignal) => Promise<T>): Promise<T> {
  return withSignalAbort(body, (name, first) =>
    core.warning(first ? `received ${name}: ${doing}` : `received ${name}: still stopping`),
  );
}
