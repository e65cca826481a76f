// Post-restore validation: N consecutive OK health checks. The loop is pure (clock, sleep and the
// probe are injected) so tests run without waiting; the real HTTP GET lives in `httpHealthProbe`.
import { sleep } from '@guarded-rollout/config/abort';
import { deadlineController, DeadlineExceededError } from '@guarded-rollout/config/deadline';

export interface HealthCheckOutcome {
  ok: boolean;
  detail: string;
}

/** One check, within `timeoutMs`; `signal` (a cancel) ends it at once. */
export type HealthProbe = (timeoutMs: number, signal?: AbortSignal) => Promise<HealthCheckOutcome>;

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
  /** Waits between checks; it must end at once when `signal` aborts (default: the real timer). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
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

/** Polls until `required` consecutive checks pass; any failure resets the streak. */
export async function waitForHealthStreak(options: HealthStreakOptions): Promise<HealthStreakResult> {
  const required = options.required ?? 3;
  const intervalMs = options.intervalMs ?? 5000;
  const timeoutMs = options.timeoutMs ?? 5000;
  const deadlineMs = options.deadlineMs ?? 120_000;
  const clock = options.clock ?? Date.now;
  const wait = options.sleep ?? sleep;
  const start = clock();
  // Bounded by count as well as time, so a clock that never advances cannot spin forever.
  const maxAttempts = Math.ceil(deadlineMs / Math.max(intervalMs, 1)) + required + 1;
  const checks: HealthCheckRecord[] = [];
  let streak = 0;
  const cancelled = (): HealthStreakResult => ({
    ok: false,
    streak,
    attempts: checks.length,
    checks,
    reason: `the health checks were cancelled (${checks.filter((c) => c.ok).length} OK of ${checks.length}, ${required} consecutive needed), so nothing shows the service works`,
  });
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    if (options.signal?.aborted) return cancelled();
    let outcome: HealthCheckOutcome;
    try {
      outcome = await options.probe(timeoutMs, options.signal);
    } catch (error) {
      outcome = { ok: false, detail: `probe error: ${(error as Error).message}` };
    }
    // A check the cancel cut short is no check: it is not counted.
    if (!outcome.ok && options.signal?.aborted) return cancelled();
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
    await wait(intervalMs, options.signal);
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
  return async (timeoutMs, signal) => {
    // One controller for the timeout and the cancel (AbortSignal.any is unreliable on Node 20).
    const deadline = deadlineController(timeoutMs, signal);
    try {
      const response = await fetch(url, { signal: deadline.signal, redirect: 'manual' });
      await response.arrayBuffer().catch(() => undefined);
      if (deadline.signal.aborted && !(deadline.signal.reason instanceof DeadlineExceededError))
        return { ok: false, detail: 'cancelled' };
      return { ok: response.status >= 200 && response.status < 300, detail: `HTTP ${response.status}` };
    } catch (error) {
      const e = error as Error;
      const timedOut = deadline.signal.reason instanceof DeadlineExceededError;
      return {
        ok: false,
        detail: timedOut
          ? `timed out after ${timeoutMs} ms`
          : deadline.signal.aborted
            ? 'cancelled'
            : `request failed: ${(e.cause as Error | undefined)?.message ?? e.message}`,
      };
    } finally {
      deadline.dispose();
    }
  };
}
