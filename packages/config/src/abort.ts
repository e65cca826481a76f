// Cancellation primitives shared by every package: a wait that a cancel ends at once, and the
// operator's Ctrl-C or the runner's cancel (SIGINT, SIGTERM 7.5 s later, kill at 10 s) as an
// AbortSignal. Node's default for either signal is to die at once, wherever the work is, with no
// line saying what was left.

/** Resolves after `ms`, or at once when `signal` aborts. The timer is cleared then, so a cancelled
 *  wait does not keep the process alive until it would have ended. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted || ms <= 0) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** `work`'s value, or undefined as soon as `signal` aborts. The work is left running: for work
 *  that changes nothing, or that cannot be stopped (a library without a signal). */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T | undefined> {
  if (!signal) return work;
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.resolve(undefined);
  }
  return new Promise<T | undefined>((resolveWith, reject) => {
    const onAbort = (): void => resolveWith(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolveWith(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

export type CancelSignalName = 'SIGINT' | 'SIGTERM';

/**
 * Runs `body` with a signal that the first SIGINT or SIGTERM aborts, after `onSignal(name, true)`
 * (the one line saying what the cancel does). Later signals are absorbed while `body` runs, so the
 * work can record its end (`onSignal(name, false)` may say so); the handlers are removed when it
 * settles.
 */
export async function withSignalAbort<T>(
  body: (signal: AbortSignal) => Promise<T>,
  onSignal?: (name: CancelSignalName, first: boolean) => void,
): Promise<T> {
  const controller = new AbortController();
  const handle = (name: CancelSignalName): void => {
    onSignal?.(name, !controller.signal.aborted);
    controller.abort();
  };
  const onInt = (): void => handle('SIGINT');
  const onTerm = (): void => handle('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    return await body(controller.signal);
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
}
