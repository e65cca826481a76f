import { describe, expect, it } from '@jest/globals';
import {
  evaluateGate,
  evaluateGates,
  pruneReadings,
  type Gate,
  type MonitorPolicy,
  type Reading,
  DEFAULT_POLICY,
  parseGatesConfig,
} from '../src/index.js';
import { readFileSync } from 'node:fs';

const shipped = readFileSync(
  new URL('../../../action-templates/quality-gates-config.json', import.meta.url),
  'utf8',
);
const production = parseGatesConfig(shipped, 'production');
const gate = (name: string): Gate => production.gates.find((g) => g.name === name)!;
const policy: MonitorPolicy = production.policy;

const health = (pattern: string): Reading[] =>
  [...pattern].map((c, i) => ({
    at: i * 30_000,
    health:
      c === 'o'
        ? { ok: true }
        : c === 'e'
          ? { ok: false, detail: 'connect ECONNREFUSED', error: true }
          : { ok: false, detail: 'HTTP 503' },
    metrics: {},
  }));

describe('consecutive health failures (production: > 2 trips)', () => {
  it.each([
    ['ooo', 'ok', 0],
    ['oxx', 'ok', 2],
    ['oxxx', 'violated', 3],
    ['xxxo', 'ok', 0],
    ['xxoxx', 'ok', 2],
    ['xxxox', 'ok', 1],
    ['oxex', 'violated', 3],
  ])('health %s → %s (streak %d)', (pattern, status, streak) => {
    const result = evaluateGate(gate('health'), health(pattern), policy);
    expect(result.status).toBe(status);
    expect(result.value).toBe(streak);
  });

  it('trips when 3 consecutive health checks fail and says why', () => {
    const r = evaluateGate(gate('health'), health('oxxx'), policy);
    expect(r.reason).toContain('3 consecutive non-OK health checks (limit 2)');
    expect(r.reason).toContain('HTTP 503');
  });

  it('a success resets the streak', () => {
    expect(evaluateGate(gate('health'), health('xxox'), policy).value).toBe(1);
  });

  it('marks a single failure as suspicious but not violated', () => {
    const r = evaluateGate(gate('health'), health('ox'), policy);
    expect(r).toMatchObject({ status: 'ok', suspicious: true });
  });

  it('with fail_closed=false, source errors neither count nor reset', () => {
    const lenient = { ...policy, sourceErrors: { failClosed: false, maxConsecutive: 2 } };
    expect(evaluateGate(gate('health'), health('oxeex'), lenient).value).toBe(2);
  });

  it('has insufficient data before any health check', () => {
    expect(evaluateGate(gate('health'), [{ at: 0, metrics: {} }], policy).status).toBe('insufficient-data');
  });
});

/** Readings with cumulative counters: `pairs` are [failed, total] increments per 30 s poll. */
const counters = (pairs: Array<[number, number]>, start = 0): Reading[] => {
  let failed = 0;
  let total = 0;
  return [[0, 0] as [number, number], ...pairs].map(([f, t], i) => {
    failed += f;
    total += t;
    return {
      at: start + i * 30_000,
      metrics: {
        extractions_failed: { type: 'counter', value: failed },
        extractions_total: { type: 'counter', value: total },
      },
    };
  });
};

describe('extraction failure rate (production: > 5% over 10m)', () => {
  it.each([
    [[[5, 100]], 'ok', 0.05],
    [[[5, 99]], 'violated', 5 / 99],
    [[[501, 10_000]], 'violated', 0.0501],
    [[[500, 10_000]], 'ok', 0.05],
    [[[0, 5]], 'insufficient-data', 0],
  ] as Array<[Array<[number, number]>, string, number]>)('%j → %s', (pairs, status, value) => {
    const r = evaluateGate(gate('extraction_failure_rate'), counters(pairs), policy);
    expect(r.status).toBe(status);
    expect(r.value).toBeCloseTo(value, 10);
  });

  it('slides past old failures: a burst older than 10 minutes no longer counts', () => {
    const pairs: Array<[number, number]> = [
      [50, 100],
      ...Array.from({ length: 25 }, () => [0, 100] as [number, number]),
    ];
    const early = evaluateGate(gate('extraction_failure_rate'), counters(pairs.slice(0, 2)), policy);
    expect(early.status).toBe('violated');
    const late = evaluateGate(gate('extraction_failure_rate'), counters(pairs), policy);
    expect(late.status).toBe('ok');
    expect(late.value).toBe(0);
  });

  it('treats a counter drop as a restart (Prometheus increase semantics)', () => {
    const readings: Reading[] = [
      {
        at: 0,
        metrics: {
          extractions_failed: { type: 'counter', value: 10 },
          extractions_total: { type: 'counter', value: 1000 },
        },
      },
      {
        at: 30_000,
        metrics: {
          extractions_failed: { type: 'counter', value: 10 },
          extractions_total: { type: 'counter', value: 1100 },
        },
      },
      {
        at: 60_000,
        metrics: {
          extractions_failed: { type: 'counter', value: 8 },
          extractions_total: { type: 'counter', value: 40 },
        },
      },
    ];
    const r = evaluateGate(gate('extraction_failure_rate'), readings, policy);
    expect(r.value).toBeCloseTo(8 / 140);
    expect(r.status).toBe('violated');
  });

  it('never passes on missing data: one source error is insufficient data, three are a violation', () => {
    const base = counters([[0, 100]]);
    const err = (at: number): Reading => ({
      at,
      metrics: {
        extractions_failed: { type: 'error', error: 'connect ECONNREFUSED 127.0.0.1:9' },
        extractions_total: { type: 'error', error: 'connect ECONNREFUSED 127.0.0.1:9' },
      },
    });
    const one = evaluateGate(gate('extraction_failure_rate'), [...base, err(60_000)], policy);
    expect(one.status).toBe('insufficient-data');
    const two = evaluateGate(gate('extraction_failure_rate'), [...base, err(60_000), err(90_000)], policy);
    expect(two.status).toBe('insufficient-data');
    const three = evaluateGate(
      gate('extraction_failure_rate'),
      [...base, err(60_000), err(90_000), err(120_000)],
      policy,
    );
    expect(three.status).toBe('violated');
    expect(three.reason).toContain('metrics source failed 3 consecutive polls');
    expect(three.reason).toContain('ECONNREFUSED');
  });

  it('uses a value computed by the source (PromQL) directly', () => {
    const r = evaluateGate(
      gate('extraction_failure_rate'),
      [{ at: 0, metrics: { extraction_failure_rate: { type: 'windowed', value: 0.07, events: 500 } } }],
      policy,
    );
    expect(r).toMatchObject({ status: 'violated', value: 0.07 });
  });
});

describe('p95 hash time (production: > 2000 ms over 15m)', () => {
  const samples = (values: number[], at = 30_000): Reading[] => [
    { at: 0, metrics: { hash_duration_ms: { type: 'samples', values: [] } } },
    { at, metrics: { hash_duration_ms: { type: 'samples', values } } },
  ];
  it.each([
    ['95 fast + 5 at limit', 'ok', 100, [...Array(95).fill(100), ...Array(5).fill(2000)]],
    ['94 fast + 6 slow', 'violated', 5000, [...Array(94).fill(100), ...Array(6).fill(5000)]],
    ['all exactly 2000', 'ok', 2000, Array(100).fill(2000)],
    ['all 2001', 'violated', 2001, Array(100).fill(2001)],
    ['5 samples only', 'insufficient-data', 9000, Array(5).fill(9000)],
  ])('%s → %s', (_name, status, value, values) => {
    const r = evaluateGate(gate('p95_hash_time'), samples(values as number[]), policy);
    expect(r.status).toBe(status);
    expect(r.value).toBe(value);
  });

  it('drops samples older than the window', () => {
    const readings: Reading[] = [
      { at: 0, metrics: { hash_duration_ms: { type: 'samples', values: Array(100).fill(9000) } } },
      { at: 16 * 60_000, metrics: { hash_duration_ms: { type: 'samples', values: Array(100).fill(100) } } },
    ];
    expect(evaluateGate(gate('p95_hash_time'), readings, policy).value).toBe(100);
  });

  it('computes the window from histogram bucket deltas like histogram_quantile', () => {
    const h = (counts: number[]) => ({
      type: 'histogram' as const,
      buckets: [100, 500, 1000, 2000, 5000, Infinity].map((le, i) => ({ le, count: counts[i]! })),
      count: counts[5]!,
    });
    // Before: 1000 fast observations. Then 100 more, 10 of them between 2000 and 5000 ms.
    const readings: Reading[] = [
      { at: 0, metrics: { hash_duration_ms: h([1000, 1000, 1000, 1000, 1000, 1000]) } },
      { at: 30_000, metrics: { hash_duration_ms: h([1090, 1090, 1090, 1090, 1100, 1100]) } },
    ];
    const r = evaluateGate(gate('p95_hash_time'), readings, policy);
    // rank 95 of 100 falls in (2000, 5000]: 2000 + 3000 * (95-90)/10 = 3500
    expect(r.value).toBe(3500);
    expect(r.status).toBe('violated');
  });
});

describe('low-confidence queue (production: > 1000 items)', () => {
  const q = (value: number): Reading[] => [
    { at: 0, metrics: { low_confidence_queue_length: { type: 'gauge', value } } },
  ];
  it.each([
    [0, 'ok'],
    [1000, 'ok'],
    [1001, 'violated'],
  ])('queue %d → %s', (value, status) => {
    expect(evaluateGate(gate('low_confidence_queue'), q(value), policy).status).toBe(status);
  });
  it('reports the limit in its unit', () => {
    expect(evaluateGate(gate('low_confidence_queue'), q(1500), policy).reason).toBe(
      'low_confidence_queue_length = 1500 items (limit 1000 items)',
    );
  });
});

describe('evaluateGates and pruning', () => {
  it('evaluates every enabled gate', () => {
    expect(evaluateGates(production, health('o')).map((r) => r.gate)).toEqual([
      'health',
      'extraction_failure_rate',
      'p95_hash_time',
      'low_confidence_queue',
    ]);
  });

  it('keeps memory flat: a 60-minute run at 30 s keeps only the readings the windows need', () => {
    let readings: Reading[] = [];
    for (let i = 0; i <= 120; i++) {
      readings.push({
        at: i * 30_000,
        health: { ok: true },
        metrics: {
          extractions_failed: { type: 'counter', value: 0 },
          extractions_total: { type: 'counter', value: i * 100 },
        },
      });
      readings = pruneReadings(production, readings);
    }
    expect(readings.length).toBeLessThanOrEqual(15 * 2 + 6);
    expect(evaluateGate(gate('extraction_failure_rate'), readings, policy).status).toBe('ok');
  });

  it('DEFAULT_POLICY matches the seed cadence', () => {
    expect(DEFAULT_POLICY).toMatchObject({ windowMs: 3_600_000, escalationsMs: [900_000, 1_800_000] });
  });
});

describe('gates fed values computed by the source (PromQL)', () => {
  const down = (at: number): Reading => ({
    at,
    metrics: { p95_hash_time: { type: 'error', error: 'connect ECONNREFUSED 127.0.0.1:9090' } },
  });
  it('counts that source failing as fail-closed errors under the gate name', () => {
    const p95 = gate('p95_hash_time');
    expect(evaluateGate(p95, [down(0)], policy).status).toBe('insufficient-data');
    const three = evaluateGate(p95, [down(0), down(30_000), down(60_000)], policy);
    expect(three.status).toBe('violated');
    expect(three.reason).toContain('ECONNREFUSED 127.0.0.1:9090');
  });
  it.each([
    ['p95_hash_time', 2500, 'violated'],
    ['p95_hash_time', 2000, 'ok'],
    ['low_confidence_queue', 1001, 'violated'],
  ])('judges a windowed %s of %d as %s', (name, value, status) => {
    const r = evaluateGate(
      gate(name),
      [{ at: 0, metrics: { [name]: { type: 'windowed', value, events: 100 } } }],
      policy,
    );
    expect(r.status).toBe(status);
  });
});
