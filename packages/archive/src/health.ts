// Post-restore validation: N consecutive OK health checks. The loop is pure (clock, sleep and the
// probe are injected) so tests run without waiting; the real HTTP GET lives in `httpHealthProbe`.

export interface HealthCheckOutcome {
  ok: boolean;
  detail: string;
}

export type HealthProbe = (timeoutMs: number) => Promise<HealthCheckOutcome>;

export interface HealthStreakOptions {
  probe: HealthProbe;
  /** Consecutive OK checks required (default 3). */
  required?: number;
  intervalMs?: number;
  /** Per-check timeout, passed to the probe; a timeout counts as a failure. */
  timeoutMs?: number;
  /** Overall deadline from the first check. */
  deadlineMs?: number;
  clock?: () => number;
  sleep?: (ms: number) => Promise<void>;
  onCheck?: (check: HealthCheckRecord) => void;
  /** A cancel: no further check starts and the wait between checks ends at once. */
  signal?: AbortSignal;
}

export interface HealthCheckRecord {
  attempt: number;
  atMs: number;
  ok: boolean;
  streak: number;
  detail: string;
}

export interface HealthStreakResult {
  ok: boolean;
  /** The streak reached (equals `required` on success). */
  streak: number;
  attempts: number;
  checks: HealthCheckRecord[];
  reason: string;
}

export const defaultSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `sleep(ms)`, ended early when `signal` aborts. The default sleep's timer is cleared then, so a
 *  cancelled wait does not keep the process alive until it would have ended. */
function sleepUnlessAborted(
  sleep: (ms: number) => Promise<void>,
  ms: number,
  signal?: AbortSignal,
): Promise<void> {
  if (!signal) return sleep(ms);
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolveSleep) => {
    let timer: NodeJS.Timeout | undefined;
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolveSleep();
    };
    signal.addEventListener('abort', done, { once: true });
    if (sleep === defaultSleep) timer = setTimeout(done, ms);
    else sleep(ms).then(done, done);
  });
}

/** Polls until `required` consecutive checks pass; any failure resets the streak. */
export async function waitForHealthStreak(options: HealthStreakOptions): Promise<HealthStreakResult> {
  const required = options.required ?? 3;
  const intervalMs = options.intervalMs ?? 5000;
  const timeoutMs = options.timeoutMs ?? 5000;
  const deadlineMs = options.deadlineMs ?? 120_000;
  const clock = options.clock ?? Date.now;
  const sleep = options.sleep ?? defaultSleep;
  const start = clock();
  // Bounded by count as well as time, so a clock that never advances cannot spin forever.
  const maxAttempts = Math.ceil(deadlineMs / Math.max(intervalMs, 1)) + required + 1;
  const checks: HealthCheckRecord[] = [];
  let streak = 0;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    if (options.signal?.aborted)
      return {
        ok: false,
        streak,
        attempts: checks.length,
        checks,
        reason: `the health checks were cancelled (${checks.filter((c) => c.ok).length} OK of ${checks.length}, ${required} consecutive needed), so nothing shows the service works`,
      };
    let outcome: HealthCheckOutcome;
    try {
      outcome = await options.probe(timeoutMs);
    } catch (error) {
      outcome = { ok: false, detail: `probe error: ${(error as Error).message}` };
    }
    streak = outcome.ok ? streak + 1 : 0;
    const record = { attempt, atMs: clock() - start, ok: outcome.ok, streak, detail: outcome.detail };
    checks.push(record);
    options.onCheck?.(record);
    if (streak >= required)
      return {
        ok: true,
        streak,
        attempts: attempt,
        checks,
        reason: `${required} consecutive OK health checks`,
      };
    if (clock() - start + intervalMs > deadlineMs) break;
    await sleepUnlessAborted(sleep, intervalMs, options.signal);
  }
  return {
    ok: false,
    streak,
    attempts: checks.length,
    checks,
    reason: `health did not reach ${required} consecutive OK checks within ${deadlineMs} ms (${checks.filter((c) => c.ok).length} OK of ${checks.length}; last: ${checks.at(-1)?.detail ?? 'none'})`,
  };
}

/** GET `url`; OK means a 2xx status within the timeout. Anything else, including a timeout, fails. */
export function httpHealthProbe(url: string): HealthProbe {
  return async (timeoutMs) => {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
      await response.arrayBuffer().catch(() => undefined);
      return { ok: response.status >= 200 && response.status < 300, detail: `HTTP ${response.status}` };
    } catch (error) {
      const e = error as Error;
      const timedOut = e.name === 'TimeoutError' || e.name === 'AbortError';
      return {
        ok: false,
        detail: timedOut
          ? `timed out after ${timeoutMs} ms`
          : `request failed: ${(e.cause as Error | undefined)?.message ?? e.message}`,
      };
    }
  };
}
