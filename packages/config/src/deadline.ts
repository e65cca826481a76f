// Hard wall-clock bounds for network I/O (notifications, health and smoke checks, GitHub API
// requests). A call must end on time even when the other side hangs, trickles bytes (slow-loris),
// or a library ignores its AbortSignal. This file imports nothing on purpose: the forced-GC test
// transpiles it alone and runs it under `node --expose-gc`.
//
// Why not `AbortSignal.any([AbortSignal.timeout(t), parent])`: on Node 20.20 the composite signal is
// only weakly held, and after a garbage collection its timeout never fires, so a hung request
// waits forever. Here a plain setTimeout (kept alive by the event loop) owns the AbortController.

/** The reason a deadline-bound task was aborted because its time ran out. */
export class DeadlineExceededError extends Error {
  constructor(readonly ms: number) {
    super(`time limit of ${ms} ms reached`);
    this.name = 'DeadlineExceededError';
  }
}

export type DeadlineOutcome<T> =
  | { ok: true; value: T }
  | { ok: false; reason: 'timeout' }
  | { ok: false; reason: 'aborted'; cause: unknown }
  | { ok: false; reason: 'error'; error: unknown };

/**
 * Runs `task(signal)` for at most `ms` of wall-clock time, or until `parent` aborts.
 * One AbortController and one setTimeout per call; the listener on `parent` is removed when the
 * call settles (a long-lived parent collects no listeners). The signal is aborted *first*, then
 * the result settles through Promise.race, so the call returns on time even if the task never
 * looks at its signal. Never rejects.
 */
export async function withDeadline<T>(
  ms: number,
  parent: AbortSignal | undefined,
  task: (signal: AbortSignal) => Promise<T>,
): Promise<DeadlineOutcome<T>> {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onParentAbort: (() => void) | undefined;
  const guard = new Promise<DeadlineOutcome<T>>((resolve) => {
    timer = setTimeout(
      () => {
        controller.abort(new DeadlineExceededError(ms));
        resolve({ ok: false, reason: 'timeout' });
      },
      Math.max(0, ms),
    );
    if (parent) {
      onParentAbort = () => {
        controller.abort(parent.reason);
        resolve({ ok: false, reason: 'aborted', cause: parent.reason });
      };
      if (parent.aborted) onParentAbort();
      else parent.addEventListener('abort', onParentAbort, { once: true });
    }
  });
  const run = Promise.resolve()
    .then(() => task(controller.signal))
    .then(
      (value): DeadlineOutcome<T> => ({ ok: true, value }),
      (error: unknown): DeadlineOutcome<T> =>
        controller.signal.aborted
          ? controller.signal.reason instanceof DeadlineExceededError
            ? { ok: false, reason: 'timeout' }
            : { ok: false, reason: 'aborted', cause: controller.signal.reason }
          : { ok: false, reason: 'error', error },
    );
  try {
    return await Promise.race([guard, run]);
  } finally {
    clearTimeout(timer);
    if (parent && onParentAbort) parent.removeEventListener('abort', onParentAbort);
  }
}

/**
 * An AbortController that aborts itself after `ms` (reason: DeadlineExceededError) or when the
 * parent aborts (reason: the parent's). `dispose()` clears the timer and the parent listener.
 */
export function deadlineController(
  ms: number,
  parent?: AbortSignal,
): { signal: AbortSignal; dispose: () => void; abort: (reason?: unknown) => void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DeadlineExceededError(ms)), Math.max(0, ms));
  const onParentAbort = (): void => controller.abort(parent?.reason);
  if (parent?.aborted) onParentAbort();
  else parent?.addEventListener('abort', onParentAbort, { once: true });
  return {
    signal: controller.signal,
    abort: (reason) => controller.abort(reason),
    dispose: () => {
      clearTimeout(timer);
      parent?.removeEventListener('abort', onParentAbort);
    },
  };
}

/** Resolves with `fallback()` after `ms` unless `promise` settles first; the timer is cleared. */
export async function settleWithin<T>(promise: Promise<T>, ms: number, fallback: () => T): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<T>((resolve) => {
        timer = setTimeout(() => resolve(fallback()), Math.max(0, ms));
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A request that got no complete answer within its time limit (the other side hung). */
export class NoAnswerError extends Error {
  constructor(
    readonly host: string,
    readonly ms: number,
    options?: { cause?: unknown },
  ) {
    super(`no answer from ${host} within ${ms < 1000 ? `${ms}ms` : `${Math.round(ms / 1000)}s`}`, options);
    this.name = 'NoAnswerError';
  }
}

/** How long one GitHub API request may go unanswered before it is given up (and retried where the
 *  client retries): GitHub answers API requests within seconds. One value for every Octokit client
 *  (the backup artifact lookup, pr-check, the deploy recorder). */
export const GITHUB_REQUEST_TIMEOUT_MS = 30_000;

/**
 * A `fetch` for clients that take none of their own timeouts (Octokit): each request, its answer
 * read to the end, ends after `timeoutMs` (NoAnswerError), or when `parent` or the request's own
 * signal aborts (its reason).
 * The answer is returned read, so a trickled body is bounded too; fit for API answers, not for
 * downloads.
 */
export function deadlineFetch(
  timeoutMs: number,
  parent?: AbortSignal,
): (url: string | URL, init?: RequestInit) => Promise<Response> {
  return async (url, init) => {
    const deadline = deadlineController(timeoutMs, parent);
    // A signal of the request's own (a caller's bound on the whole call) still applies.
    const own = init?.signal ?? undefined;
    const onOwnAbort = (): void => deadline.abort(own?.reason);
    if (own?.aborted) onOwnAbort();
    else own?.addEventListener('abort', onOwnAbort, { once: true });
    try {
      const response = await fetch(url, { ...init, signal: deadline.signal });
      const body = [101, 204, 205, 304].includes(response.status) ? null : await response.arrayBuffer();
      const read = new Response(body, {
        status: response.status,
        statusText: response.statusText,
        headers: response.headers,
      });
      // Clients read the final URL, which a Response built here lacks.
      return Object.defineProperty(read, 'url', { value: response.url });
    } catch (error) {
      if (deadline.signal.reason instanceof DeadlineExceededError)
        throw new NoAnswerError(new URL(url).host, timeoutMs, { cause: error });
      throw error;
    } finally {
      own?.removeEventListener('abort', onOwnAbort);
      deadline.dispose();
    }
  };
}
