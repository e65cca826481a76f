// Providers against real HTTP servers on loopback: health semantics, exposition scraping and
// mapping, the JSON endpoint, Prometheus API answers, and fail-closed errors for each.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseGatesConfig } from '@guarded-rollout/gates';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  FakeClock,
  runMonitorLoop,
  checkHealth,
  createSampler,
  parseSelector,
  queryGates,
  readJsonEndpoint,
  resolvePromQueries,
  resolveSelectors,
  scrapeExposition,
} from '../src/index.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
const routes = new Map<string, Handler>();
let server: Server;
let base = '';
/** A loopback port nobody listens on. */
let deadPort = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    const handler = routes.get(new URL(req.url ?? '/', 'http://x').pathname);
    if (handler) return handler(req, res);
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  deadPort = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r));
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const json =
  (status: number, body: unknown): Handler =>
  (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
const brokenJson: Handler = (_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end('{');
};
const text =
  (status: number, body: string): Handler =>
  (_req, res) => {
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.end(body);
  };

const configText = readFileSync(
  fileURLToPath(new URL('../../../quality-gates-config.json', import.meta.url)),
  'utf8',
);
const production = parseGatesConfig(configText, 'production');
const metricGates = production.gates.filter((g) => g.kind !== 'consecutive_failures');

describe('health provider', () => {
  it.each([
    ['2xx with JSON status ok', json(200, { status: 'ok' }), true],
    ['2xx plain text', text(200, 'fine'), true],
    ['2xx with JSON status failing', json(200, { status: 'failing' }), false],
    ['503', json(503, { status: 'ok' }), false],
    ['2xx with broken JSON', brokenJson, false],
  ] as Array<[string, Handler, boolean]>)('%s', async (_name, handler, ok) => {
    routes.set('/h', handler);
    expect((await checkHealth(`${base}/h`, 2000)).ok).toBe(ok);
  });

  it('a timeout is a failed check marked as a source error', async () => {
    routes.set('/slow', (_req, res) => void setTimeout(() => res.end('late'), 1500));
    const r = await checkHealth(`${base}/slow`, 200);
    expect(r).toEqual({ ok: false, detail: 'timed out after 200ms', error: true });
  });

  it('connection refused is a failed check', async () => {
    const r = await checkHealth(`http://127.0.0.1:${deadPort}/health`, 1000);
    expect(r.ok).toBe(false);
    expect(r.detail).toMatch(/connection refused|ECONNREFUSED/);
  });
});

const EXPOSITION = `# HELP dhash_extractions_total x
# TYPE dhash_extractions_total counter
dhash_extractions_total{result="ok",pod="a"} 90
dhash_extractions_total{result="ok",pod="b"} 5
dhash_extractions_total{result="failed",pod="a"} 5
# TYPE dhash_hash_duration_seconds histogram
dhash_hash_duration_seconds_bucket{le="0.5",pod="a"} 10
dhash_hash_duration_seconds_bucket{le="2",pod="a"} 18
dhash_hash_duration_seconds_bucket{le="+Inf",pod="a"} 20
dhash_hash_duration_seconds_sum{pod="a"} 12.5
dhash_hash_duration_seconds_count{pod="a"} 20
dhash_hash_duration_seconds_bucket{pod="b",le="0.5"} 1
dhash_hash_duration_seconds_bucket{pod="b",le="2"} 1
dhash_hash_duration_seconds_bucket{pod="b",le="+Inf"} 1
dhash_hash_duration_seconds_sum{pod="b"} 0.1
dhash_hash_duration_seconds_count{pod="b"} 1
# TYPE dhash_low_confidence_queue_length gauge
dhash_low_confidence_queue_length 42
`;

describe('exposition provider', () => {
  it('sums counters over matching series, merges histograms by le in ms, reads gauges', async () => {
    routes.set('/metrics', text(200, EXPOSITION));
    const m = await scrapeExposition(`${base}/metrics`, resolveSelectors(metricGates));
    expect(m.extractions_total).toEqual({ type: 'counter', value: 100 });
    expect(m.extractions_failed).toEqual({ type: 'counter', value: 5 });
    expect(m.low_confidence_queue_length).toEqual({ type: 'gauge', value: 42 });
    expect(m.hash_duration_ms).toEqual({
      type: 'histogram',
      buckets: [
        { le: 500, count: 11 },
        { le: 2000, count: 19 },
        { le: Number.POSITIVE_INFINITY, count: 21 },
      ],
      count: 21,
      sum: 12600,
    });
  });

  it('a label matcher selects series', async () => {
    routes.set('/metrics', text(200, EXPOSITION));
    const selectors = new Map([['x', parseSelector('dhash_extractions_total{pod="b"}', 'x')]]);
    expect((await scrapeExposition(`${base}/metrics`, selectors)).x).toEqual({ type: 'counter', value: 5 });
  });

  it('a missing series, an HTTP error and an unreachable endpoint are error readings', async () => {
    routes.set('/metrics', text(200, '# TYPE other gauge\nother 1\n'));
    const missing = await scrapeExposition(`${base}/metrics`, resolveSelectors(metricGates));
    expect(missing.low_confidence_queue_length).toEqual({
      type: 'error',
      error:
        'selector dhash_low_confidence_queue_length matched no series: there is no metric dhash_low_confidence_queue_length; closest names: other',
    });
    routes.set('/metrics', text(500, 'boom'));
    expect(
      (await scrapeExposition(`${base}/metrics`, resolveSelectors(metricGates))).extractions_total,
    ).toEqual({ type: 'error', error: 'HTTP 500 from the metrics endpoint' });
    const down = await scrapeExposition(
      `http://127.0.0.1:${deadPort}/metrics`,
      resolveSelectors(metricGates),
      1000,
    );
    expect(down.extractions_total!.type).toBe('error');
  });

  it('a bad selector is a configuration error naming the field', () => {
    expect(() => parseSelector('dhash{result=failed}', 'metrics.extractions_failed')).toThrow(
      /metrics\.extractions_failed: "dhash\{result=failed\}" is not a series selector/,
    );
  });

  it('a metric with no mapping is refused up front', () => {
    const custom = parseGatesConfig(
      JSON.stringify({
        defaults: { gates: { q: { kind: 'gauge', metric: 'mystery_metric', threshold: 1 } } },
        environments: { x: {} },
      }),
      'x',
    );
    expect(() => resolveSelectors(custom.gates)).toThrow(
      /no exposition series is mapped for metric "mystery_metric"/,
    );
  });
});

describe('JSON endpoint provider', () => {
  it('reads one dotted path per metric', async () => {
    routes.set(
      '/stats',
      json(200, { extractions: { failed: 3, total: 40 }, hashing: { recent_ms: [10, 20] }, queue: 7 }),
    );
    const paths = new Map([
      ['extractions_failed', { path: 'extractions.failed', kind: 'counter' as const }],
      ['extractions_total', { path: 'extractions.total', kind: 'counter' as const }],
      ['hash_duration_ms', { path: 'hashing.recent_ms', kind: 'samples' as const }],
      ['low_confidence_queue_length', { path: 'queue', kind: 'gauge' as const }],
      ['absent', { path: 'nope.nothing', kind: 'gauge' as const }],
    ]);
    const m = await readJsonEndpoint(`${base}/stats`, paths);
    expect(m).toEqual({
      extractions_failed: { type: 'counter', value: 3 },
      extractions_total: { type: 'counter', value: 40 },
      hash_duration_ms: { type: 'samples', values: [10, 20] },
      low_confidence_queue_length: { type: 'gauge', value: 7 },
      absent: { type: 'error', error: 'nope.nothing: missing in the JSON document' },
    });
  });
});

describe('Prometheus API provider', () => {
  it('derives PromQL from the exposition mapping with ranges compressed by the time scale', () => {
    const q = resolvePromQueries(metricGates, {}, { timeScale: 60 });
    expect(q.find((x) => x.gate === 'extraction_failure_rate')).toEqual({
      gate: 'extraction_failure_rate',
      query:
        'sum(increase(dhash_extractions_total{result="failed"}[10s])) / sum(increase(dhash_extractions_total[10s]))',
      events: 'sum(increase(dhash_extractions_total[10s]))',
    });
    expect(q.find((x) => x.gate === 'p95_hash_time')!.query).toBe(
      'histogram_quantile(0.95, sum by (le) (increase(dhash_hash_duration_seconds_bucket[15s]))) * 1000',
    );
    expect(resolvePromQueries(metricGates).find((x) => x.gate === 'p95_hash_time')!.query).toContain(
      '[900s]',
    );
  });

  it("a gate's sources.promql wins, with $window substituted", () => {
    const custom = parseGatesConfig(
      JSON.stringify({
        defaults: {
          gates: {
            p95: {
              kind: 'percentile',
              metric: 'hash_duration_ms',
              percentile: 95,
              window: '15m',
              threshold: 2000,
              sources: { promql: 'my_p95[$window]' },
            },
          },
        },
        environments: { x: {} },
      }),
      'x',
    );
    expect(resolvePromQueries(custom.gates)).toEqual([
      { gate: 'p95', query: 'my_p95[900s]', events: undefined },
    ]);
  });

  it('turns answers into windowed readings; errors, empty results and unreachable servers into error readings', async () => {
    const answers: Record<string, unknown> = {
      ratio: {
        status: 'success',
        data: { resultType: 'vector', result: [{ metric: {}, value: [1, '0.25'] }] },
      },
      events: {
        status: 'success',
        data: { resultType: 'vector', result: [{ metric: {}, value: [1, '39.6'] }] },
      },
      nan: { status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [1, 'NaN'] }] } },
      empty: { status: 'success', data: { resultType: 'vector', result: [] } },
      bad: { status: 'error', errorType: 'bad_data', error: 'parse error at char 3' },
    };
    routes.set('/api/v1/query', (req, res) => {
      const query = new URL(req.url ?? '', 'http://x').searchParams.get('query') ?? '';
      json(query === 'bad' ? 400 : 200, answers[query])(req, res);
    });
    const r = await queryGates(base, [
      { gate: 'a', query: 'ratio', events: 'events' },
      { gate: 'b', query: 'nan', events: 'events' },
      { gate: 'c', query: 'empty' },
      { gate: 'd', query: 'bad' },
    ]);
    expect(r).toEqual({
      a: { type: 'windowed', value: 0.25, events: 40 },
      b: { type: 'windowed', value: 0, events: 0 },
      c: { type: 'error', error: 'query matched no series (missing data, never zero): empty' },
      d: { type: 'error', error: 'PromQL error: parse error at char 3' },
    });
    const down = await queryGates(`http://127.0.0.1:${deadPort}`, [{ gate: 'a', query: 'up' }], 1000);
    expect(down.a!.type).toBe('error');
  });
});

describe('sampler', () => {
  it('a Prometheus outage trips the metric gates after max_consecutive errors (fail closed)', async () => {
    routes.set('/h', json(200, { status: 'ok' }));
    const sampler = createSampler({
      gates: production.gates,
      healthUrl: `${base}/h`,
      prometheusUrl: `http://127.0.0.1:${deadPort}`,
    });
    const outcome = await runMonitorLoop({
      config: production,
      sample: sampler.sample,
      clock: new FakeClock(),
      suspicion: false,
    });
    expect(outcome.result).toBe('violated');
    expect(outcome.violations.map((v) => v.gate).sort()).toEqual([
      'extraction_failure_rate',
      'low_confidence_queue',
      'p95_hash_time',
    ]);
    // Checks at T+0, the T+15s sentinel and T+30s: three failures in a row.
    expect(outcome.violations[0]!.detectedMs).toBe(30_000);
    expect(outcome.violations[0]!.reason).toMatch(
      /metrics source failed 3 consecutive polls \(limit 2\): Prometheus query failed/,
    );
  });

  it('refuses two metrics sources, a missing one, a missing health URL and a non-HTTP URL', () => {
    const gates = production.gates;
    expect(() =>
      createSampler({ gates, healthUrl: `${base}/h`, metricsUrl: `${base}/m`, prometheusUrl: base }),
    ).toThrow(/give one metrics source, not 2/);
    expect(() => createSampler({ gates, healthUrl: `${base}/h` })).toThrow(
      /read metrics, but no metrics source was given/,
    );
    expect(() => createSampler({ gates, metricsUrl: `${base}/m` })).toThrow(
      /gate health checks health, but no health-url was given/,
    );
    expect(() => createSampler({ gates, healthUrl: 'ftp://x/health', metricsUrl: `${base}/m` })).toThrow(
      /health-url: "ftp:\/\/x\/health" must be an http/,
    );
    expect(() => createSampler({ gates, healthUrl: 'not a url', metricsUrl: `${base}/m` })).toThrow(
      /health-url: "not a url" is not a URL/,
    );
  });
});
