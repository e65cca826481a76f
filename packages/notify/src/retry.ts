// The retry policy as a pure function: given what the last attempt got, retry after how long, or
// give up? 429 honours the server's Retry-After (capped); 5xx, network errors and timeouts back
// off with full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter"); other 4xx are the
// caller's mistake and are never retried. Clock and randomness are parameters, so tests are exact.

export interface RetryPolicy {
  /** Attempts in total, the first included. */
  maxAttempts: number;
  /** Backoff base: attempt n (1-based) waits random(0, min(maxDelayMs, baseDelayMs·2^(n-1))). */
  baseDelayMs: number;
  maxDelayMs: number;
  /** The longest Retry-After we are willing to honour; longer waits give up (fail open). */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 4,
  baseDelayMs: 500,
  maxDelayMs: 8_000,
  maxRetryAfterMs: 30_000,
};

export type AttemptOutcome =
  | { kind: 'response'; status: number; retryAfter?: string | null; bodyRetryAfterSeconds?: number | null }
  | { kind: 'network'; error: string }
  /** The request could not even be built (e.g. fetch refuses the URL): retrying cannot help. */
  | { kind: 'refused'; error: string }
  | { kind: 'timeout' };

export type RetryDecision = { retry: true; delayMs: number; why: string } | { retry: false; why: string };

/** Parses Retry-After: delta-seconds or an HTTP-date (RFC 9110 §10.2.3). Returns ms, or undefined. */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.ceil(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}

export function fullJitterDelay(attempt: number, policy: RetryPolicy, random: () => number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}

export function isSuccess(status: number): boolean {
  return status >= 200 && status < 300;
}

/** `attempt` is the number of attempts made so far (1 after the first). */
export function decideRetry(
  outcome: AttemptOutcome,
  attempt: number,
  policy: RetryPolicy,
  nowMs: number,
  random: () => number,
): RetryDecision {
  const exhausted = attempt >= policy.maxAttempts;
  if (outcome.kind === 'response') {
    const { status } = outcome;
    if (isSuccess(status)) return { retry: false, why: 'delivered' };
    if (status === 429) {
      if (exhausted) return { retry: false, why: `HTTP 429 after ${attempt} attempts` };
      const fromHeader = parseRetryAfter(outcome.retryAfter, nowMs);
      const fromBody =
        typeof outcome.bodyRetryAfterSeconds === 'number' && Number.isFinite(outcome.bodyRetryAfterSeconds)
          ? Math.ceil(outcome.bodyRetryAfterSeconds * 1000)
          : undefined;
      const asked = fromHeader ?? fromBody;
      if (asked === undefined)
        return {
          retry: true,
          delayMs: fullJitterDelay(attempt, policy, random),
          why: 'HTTP 429 without Retry-After',
        };
      if (asked > policy.maxRetryAfterMs) {
        return {
          retry: false,
          why: `HTTP 429 asked to wait ${asked} ms, more than the ${policy.maxRetryAfterMs} ms cap`,
        };
      }
      return { retry: true, delayMs: asked, why: `HTTP 429, Retry-After ${asked} ms` };
    }
    if (status >= 500) {
      if (exhausted) return { retry: false, why: `HTTP ${status} after ${attempt} attempts` };
      return { retry: true, delayMs: fullJitterDelay(attempt, policy, random), why: `HTTP ${status}` };
    }
    return { retry: false, why: `HTTP ${status} (not retried: the request itself was refused)` };
  }
  if (outcome.kind === 'refused') return { retry: false, why: `${outcome.error} (not retried)` };
  const what = outcome.kind === 'timeout' ? 'timed out' : outcome.error;
  if (exhausted) return { retry: false, why: `${what} after ${attempt} attempts` };
  return { retry: true, delayMs: fullJitterDelay(attempt, policy, random), why: what };
}
