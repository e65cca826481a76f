// Worst-case time-to-detect per gate. Rather than closed-form formulas that drift from the engine,
// this replays a synthetic hard failure through the real cadence and the real evaluator, for every
// onset that can be worst (just after each poll), so the numbers are what the monitor would do.
import type { EnvironmentGates, Gate, MonitorPolicy } from './config.js';
import { nextPollAt } from './cadence.js';
import { evaluateGate, formatGateValue } from './evaluate.js';
import type { Reading } from './readings.js';

export interface GateDetection {
  gate: string;
  /** The hard failure simulated for this gate. */
  failure: string;
  /** Longest onset-to-violation time over every onset that is detected inside the window. */
  worstCaseMs: number | null;
  /** The onset that produced it: the failure starts just after this poll time. */
  worstOnsetMs: number | null;
  /** A failure starting just after this poll time (or later) is not confirmed before the window closes (null: all are). */
  undetectedFromMs: number | null;
  /** A failure this gate can never catch, however long it lasts. */
  blindSpot: string;
}

interface Fault {
  failure: string;
  blindSpot: string;
  /** The reading at `at`, given whether the failure is active and the previous poll time. */
  reading(at: number, previousAt: number, failing: (t: number) => boolean): Reading;
}

function faultFor(gate: Gate, policy: MonitorPolicy): Fault {
  const rps = policy.analysis.requestsPerSecond;
  // Events in (from, to] split into healthy and failing parts around the onset.
  const split = (
    from: number,
    to: number,
    failing: (t: number) => boolean,
  ): { good: number; bad: number } => {
    let bad = 0;
    let good = 0;
    const step = 1000 / rps;
    for (let t = from + step; t <= to + 1e-9; t += step) {
      if (failing(t)) bad++;
      else good++;
    }
    return { good, bad };
  };
  switch (gate.kind) {
    case 'consecutive_failures':
      return {
        failure: 'health endpoint down',
        blindSpot: `health that recovers at least once every ${gate.threshold + 1} checks (flapping) never trips it`,
        reading: (at, _prev, failing) => ({
          at,
          health: failing(at) ? { ok: false, detail: 'HTTP 503' } : { ok: true },
          metrics: {},
        }),
      };
    case 'ratio': {
      let bad = 0;
      let all = 0;
      return {
        failure: '100% of events failing',
        blindSpot: `a sustained failure rate at or below ${formatGateValue(gate, gate.threshold)} never trips it`,
        reading: (at, prev, failing) => {
          if (at === 0) bad = all = 0;
          const part = split(prev, at, failing);
          bad += part.bad;
          all += part.good + part.bad;
          return {
            at,
            metrics: {
              [gate.numerator]: { type: 'counter', value: bad },
              [gate.denominator]: { type: 'counter', value: all },
            },
          };
        },
      };
    }
    case 'percentile': {
      const fast = gate.threshold / 4;
      const slow = gate.threshold * 10;
      return {
        failure: `every request slower than ${formatGateValue(gate, slow)}`,
        blindSpot: `if no more than ${100 - gate.percentile}% of requests are slow, p${gate.percentile} stays under the limit and never trips it`,
        reading: (at, prev, failing) => {
          const part = split(prev, at, failing);
          return {
            at,
            metrics: {
              [gate.metric]: {
                type: 'samples',
                values: [...Array(part.good).fill(fast), ...Array(part.bad).fill(slow)],
              },
            },
          };
        },
      };
    }
    case 'gauge':
      return {
        failure: `${gate.metric} jumps above ${formatGateValue(gate, gate.threshold)}`,
        blindSpot: `growth that stays at or below ${formatGateValue(gate, gate.threshold)} never trips it`,
        reading: (at, _prev, failing) => ({
          at,
          metrics: {
            [gate.metric]: { type: 'gauge', value: failing(at) ? Math.max(1, gate.threshold * 10) : 0 },
          },
        }),
      };
  }
}

/** Simulates one onset; returns the detection time (elapsed ms) or undefined. */
function detectAt(
  gate: Gate,
  policy: MonitorPolicy,
  onsetMs: number,
  useSuspicion: boolean,
): number | undefined {
  const fault = faultFor(gate, policy);
  const failing = (t: number): boolean => t >= onsetMs;
  const readings: Reading[] = [];
  let previous = 0;
  for (let at: number | undefined = 0; at !== undefined;) {
    readings.push(fault.reading(at, previous, failing));
    const result = evaluateGate(gate, readings, policy);
    if (result.status === 'violated') return at;
    previous = at;
    at = nextPollAt(policy, at, useSuspicion && result.suspicious);
  }
  return undefined;
}

/** Worst-case detection for one gate over every onset in the window. */
export function analyseGateDetection(
  gate: Gate,
  policy: MonitorPolicy,
  options: { suspicion?: boolean } = {},
): GateDetection {
  const useSuspicion = options.suspicion ?? policy.cadence.suspicionIntervalMs > 0;
  const fault = faultFor(gate, policy);
  // Worst onsets are just after a poll of the uneventful schedule (and T+0 itself). The failure is
  // simulated 1 ms after the poll; latency is reported from the poll itself (the supremum as the
  // onset approaches it), so figures read as whole cadence steps.
  const polls: number[] = [];
  for (let t: number | undefined = 0; t !== undefined && t < policy.windowMs; t = nextPollAt(policy, t))
    polls.push(t);
  const onsets: Array<{ simulated: number; reported: number }> = [
    { simulated: 0, reported: 0 },
    ...polls.map((p) => ({ simulated: p + 1, reported: p })),
  ];
  let worstCaseMs: number | null = null;
  let worstOnsetMs: number | null = null;
  let undetectedFromMs: number | null = null;
  for (const onset of onsets) {
    if (onset.simulated >= policy.windowMs) continue;
    const detected = detectAt(gate, policy, onset.simulated, useSuspicion);
    if (detected === undefined) {
      if (undetectedFromMs === null) undetectedFromMs = onset.reported;
      continue;
    }
    if (worstCaseMs === null || detected - onset.reported > worstCaseMs) {
      worstCaseMs = detected - onset.reported;
      worstOnsetMs = onset.reported;
    }
  }
  return {
    gate: gate.name,
    failure: fault.failure,
    worstCaseMs,
    worstOnsetMs,
    undetectedFromMs,
    blindSpot: fault.blindSpot,
  };
}

/** Worst-case detection for every gate of an environment. */
export function analyseDetection(
  config: Pick<EnvironmentGates, 'gates' | 'policy'>,
  options: { suspicion?: boolean } = {},
): GateDetection[] {
  return config.gates.map((gate) => analyseGateDetection(gate, config.policy, options));
}
