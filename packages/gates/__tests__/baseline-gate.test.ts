import { describe, expect, it } from '@jest/globals';
import {
  baselineFromReadings,
  evaluateBaselineGates,
  parseBaselineSnapshot,
  parseGatesConfig,
  planBaselineGate,
  type BaselineGate,
  type Reading,
} from '../src/index.js';

const config = (gates: Record<string, unknown>, production: Record<string, unknown> = {}) =>
  JSON.stringify({
    defaults: {
      gates: {
        health: { kind: 'consecutive_failures', source: 'health', threshold: 2 },
        ...gates,
      },
    },
    environments: { production, staging: { gates: { failures_vs_baseline: { mode: 'warn' } } } },
  });

const ratioGate = {
  kind: 'baseline',
  compare: 'ratio',
  numerator: 'extractions_failed',
  denominator: 'extractions_total',
};
const latencyGate = { kind: 'baseline', compare: 'percentile', metric: 'hash_duration_ms', percentile: 95 };
const queueGate = { kind: 'baseline', compare: 'gauge', metric: 'low_confidence_queue_length' };

describe('the baseline gate kind in the config', () => {
  it('resolves defaults: margin 0.5, α 1 %, 15 minute baseline, enforce', () => {
    const env = parseGatesConfig(config({ failures_vs_baseline: ratioGate }), 'production');
    expect(env.gates.map((g) => g.name)).toEqual(['health']);
    expect(env.baselineGates).toEqual([
      expect.objectContaining({
        name: 'failures_vs_baseline',
        compare: 'ratio',
        margin: 0.5,
        alpha: 0.01,
        baselinePeriodMs: 15 * 60_000,
        mode: 'enforce',
      }),
    ]);
  });

  it('can be warn-only in one environment', () => {
    const env = parseGatesConfig(config({ failures_vs_baseline: ratioGate }), 'staging');
    expect(env.baselineGates?.[0]?.mode).toBe('warn');
  });

  it.each([
    [{ ...ratioGate, numerator: undefined }, /numerator/],
    [{ ...latencyGate, percentile: undefined }, /percentile/],
    [{ ...queueGate, compare: 'median' }, /compare/],
    [{ ...queueGate, alpha: 0 }, /alpha/],
    [{ ...queueGate, margin: -1 }, /margin/],
    [{ ...queueGate, mode: 'loud' }, /mode/],
    [{ ...queueGate, baseline_period: 'soon' }, /baseline_period/],
    [{ ...queueGate, threshold: 3 }, /threshold/],
  ])('rejects a bad baseline gate %j, naming the field', (gate, field) => {
    expect(() => parseGatesConfig(config({ bad: gate }), 'production')).toThrow(field);
  });
});

// Deterministic pseudo-random stream (mulberry32) so the tests do not flake.
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const BUCKETS = [5, 10, 25, 50, 100, 250, 500, 1000, 2000, Infinity];

/** Simulated polls of the sample service: `rps` requests a second, failure rate `fail`, hash time
 *  ~ `latencyMs` × (0.5..1.5) with a 5 % slow tail, queue ~ `queue` ± 3. */
function polls(
  count: number,
  opts: { fail: number; latencyMs: number; queue: number; seed: number; rps?: number; everyMs?: number },
): Reading[] {
  const random = rng(opts.seed);
  const everyMs = opts.everyMs ?? 30_000;
  const perPoll = Math.round(((opts.rps ?? 5) * everyMs) / 1000);
  let bad = 0;
  let total = 0;
  const cumulative = BUCKETS.map(() => 0);
  const out: Reading[] = [];
  for (let i = 0; i < count; i++) {
    for (let k = 0; k < perPoll; k++) {
      total++;
      if (random() < opts.fail) bad++;
      const ms = opts.latencyMs * (0.5 + random()) * (random() < 0.05 ? 4 : 1);
      BUCKETS.forEach((le, j) => {
        if (ms <= le) cumulative[j]!++;
      });
    }
    out.push({
      at: i * everyMs,
      metrics: {
        extractions_failed: { type: 'counter', value: bad },
        extractions_total: { type: 'counter', value: total },
        hash_duration_ms: {
          type: 'histogram',
          buckets: BUCKETS.map((le, j) => ({ le, count: cumulative[j]! })),
          count: total,
        },
        low_confidence_queue_length: { type: 'gauge', value: Math.max(0, opts.queue + (random() - 0.5) * 6) },
      },
    });
  }
  return out;
}

const env = parseGatesConfig(
  config({ failures_vs_baseline: ratioGate, p95_vs_baseline: latencyGate, queue_vs_baseline: queueGate }),
  'production',
);
const gates = env.baselineGates as BaselineGate[];
const healthy = { fail: 0.002, latencyMs: 40, queue: 10 };
const meta = { recordedAt: new Date('2026-01-01T00:00:00Z'), periodMs: 15 * 60_000, source: 'test' };
const baseline = baselineFromReadings(gates, polls(31, { ...healthy, seed: 1 }), meta);
const byGate = (results: ReturnType<typeof evaluateBaselineGates>) =>
  Object.fromEntries(results.map((r) => [r.gate, r]));

describe('baseline gates over a watch', () => {
  it('records what the 15 minutes before the deploy showed', () => {
    expect(baseline.gates.failures_vs_baseline).toMatchObject({ compare: 'ratio', total: 4500 });
    // 95 % of 40 ms × (0.5..1.5) (with a 5 % ×4 tail) lies at or below the 100 ms bucket.
    expect(baseline.gates.p95_vs_baseline).toMatchObject({ compare: 'percentile', bound: 100, total: 4500 });
    expect((baseline.gates.queue_vs_baseline as { values: number[] }).values).toHaveLength(31);
  });

  it('stays ok through a whole healthy hour polled every 30 s', () => {
    const results = byGate(evaluateBaselineGates(gates, baseline, polls(121, { ...healthy, seed: 2 })));
    for (const r of Object.values(results)) expect(r).toMatchObject({ status: 'ok' });
    expect(results.failures_vs_baseline!.evidence).toBeLessThan(200);
  });

  it('trips on the subtle regression (hash time ×3, failures 0.2 % → 2 %) that no fixed gate sees', () => {
    const watch = polls(20, { fail: 0.02, latencyMs: 120, queue: 10, seed: 3 });
    const results = byGate(evaluateBaselineGates(gates, baseline, watch));
    expect(results.failures_vs_baseline).toMatchObject({ status: 'violated' });
    expect(results.failures_vs_baseline!.reason).toMatch(
      /regression against the baseline: watch \d+\/\d+ = 1\.\d+%; baseline \d+\/4500/,
    );
    expect(results.p95_vs_baseline).toMatchObject({ status: 'violated' });
    expect(results.queue_vs_baseline).toMatchObject({ status: 'ok' });
  });

  it('trips on a queue that doubles and stays there', () => {
    const results = byGate(
      evaluateBaselineGates(gates, baseline, polls(30, { ...healthy, queue: 20, seed: 4 })),
    );
    expect(results.queue_vs_baseline).toMatchObject({ status: 'violated' });
  });

  it('in warn mode reports the regression without a violation', () => {
    const staging = parseGatesConfig(config({ failures_vs_baseline: ratioGate }), 'staging').baselineGates!;
    const [result] = evaluateBaselineGates(staging, baseline, polls(20, { ...healthy, fail: 0.05, seed: 5 }));
    expect(result).toMatchObject({
      status: 'ok',
      suspicious: true,
      warning: expect.stringMatching(/regression/),
    });
  });

  it('without a recorded baseline is insufficient data, never ok', () => {
    const [result] = evaluateBaselineGates(gates, undefined, polls(5, { ...healthy, seed: 6 }));
    expect(result).toMatchObject({
      status: 'insufficient-data',
      reason: expect.stringMatching(/no ratio baseline/),
    });
  });

  it('refuses a baseline period with too little traffic, naming the gate', () => {
    expect(() => baselineFromReadings(gates, polls(2, { ...healthy, seed: 7, rps: 0.1 }), meta)).toThrow(
      /baseline gate failures_vs_baseline: the 15m baseline period held 3 events; at least 100/,
    );
  });

  it.each([
    ['not an object', null, /must be a JSON object/],
    ['another version', { ...baseline, version: 2 }, /version 2 is not supported/],
    [
      'more failures than events',
      { ...baseline, gates: { x: { compare: 'ratio', bad: 5, total: 2 } } },
      /gates.x is not/,
    ],
  ])('rejects a malformed baseline file: %s', (_label, raw, message) => {
    expect(() => parseBaselineSnapshot(raw, 'baseline.json')).toThrow(message);
  });
});

describe('planning a baseline gate (gates check --traffic-rate)', () => {
  const plan = (gate: BaselineGate, rps: number) =>
    planBaselineGate(gate, env.policy, { requestsPerSecond: rps, baselineRate: 0.002 });

  it('shows the smallest detectable effect and the time to detect at a traffic rate', () => {
    const p = plan(gates[0]!, 5);
    expect(p.smallestFactor).toBeGreaterThan(1.5);
    expect(p.summary).toMatch(/^smallest detectable: 0\.2% → [\d.]+% \(×[\d.]+\) within 1h/);
    // More traffic detects smaller regressions, sooner.
    const busy = plan(gates[0]!, 50);
    expect(busy.smallestFactor!).toBeLessThan(p.smallestFactor!);
    const tenfold = (x: typeof p) => x.examples.find((e) => e.factor === 10)!.timeMs!;
    expect(tenfold(busy)).toBeLessThanOrEqual(tenfold(p));
  });

  it('says so when the traffic is too low to detect anything', () => {
    expect(plan(gates[0]!, 0.001).summary).toMatch(/cannot detect any regression within 1h/);
  });
});
