// When to poll: a fast initial phase, a slower steady cadence, and a fast "suspicion" cadence while
// a failure is seen but not yet confirmed. Pure functions of elapsed time.
import type { MonitorPolicy } from './config.js';

/** The next poll after one at `elapsedMs`, or undefined when the window is over. The last poll
 *  always lands exactly on the end of the window (the T+60 final report). */
export function nextPollAt(policy: MonitorPolicy, elapsedMs: number, suspicious = false): number | undefined {
  if (elapsedMs >= policy.windowMs) return undefined;
  const { initialIntervalMs, initialPhaseMs, intervalMs, suspicionIntervalMs } = policy.cadence;
  let step = elapsedMs < initialPhaseMs ? initialIntervalMs : intervalMs;
  if (suspicious && suspicionIntervalMs > 0) step = Math.min(step, suspicionIntervalMs);
  return Math.min(elapsedMs + step, policy.windowMs);
}

/** Every poll time of an uneventful window, starting with the baseline poll at T+0. */
export function pollSchedule(policy: MonitorPolicy): number[] {
  const times = [0];
  for (let t = nextPollAt(policy, 0); t !== undefined; t = nextPollAt(policy, t)) times.push(t);
  return times;
}

export type MilestoneKind = 'escalation' | 'final-report';

export interface Milestone {
  atMs: number;
  kind: MilestoneKind;
}

/** Escalation marks (default T+15, T+30) and the final report at the end of the window. */
export function milestones(policy: MonitorPolicy): Milestone[] {
  return [
    ...policy.escalationsMs.map((atMs) => ({ atMs, kind: 'escalation' as const })),
    { atMs: policy.windowMs, kind: 'final-report' as const },
  ].sort((a, b) => a.atMs - b.atMs);
}

/** Human summary: "30s until 5m, then every 2m, for 1h (suspicion polling every 15s)". */
export function describeCadence(policy: MonitorPolicy, format: (ms: number) => string): string {
  const c = policy.cadence;
  const suspicion =
    c.suspicionIntervalMs > 0 ? ` (suspicion polling every ${format(c.suspicionIntervalMs)})` : '';
  return `every ${format(c.initialIntervalMs)} until ${format(c.initialPhaseMs)}, then every ${format(c.intervalMs)}, for ${format(policy.windowMs)}${suspicion}`;
}
