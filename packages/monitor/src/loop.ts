// The poll loop: when to poll (engine cadence, suspicion mode, milestones), what each poll found
// (engine verdicts), and when to stop (violation, end of window, deadline, cancellation). Pure
// scheduling: time, sleeping and sampling are injected, so a 60-minute window runs in
// milliseconds under a fake clock and a demo runs at 60× under the real one.
import { formatDuration } from '@guarded-rollout/config';
import {
  evaluateBaselineGates,
  evaluateGates,
  looksUnhealthy,
  milestones as policyMilestones,
  nextCheck,
  nextScheduledPoll,
  type CheckKind,
  pruneReadings,
  type BaselineSnapshot,
  type EnvironmentGates,
  type GateResult,
  type Milestone,
  type MonitorPolicy,
  type Reading,
} from '@guarded-rollout/gates';
import type { Clock } from './clock.js';
import type { Sampler } from './sampler.js';

/** Points kept per gate for charts (a chart shows at most 60). */
export const MAX_SERIES_POINTS = 240;

export type MonitorResult = 'passed' | 'violated' | 'cancelled' | 'error';

export interface PollRecord {
  /** Real wall-clock time of the poll (ISO-8601). */
  time: string;
  /** Virtual ms since the start of monitoring. */
  at: number;
  /** A scheduled (or suspicion) poll, or a sentinel check between polls. */
  kind: CheckKind;
  reading: Reading;
  results: GateResult[];
  /** Whether the next poll comes at the suspicion cadence. */
  suspicious: boolean;
  /** Violations confirmed at this poll. */
  violations: Violation[];
}

export interface Violation {
  gate: string;
  value: number | null;
  limit: number;
  /** Gate window in ms (null for health and gauges). */
  windowMs: number | null;
  unit: string;
  reason: string;
  /** Virtual ms when the gate first looked unhealthy in the run of polls that ended in the violation. */
  firstSeenMs: number;
  /** Virtual ms of the poll that confirmed the violation. */
  detectedMs: number;
  firstSeen: string;
  detected: string;
}

export interface GateTrack {
  gate: string;
  kind: GateResult['kind'];
  threshold: number;
  unit: string;
  windowMs: number | null;
  last: GateResult | null;
  worst: number | null;
  firstViolatedMs: number | null;
  /** (virtual ms, value) per poll, for charts; bounded by the window's poll count. */
  series: Array<[number, number | null]>;
}

export interface MilestoneEvent {
  milestone: Milestone;
  /** Gates not OK (violated, suspicious or without usable data) at that moment. */
  unhealthy: GateResult[];
}

export interface LoopOptions {
  config: Pick<EnvironmentGates, 'gates' | 'policy' | 'baselineGates'>;
  /** The pre-deploy baseline the config's baseline gates compare against. */
  baseline?: BaselineSnapshot;
  sample: Sampler;
  clock: Clock;
  /** Virtual ms per real ms (60: one virtual minute per real second). */
  timeScale?: number;
  /** Poll at the suspicion cadence while a failure is suspected (default: on when configured). */
  suspicion?: boolean;
  /** Sentinel checks (health + one scrape) between scheduled polls (default: on when configured). */
  sentinels?: boolean;
  /** Stop at the first violation (default true); false keeps watching to the end of the window. */
  stopOnViolation?: boolean;
  /** Real ms budget for the whole run (default: window / scale + 2 minutes). */
  deadlineMs?: number;
  signal?: AbortSignal;
  onPoll?: (poll: PollRecord) => void | Promise<void>;
  onMilestone?: (event: MilestoneEvent) => void | Promise<void>;
}

export interface LoopOutcome {
  result: MonitorResult;
  reason: string;
  startedAt: string;
  endedAt: string;
  /** Virtual ms covered. */
  elapsedMs: number;
  polls: number;
  /** Sentinel checks between polls. */
  sentinels: number;
  violations: Violation[];
  gates: GateTrack[];
  policy: MonitorPolicy;
  timeScale: number;
  suspicion: boolean;
}

export { looksUnhealthy };

/** The next poll: the engine's cadence, pulled forward to a milestone (escalations, final report)
 *  so those fire on time rather than at the next regular poll. */
export function nextPoll(policy: MonitorPolicy, at: number, suspicious: boolean): number | undefined {
  return nextScheduledPoll(policy, at, suspicious);
}

/** Copies the policy with a different window (the `duration` option); escalations past it drop. */
export function withWindow(policy: MonitorPolicy, windowMs: number | undefined): MonitorPolicy {
  if (windowMs === undefined || windowMs === policy.windowMs) return policy;
  return { ...policy, windowMs, escalationsMs: policy.escalationsMs.filter((e) => e < windowMs) };
}

export async function runMonitorLoop(options: LoopOptions): Promise<LoopOutcome> {
  const { config, clock, signal } = options;
  const policy = config.policy;
  const timeScale = options.timeScale ?? 1;
  const suspicion = (options.suspicion ?? true) && policy.cadence.suspicionIntervalMs > 0;
  const sentinelsOn = (options.sentinels ?? true) && policy.cadence.sentinelIntervalMs > 0;
  const stopOnViolation = options.stopOnViolation ?? true;
  const startReal = clock.now();
  const deadline = startReal + (options.deadlineMs ?? policy.windowMs / timeScale + 120_000);
  const virtualNow = (): number => (clock.now() - startReal) * timeScale;
  const isoAt = (virtualMs: number): string => new Date(startReal + virtualMs / timeScale).toISOString();

  const tracks: GateTrack[] = config.gates.map((g) => ({
    gate: g.name,
    kind: g.kind,
    threshold: g.threshold,
    unit: 'unit' in g ? g.unit : '',
    windowMs: 'windowMs' in g ? g.windowMs : null,
    last: null,
    worst: null,
    firstViolatedMs: null,
    series: [],
  }));
  const baselineGates = config.baselineGates ?? [];
  for (const g of baselineGates)
    tracks.push({
      gate: g.name,
      kind: 'baseline',
      threshold: Number.NaN,
      unit: g.compare === 'gauge' ? g.unit : '%',
      windowMs: null,
      last: null,
      worst: null,
      firstViolatedMs: null,
      series: [],
    });
  // Baseline gates test everything since the deploy: their readings are never pruned (one per
  // poll, bounded by the window's poll count).
  const watched: Reading[] = [];
  const unhealthySince = new Map<string, number>();
  const pending = policyMilestones(policy).filter((m) => m.kind === 'escalation');
  const violations: Violation[] = [];
  let readings: Reading[] = [];
  let polls = 0;
  let sentinels = 0;
  let at = 0;
  let kind: CheckKind = 'poll';
  let lastAt = 0;
  let lastPollAt = 0;

  const finish = (result: MonitorResult, reason: string): LoopOutcome => ({
    result,
    reason,
    startedAt: new Date(startReal).toISOString(),
    endedAt: new Date(clock.now()).toISOString(),
    elapsedMs: lastAt,
    polls,
    sentinels,
    violations,
    gates: tracks,
    policy,
    timeScale,
    suspicion,
  });

  for (let guard = 0; guard < 100_000; guard++) {
    // Sleep until the scheduled virtual time (no-op when sampling already ran late).
    const wait = (at - virtualNow()) / timeScale;
    if (clock.now() + Math.max(0, wait) > deadline) {
      return finish(
        'error',
        `deadline reached after ${formatDuration(lastAt)} of the ${formatDuration(policy.windowMs)} window; monitoring stopped before the window closed`,
      );
    }
    if (wait > 0) await clock.sleep(wait, signal);
    if (signal?.aborted)
      return finish('cancelled', `cancelled after ${formatDuration(lastAt)} of monitoring`);

    const measured = virtualNow();
    // Late sampling moves a check to when it ran, never past the window (or its overtime check).
    const pollAt = Math.max(at, Math.min(measured, Math.max(at, policy.windowMs)));
    const reading = await options.sample(pollAt);
    reading.at = pollAt;
    readings.push(reading);
    readings = pruneReadings(config, readings);
    if (baselineGates.length) watched.push(reading);
    const results: GateResult[] = [
      ...evaluateGates(config, readings),
      ...evaluateBaselineGates(baselineGates, options.baseline, watched),
    ];
    if (kind === 'poll') {
      polls++;
      lastPollAt = pollAt;
    } else sentinels++;
    lastAt = pollAt;

    let suspicious = false;
    /** Unhealthy but not yet confirmed: what keeps an overtime check going after T+60. */
    let unconfirmed = false;
    const confirmed: Violation[] = [];
    for (const [i, r] of results.entries()) {
      const track = tracks[i]!;
      track.last = r;
      if (r.kind === 'baseline') track.threshold = r.threshold;
      track.series.push([pollAt, r.value]);
      // Charts need a shape, not every poll: halve the resolution when the series grows, so a
      // long window at a fast cadence keeps memory flat. The worst value is tracked separately.
      if (track.series.length > MAX_SERIES_POINTS)
        track.series = track.series.filter((_, k, all) => k % 2 === 0 || k === all.length - 1);
      if (r.value !== null && (track.worst === null || r.value > track.worst)) track.worst = r.value;
      if (looksUnhealthy(r)) {
        suspicious = true;
        if (r.status !== 'violated' && track.firstViolatedMs === null) unconfirmed = true;
        if (!unhealthySince.has(r.gate)) unhealthySince.set(r.gate, pollAt);
      } else if (r.status === 'ok') {
        unhealthySince.delete(r.gate);
      }
      if (r.status === 'violated' && track.firstViolatedMs === null) {
        track.firstViolatedMs = pollAt;
        const firstSeenMs = unhealthySince.get(r.gate) ?? pollAt;
        confirmed.push({
          gate: r.gate,
          value: r.value,
          limit: r.threshold,
          windowMs: r.windowMs,
          unit: r.unit,
          reason: r.reason,
          firstSeenMs,
          detectedMs: pollAt,
          firstSeen: isoAt(firstSeenMs),
          detected: isoAt(pollAt),
        });
      }
    }
    violations.push(...confirmed);
    await options.onPoll?.({
      time: new Date(clock.now()).toISOString(),
      at: pollAt,
      kind,
      reading,
      results,
      suspicious: suspicion && suspicious,
      violations: confirmed,
    });

    while (pending.length && pending[0]!.atMs <= pollAt) {
      const milestone = pending.shift()!;
      const unhealthy = results.filter((r) => r.status !== 'ok' || r.suspicious);
      if (unhealthy.length) await options.onMilestone?.({ milestone, unhealthy });
    }

    if (violations.length && stopOnViolation) {
      return finish(
        'violated',
        `${violations.map((v) => v.gate).join(', ')} violated at T+${formatDuration(pollAt)}`,
      );
    }
    const next = nextCheck(
      policy,
      pollAt,
      lastPollAt,
      suspicion && (pollAt >= policy.windowMs ? unconfirmed : suspicious),
      {
        suspicion,
        sentinels: sentinelsOn,
      },
    );
    if (next === undefined) {
      await options.onMilestone?.({
        milestone: { atMs: policy.windowMs, kind: 'final-report' },
        unhealthy: results.filter((r) => r.status !== 'ok'),
      });
      if (violations.length) {
        return finish(
          'violated',
          `${violations.map((v) => v.gate).join(', ')} violated during the ${formatDuration(policy.windowMs)} window`,
        );
      }
      // Missing data never passes a gate: a gate still without a verdict at the end is an error.
      const undecided = results.filter((r) => r.status !== 'ok');
      if (undecided.length) {
        return finish(
          'error',
          `no verdict at the end of the window for ${undecided.map((r) => `${r.gate} (${r.reason})`).join('; ')}`,
        );
      }
      return finish(
        'passed',
        `every gate held for the ${formatDuration(policy.windowMs)} window (${polls} polls${sentinels ? `, ${sentinels} sentinel checks` : ''})`,
      );
    }
    at = next.at;
    kind = next.kind;
  }
  return finish('error', 'poll limit reached');
}
