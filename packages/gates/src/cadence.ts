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

/** The next scheduled poll after one at `at`: the cadence, pulled forward to an escalation mark so
 *  escalations fire on time rather than at the next regular poll. */
export function nextScheduledPoll(
  policy: MonitorPolicy,
  at: number,
  suspicious: boolean,
): number | undefined {
  const regular = nextPollAt(policy, at, suspicious);
  if (regular === undefined) return undefined;
  const mark = policy.escalationsMs.filter((m) => m > at && m < regular).sort((a, b) => a - b)[0];
  return mark ?? regular;
}

export type CheckKind = 'poll' | 'sentinel';

export interface ScheduleOptions {
  /** Poll at the suspicion cadence while a gate looks unhealthy (default: on when configured). */
  suspicion?: boolean;
  /** Sentinel checks between polls (default: on when configured). */
  sentinels?: boolean;
}

/** The loop's own schedule, shared by the monitor loop and the detection analysis: after a check at
 *  `at` (the latest regular or suspicion poll at `lastPollAt`), the next check is the next
 *  scheduled poll, or a sentinel check one sentinel interval later when that comes first. While a
 *  gate looks unhealthy every check is a poll at the suspicion cadence. */
export function nextCheck(
  policy: MonitorPolicy,
  at: number,
  lastPollAt: number,
  suspicious: boolean,
  options: ScheduleOptions = {},
): { at: number; kind: CheckKind } | undefined {
  const suspicion = (options.suspicion ?? true) && policy.cadence.suspicionIntervalMs > 0;
  if (at >= policy.windowMs) {
    // Overtime: a failure still suspected at the end of the window is followed with suspicion
    // polls until it is confirmed or cleared, for at most one fast-burn window — a failure that
    // starts in the last minute is not passed unseen.
    const overtime = policy.cadence.fastBurnWindowMs;
    if (!suspicious || !suspicion || overtime <= 0 || at >= policy.windowMs + overtime) return undefined;
    return {
      at: Math.min(at + policy.cadence.suspicionIntervalMs, policy.windowMs + overtime),
      kind: 'poll',
    };
  }
  if (suspicious && suspicion) {
    const next = nextScheduledPoll(policy, at, true);
    return next === undefined ? undefined : { at: next, kind: 'poll' };
  }
  // A poll that was due while sentinels ran is taken now (never skipped).
  const scheduled = Math.max(nextScheduledPoll(policy, lastPollAt, false) ?? policy.windowMs, at);
  const sentinel = (options.sentinels ?? true) ? policy.cadence.sentinelIntervalMs : 0;
  if (sentinel > 0 && at + sentinel < scheduled) return { at: at + sentinel, kind: 'sentinel' };
  return { at: Math.min(scheduled, policy.windowMs), kind: 'poll' };
}

/** Every check (polls and sentinels) of an uneventful window, starting with the poll at T+0. */
export function checkSchedule(
  policy: MonitorPolicy,
  options: ScheduleOptions = {},
): Array<{ at: number; kind: CheckKind }> {
  const out: Array<{ at: number; kind: CheckKind }> = [{ at: 0, kind: 'poll' }];
  let lastPoll = 0;
  for (let c = nextCheck(policy, 0, 0, false, options); c;) {
    out.push(c);
    if (c.kind === 'poll') lastPoll = c.at;
    c = nextCheck(policy, c.at, lastPoll, false, options);
  }
  return out;
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

/** Human summary: "every 30s until 5m, then every 2m, for 1h (sentinel checks every 15s between
 *  polls; suspicion polling every 15s; fast burn over 1m)". */
export function describeCadence(policy: MonitorPolicy, format: (ms: number) => string): string {
  const c = policy.cadence;
  const extras = [
    ...(c.sentinelIntervalMs > 0
      ? [`sentinel checks every ${format(c.sentinelIntervalMs)} between polls`]
      : []),
    ...(c.suspicionIntervalMs > 0 ? [`suspicion polling every ${format(c.suspicionIntervalMs)}`] : []),
    ...(c.fastBurnWindowMs > 0 ? [`fast burn over ${format(c.fastBurnWindowMs)}`] : []),
  ];
  const suspicion = extras.length ? ` (${extras.join('; ')})` : '';
  return `every ${format(c.initialIntervalMs)} until ${format(c.initialPhaseMs)}, then every ${format(c.intervalMs)}, for ${format(policy.windowMs)}${suspicion}`;
}
