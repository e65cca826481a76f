// Time-to-detect per gate, simulated rather than derived: a synthetic failure starts at every onset
// second of the window and runs through the loop's own schedule (nextCheck: polls, sentinels,
// suspicion polling, escalation marks) and the real evaluator (including the fast-burn rules), so
// the figures are what the monitor does — for every phase of the onset relative to the checks and
// the windows. Two failures per gate: the hard one (health down, 50 % failing, every request slow,
// queue over its limit) and the weakest one the gate can ever see (just above its limit).
import type { EnvironmentGates, Gate, MonitorPolicy } from './config.js';
import { checkSchedule, nextCheck, type ScheduleOptions } from './cadence.js';
import { evaluateGate, formatGateValue, looksUnhealthy, pruneReadings } from './evaluate.js';
import type { Reading } from './readings.js';

export interface FailureDetection {
  /** The failure simulated. */
  failure: string;
  /** Longest onset-to-confirmation time over every onset that is confirmed inside the window. */
  worstCaseMs: number | null;
  /** Shortest, for the spread. */
  bestCaseMs: number | null;
  /** The onset (virtual ms) that produced the worst case. */
  worstOnsetMs: number | null;
  /** The earliest onset that is not confirmed before the window closes (null: every onset is). */
  undetectedFromMs: number | null;
}

export interface GateDetection extends FailureDetection {
  gate: string;
  /** The weakest failure this gate can see, and how long that takes. */
  weak: FailureDetection;
  /** A failure this gate can never catch, however long it lasts. */
  blindSpot: string;
}

export interface DetectionOptions extends ScheduleOptions {
  /** Onset resolution of the hard failure (default 1000 ms: every onset second). */
  stepMs?: number;
  /** Onset resolution of the weak failure, which takes minutes to confirm (default 5000 ms). */
  weakStepMs?: number;
}

interface Fault {
  failure: string;
  /** The reading at `at` for a failure starting at `onset` (stateless in time). */
  reading(at: number, previousAt: number, onset: number): Reading;
}

/** Events (requests) at `rps` that happened in (0, t]. */
const eventsUpTo = (t: number, rps: number): number => Math.floor((t * rps) / 1000 + 1e-9);

/** Failing events in (0, t] when a share `rate` of the events after `onset` fail, spread evenly. */
function failingUpTo(t: number, onset: number, rate: number, rps: number): number {
  if (t <= onset) return 0;
  return Math.floor((eventsUpTo(t, rps) - eventsUpTo(onset, rps)) * rate + 1e-9);
}

function faultFor(gate: Gate, policy: MonitorPolicy, weak: boolean): Fault {
  const rps = policy.analysis.requestsPerSecond;
  switch (gate.kind) {
    case 'consecutive_failures':
      return {
        failure: 'health endpoint down',
        reading: (at, _prev, onset) => ({
          at,
          health: at >= onset ? { ok: false, detail: 'HTTP 503' } : { ok: true },
          metrics: {},
        }),
      };
    case 'ratio': {
      const rate = weak ? Math.min(1, gate.threshold * 1.2) : Math.max(0.5, Math.min(1, gate.threshold * 2));
      return {
        failure: `${formatGateValue(gate, rate)} of events failing`,
        reading: (at, _prev, onset) => ({
          at,
          metrics: {
            [gate.numerator]: { type: 'counter', value: failingUpTo(at, onset, rate, rps) },
            [gate.denominator]: { type: 'counter', value: eventsUpTo(at, rps) },
          },
        }),
      };
    }
    case 'percentile': {
      // Buckets with the limit as a bound make p(x) > limit exactly "more than (100-x) % slow".
      const share = weak ? Math.min(1, ((100 - gate.percentile) / 100) * 1.2) : 1;
      const bounds = [gate.threshold / 4, gate.threshold, gate.threshold * 10, Number.POSITIVE_INFINITY];
      return {
        failure: weak
          ? `${formatGateValue({ kind: 'ratio' }, share)} of requests slower than ${formatGateValue(gate, gate.threshold)}`
          : `every request slower than ${formatGateValue(gate, gate.threshold)}`,
        reading: (at, _prev, onset) => {
          const all = eventsUpTo(at, rps);
          const slow = failingUpTo(at, onset, share, rps);
          const fast = all - slow;
          return {
            at,
            metrics: {
              [gate.metric]: {
                type: 'histogram',
                buckets: bounds.map((le, i) => ({ le, count: i <= 1 ? fast : all })),
                count: all,
              },
            },
          };
        },
      };
    }
    case 'gauge':
      return {
        failure: weak
          ? `${gate.metric} just above ${formatGateValue(gate, gate.threshold)}`
          : `${gate.metric} jumps above ${formatGateValue(gate, gate.threshold)}`,
        reading: (at, _prev, onset) => ({
          at,
          metrics: {
            [gate.metric]: {
              type: 'gauge',
              value: at >= onset ? (weak ? gate.threshold + 1 : Math.max(1, gate.threshold * 10)) : 0,
            },
          },
        }),
      };
  }
}

function blindSpotOf(gate: Gate): string {
  switch (gate.kind) {
    case 'consecutive_failures':
      return `health that recovers at least once every ${gate.threshold + 1} checks (flapping) never trips it`;
    case 'ratio':
      return `a sustained failure rate at or below ${formatGateValue(gate, gate.threshold)} never trips it`;
    case 'percentile':
      return `if no more than ${100 - gate.percentile}% of requests are slow, p${gate.percentile} stays under the limit and never trips it`;
    case 'gauge':
      return `growth that stays at or below ${formatGateValue(gate, gate.threshold)} never trips it`;
  }
}

/** One onset through the loop's schedule; the confirmation time (elapsed ms) or undefined. */
function detectAt(
  gate: Gate,
  policy: MonitorPolicy,
  fault: Fault,
  onset: number,
  schedule: ReadonlyArray<{ at: number; kind: 'poll' | 'sentinel' }>,
  options: ScheduleOptions,
): number | undefined {
  const config = { gates: [gate], policy };
  // Before the onset nothing looks unhealthy, so the checks are the uneventful schedule; only the
  // readings a window can still use are rebuilt.
  const keep =
    Math.max(policy.cadence.fastBurnWindowMs, 'windowMs' in gate ? gate.windowMs : 0) +
    Math.max(policy.cadence.intervalMs, policy.cadence.initialIntervalMs);
  let readings: Reading[] = [];
  let index = 0;
  let lastPollAt = 0;
  let previous = 0;
  while (index < schedule.length && schedule[index]!.at < onset) {
    const check = schedule[index]!;
    if (check.at >= onset - keep - policy.cadence.intervalMs || index === 0)
      readings.push(fault.reading(check.at, previous, onset));
    if (check.kind === 'poll') lastPollAt = check.at;
    previous = check.at;
    index++;
  }
  readings = pruneReadings(config, readings);
  let next: { at: number; kind: 'poll' | 'sentinel' } | undefined = schedule[index];
  while (next) {
    // No pruning here: pruning never changes a verdict (it keeps every reading a window uses),
    // and a detection run is short.
    readings.push(fault.reading(next.at, previous, onset));
    const result = evaluateGate(gate, readings, policy);
    if (result.status === 'violated') return next.at;
    if (next.kind === 'poll') lastPollAt = next.at;
    previous = next.at;
    next = nextCheck(policy, next.at, lastPollAt, looksUnhealthy(result), options);
  }
  return undefined;
}

function analyseFailure(
  gate: Gate,
  policy: MonitorPolicy,
  fault: Fault,
  options: DetectionOptions,
  step: number,
): FailureDetection {
  const schedule = checkSchedule(policy, options);
  let worstCaseMs: number | null = null;
  let bestCaseMs: number | null = null;
  let worstOnsetMs: number | null = null;
  let undetectedFromMs: number | null = null;
  for (let onset = 0; onset < policy.windowMs; onset += step) {
    const detected = detectAt(gate, policy, fault, onset, schedule, options);
    if (detected === undefined) {
      if (undetectedFromMs === null) undetectedFromMs = onset;
      continue;
    }
    const latency = detected - onset;
    if (worstCaseMs === null || latency > worstCaseMs) {
      worstCaseMs = latency;
      worstOnsetMs = onset;
    }
    if (bestCaseMs === null || latency < bestCaseMs) bestCaseMs = latency;
  }
  return { failure: fault.failure, worstCaseMs, bestCaseMs, worstOnsetMs, undetectedFromMs };
}

/** Worst-case detection for one gate over every onset second of the window. */
export function analyseGateDetection(
  gate: Gate,
  policy: MonitorPolicy,
  options: DetectionOptions = {},
): GateDetection {
  const hard = analyseFailure(gate, policy, faultFor(gate, policy, false), options, options.stepMs ?? 1000);
  // Health and gauges see their weakest failure exactly like the hard one (one reading decides).
  const weak =
    gate.kind === 'ratio' || gate.kind === 'percentile'
      ? analyseFailure(gate, policy, faultFor(gate, policy, true), options, options.weakStepMs ?? 5000)
      : { ...hard, failure: faultFor(gate, policy, true).failure };
  return { gate: gate.name, ...hard, weak, blindSpot: blindSpotOf(gate) };
}

/** Worst-case detection for every gate of an environment. */
export function analyseDetection(
  config: Pick<EnvironmentGates, 'gates' | 'policy'>,
  options: DetectionOptions = {},
): GateDetection[] {
  return config.gates.map((gate) => analyseGateDetection(gate, config.policy, options));
}
