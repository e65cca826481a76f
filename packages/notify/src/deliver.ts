// HTTP delivery of one rendered payload to one webhook: POST with a hard per-attempt wall-clock
// limit (withDeadline: also covers DNS, headers and reading the answer), retried by the pure policy
// in retry.ts, never past the caller's deadline. Returns a result value; it never throws for a
// delivery failure. Clock, sleep and randomness are injected for tests.
import { DeadlineExceededError, sleep, TOOL_VERSION, withDeadline } from '@guarded-rollout/config';
import { decideRetry, isSuccess, type AttemptOutcome, type RetryPolicy } from './retry.js';
import { assertResolvedHostAllowed, DestinationRefusedError, type UrlPolicy } from './url-policy.js';

export interface Clock {
  now(): number;
  /** Resolves after `ms`, or at once when `signal` aborts (a cancel must not wait out a retry's
   *  delay, nor leave its timer keeping the process alive). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = { now: () => Date.now(), sleep };

export interface DeliveryEnvironment {
  fetch: typeof fetch;
  clock: Clock;
  random: () => number;
  policy: RetryPolicy;
  /** Longest a single attempt may take (real time: it bounds a socket). */
  attemptTimeoutMs: number;
  /** clock.now() value after which no attempt starts and no wait begins. */
  deadline: number;
  /** Cancels everything still running (a cancelled job has ~10 s before it is killed, and the
   *  call's own wall-clock budget aborts it with a DeadlineExceededError). */
  signal?: AbortSignal;
  /** Applied to a receiver's answer before it is cut short, so no partial secret survives. */
  redact?: (text: string) => string;
  /** Where requests may go (link-local / metadata refused unless allowed). */
  urlPolicy?: UrlPolicy;
}

export interface AttemptRecord {
  attempt: number;
  outcome: string;
  /** Wait before the next attempt, when one followed. */
  waitMs?: number;
}

export interface DeliveryResult {
  delivered: boolean;
  attempts: number;
  status?: number;
  /** Why it was not delivered (already free of the URL; callers still redact). */
  error?: string;
  history: AttemptRecord[];
}

export interface HttpRequest {
  url: string;
  body: string;
  headers?: Record<string, string>;
  /** Channel-specific reading of a failed response (e.g. Discord's 404 = webhook deleted). */
  explain?: (status: number, body: string) => string | undefined;
}

/** Turns a fetch failure into a short cause without the URL (undici puts it into some messages). */
export function describeFetchError(error: unknown): string {
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'timed out';
  const cause = e?.cause;
  if (cause?.code) return `network error ${cause.code}`;
  if (e?.message?.startsWith('Failed to parse URL')) return 'invalid URL';
  return `network error: ${cause?.message ?? e?.message ?? String(error)}`;
}

/** Reads at most `limit` bytes of the answer, then drops the rest (an unending body ends here). */
async function readBody(response: Response, limit = 4096): Promise<string> {
  const body = response.body;
  if (!body) return '';
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    // a broken body still leaves the status
  } finally {
    reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).toString('utf8').slice(0, limit);
}

function discordStyleRetryAfter(body: string): number | null {
  if (!body.startsWith('{')) return null;
  try {
    const value = (JSON.parse(body) as { retry_after?: unknown }).retry_after;
    return typeof value === 'number' ? value : null;
  } catch {
    return null;
  }
}

/** One attempt's result, as the retry policy and the report need it. */
export interface AttemptReport {
  outcome: AttemptOutcome;
  /** Channel-specific explanation of a refusal (e.g. Discord's 404 = webhook deleted). */
  explanation?: string;
  /** A short excerpt of the receiver's answer. */
  detail?: string;
}

/** Runs attempts until one succeeds, the policy gives up, or the deadline would be passed. */
export async function deliverWithRetry(
  attemptOnce: (timeoutMs: number) => Promise<AttemptReport>,
  env: DeliveryEnvironment,
): Promise<DeliveryResult> {
  const history: AttemptRecord[] = [];
  let lastStatus: number | undefined;
  const cancelled = (attempts: number): DeliveryResult => ({
    delivered: false,
    attempts,
    status: lastStatus,
    error:
      env.signal?.reason instanceof DeadlineExceededError
        ? `the call's time budget of ${env.signal.reason.ms} ms ran out after ${attempts} attempt${attempts === 1 ? '' : 's'}`
        : `cancelled after ${attempts} attempt${attempts === 1 ? '' : 's'}`,
    history,
  });
  for (let attempt = 1; attempt <= env.policy.maxAttempts; attempt++) {
    if (env.signal?.aborted) return cancelled(attempt - 1);
    const remaining = env.deadline - env.clock.now();
    if (remaining <= 0) {
      return {
        delivered: false,
        attempts: attempt - 1,
        status: lastStatus,
        error: 'time budget exhausted before delivery',
        history,
      };
    }
    const report = await attemptOnce(Math.max(1, Math.min(env.attemptTimeoutMs, remaining)));
    const { outcome } = report;
    if (outcome.kind === 'response') lastStatus = outcome.status;
    const record: AttemptRecord = {
      attempt,
      outcome:
        outcome.kind === 'response'
          ? `HTTP ${outcome.status}`
          : outcome.kind === 'timeout'
            ? 'timed out'
            : outcome.error,
    };
    history.push(record);
    if (outcome.kind === 'response' && isSuccess(outcome.status)) {
      return { delivered: true, attempts: attempt, status: outcome.status, history };
    }
    if (env.signal?.aborted) return cancelled(attempt);
    const decision = decideRetry(outcome, attempt, env.policy, env.clock.now(), env.random);
    const detail = report.detail && !report.explanation ? ` — ${report.detail}` : '';
    if (!decision.retry) {
      return {
        delivered: false,
        attempts: attempt,
        status: lastStatus,
        error: `${report.explanation ?? decision.why}${detail}`,
        history,
      };
    }
    if (env.clock.now() + decision.delayMs >= env.deadline) {
      return {
        delivered: false,
        attempts: attempt,
        status: lastStatus,
        error: `${decision.why}; the next retry (in ${decision.delayMs} ms) would pass the time budget`,
        history,
      };
    }
    record.waitMs = decision.delayMs;
    await env.clock.sleep(decision.delayMs, env.signal);
  }
  // Unreachable: decideRetry gives up at maxAttempts.
  return {
    delivered: false,
    attempts: env.policy.maxAttempts,
    status: lastStatus,
    error: 'retries exhausted',
    history,
  };
}

/** POSTs a JSON body to a webhook, with retries. */
export function postWithRetry(request: HttpRequest, env: DeliveryEnvironment): Promise<DeliveryResult> {
  const redact = env.redact ?? ((text: string) => text);
  return deliverWithRetry(async (timeoutMs) => {
    const attempt = await withDeadline(timeoutMs, env.signal, async (signal): Promise<AttemptReport> => {
      await assertResolvedHostAllowed(new URL(request.url).hostname, env.urlPolicy ?? {});
      const response = await env.fetch(request.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': `guarded-rollout/${TOOL_VERSION}`,
          ...request.headers,
        },
        body: request.body,
        signal,
        // Never followed: a redirect could carry the payload (and a signature) to another host.
        redirect: 'manual',
      });
      if (response.status >= 300 && response.status < 400) {
        response.body?.cancel().catch(() => undefined);
        return {
          outcome: {
            kind: 'refused',
            error: `request refused: the receiver answered HTTP ${response.status} (a redirect); redirects are not followed — use the final URL`,
          },
        };
      }
      if (isSuccess(response.status)) {
        // Accepted: the answer's body carries nothing we need, and a receiver that never finishes
        // it must not turn a delivery into a timeout (and a duplicate on retry).
        response.body?.cancel().catch(() => undefined);
        return { outcome: { kind: 'response', status: response.status } };
      }
      // Redacted before it is cut short: a cut could otherwise leave half a secret readable.
      const bodyText = redact(await readBody(response));
      return {
        outcome: {
          kind: 'response',
          status: response.status,
          retryAfter: response.headers.get('retry-after'),
          bodyRetryAfterSeconds: response.status === 429 ? discordStyleRetryAfter(bodyText) : null,
        },
        explanation: isSuccess(response.status) ? undefined : request.explain?.(response.status, bodyText),
        detail: bodyText ? bodyText.slice(0, 200).replace(/\s+/g, ' ') : undefined,
      };
    });
    if (attempt.ok) return attempt.value;
    if (attempt.reason === 'timeout') return { outcome: { kind: 'timeout' } };
    if (attempt.reason === 'aborted') return { outcome: { kind: 'network', error: 'cancelled' } };
    const error = attempt.error;
    if (error instanceof DestinationRefusedError)
      return { outcome: { kind: 'refused', error: `request refused: ${error.message}` } };
    const text = redact(describeFetchError(error));
    if (text === 'timed out') return { outcome: { kind: 'timeout' } };
    // undici reports unreachable hosts with a `cause`; a TypeError without one means the request
    // itself was refused before any I/O (bad URL, credentials in the URL).
    const refused = (error as Error)?.name === 'TypeError' && !(error as { cause?: unknown }).cause;
    return {
      outcome: refused
        ? { kind: 'refused', error: `request refused: ${text}` }
        : { kind: 'network', error: text },
    };
  }, env);
}
