// Baseline gates end to end over loopback HTTP: a service exposing Prometheus text is scraped
// through the baseline period (recordBaseline), deployed with a subtle regression, watched, and the
// recorded log replayed. The clock is fake (sleeping advances it), the HTTP is real.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseGatesConfig } from '@guarded-rollout/gates';
import {
  FakeClock,
  loadBaselineFile,
  readMonitorLog,
  recordBaseline,
  replayLog,
  watchDeployment,
} from '../src/index.js';

const BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 2.5, 5, 10];

/** The sample service's metrics, advanced by 300 requests per scrape at the current behaviour. */
class FakeService {
  failureRate = 0.002;
  latencyFactor = 1;
  total = 0;
  failedCarry = 0;
  failed = 0;
  buckets = BOUNDS.map(() => 0);
  inf = 0;
  scrape(): string {
    for (let i = 0; i < 300; i++) {
      this.total++;
      this.failedCarry += this.failureRate;
      if (this.failedCarry >= 1) {
        this.failed++;
        this.failedCarry -= 1;
      }
      // Hash time spread evenly over 15–45 ms (× the factor).
      const seconds = ((15 + (30 * i) / 299) * this.latencyFactor) / 1000;
      BOUNDS.forEach((le, j) => {
        if (seconds <= le) this.buckets[j]!++;
      });
      this.inf++;
    }
    return [
      '# TYPE dhash_extractions_total counter',
      `dhash_extractions_total{result="ok"} ${this.total - this.failed}`,
      `dhash_extractions_total{result="failed"} ${this.failed}`,
      '# TYPE dhash_hash_duration_seconds histogram',
      ...BOUNDS.map((le, j) => `dhash_hash_duration_seconds_bucket{le="${le}"} ${this.buckets[j]}`),
      `dhash_hash_duration_seconds_bucket{le="+Inf"} ${this.inf}`,
      `dhash_hash_duration_seconds_sum 1`,
      `dhash_hash_duration_seconds_count ${this.inf}`,
      '# TYPE dhash_low_confidence_queue_length gauge',
      `dhash_low_confidence_queue_length ${3 + (this.total % 7)}`,
      '',
    ].join('\n');
  }
}

const config = JSON.stringify({
  defaults: {
    window: '60m',
    gates: {
      health: { kind: 'consecutive_failures', source: 'health', threshold: 2 },
      extraction_failure_rate: {
        kind: 'ratio',
        numerator: 'extractions_failed',
        denominator: 'extractions_total',
        window: '10m',
        threshold: 0.05,
      },
      p95_hash_time: {
        kind: 'percentile',
        metric: 'hash_duration_ms',
        percentile: 95,
        window: '15m',
        threshold: 2000,
      },
      failures_vs_baseline: {
        kind: 'baseline',
        compare: 'ratio',
        numerator: 'extractions_failed',
        denominator: 'extractions_total',
      },
      p95_vs_baseline: {
        kind: 'baseline',
        compare: 'percentile',
        metric: 'hash_duration_ms',
        percentile: 95,
      },
    },
  },
  environments: { production: {} },
});

let server: Server;
let base = '';
const service = new FakeService();
beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/health') return void res.end('{"status":"ok"}');
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(service.scrape());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('baseline gates in the monitor', () => {
  const gates = parseGatesConfig(config, 'production');

  it('records the baseline, rolls back on a subtle regression no fixed gate sees, and replays it', async () => {
    const clock = new FakeClock();
    const baseline = await recordBaseline({
      gates: gates.baselineGates!,
      metricsUrl: `${base}/metrics`,
      clock,
    });
    expect(baseline.periodMs).toBe(15 * 60_000);
    expect(baseline.gates.failures_vs_baseline).toMatchObject({ compare: 'ratio', total: 9000, bad: 18 });
    // 15–45 ms: the p95 lies in the (25, 50] ms bucket (bounds scaled from seconds to ms).
    expect(baseline.gates.p95_vs_baseline).toMatchObject({ compare: 'percentile', bound: 50, above: 0 });

    service.failureRate = 0.02;
    service.latencyFactor = 3;
    const outDir = mkdtempSync(join(tmpdir(), 'baseline-watch-'));
    const outcome = await watchDeployment({
      environment: 'production',
      configFile: 'unused',
      gates,
      baseline,
      healthUrl: `${base}/health`,
      metricsUrl: `${base}/metrics`,
      clock,
      outDir,
    });
    const summary = outcome.summary;
    expect(summary.result).toBe('violated');
    expect(summary.violations.map((v) => v.gate)).toContain('p95_vs_baseline');
    const byGate = Object.fromEntries(summary.gates.map((g) => [g.gate, g]));
    for (const fixed of ['health', 'extraction_failure_rate', 'p95_hash_time'])
      expect(byGate[fixed]!.status).toBe('ok');
    expect(byGate.p95_vs_baseline!.limit).toMatch(/worse than the 15m pre-deploy baseline by > 50%/);
    expect(byGate.p95_vs_baseline!.reason).toMatch(/regression against the baseline/);

    // `gates replay` re-runs baseline gates from the log (its header keeps the baseline).
    const replay = replayLog(readMonitorLog(summary.log));
    const replayed = Object.fromEntries(replay.gates.map((g) => [g.gate, g]));
    expect(replayed.p95_vs_baseline!.trippedMs).toBe(replayed.p95_vs_baseline!.recordedMs);
    expect(replayed.p95_vs_baseline!.trippedMs).not.toBeNull();
    expect(replayed.health!.trippedMs).toBeNull();
  });

  it('refuses to watch baseline gates without a recorded baseline', async () => {
    await expect(
      watchDeployment({
        environment: 'production',
        configFile: 'unused',
        gates,
        healthUrl: `${base}/health`,
        metricsUrl: `${base}/metrics`,
        clock: new FakeClock(),
        outDir: mkdtempSync(join(tmpdir(), 'baseline-watch-')),
      }),
    ).rejects.toThrow(
      /baseline gates failures_vs_baseline, p95_vs_baseline need a baseline recorded before the deploy/,
    );
  });

  it('a baseline source that fails is an error naming the metric, not an empty baseline', async () => {
    await expect(
      recordBaseline({
        gates: gates.baselineGates!,
        metricsUrl: 'http://127.0.0.1:9/metrics',
        clock: new FakeClock(),
        timeoutMs: 1000,
      }),
    ).rejects.toThrow(/baseline: extractions_failed could not be read: metrics scrape failed: /);
  });

  it('reads a baseline given inline (an action input) and names what is wrong with it', () => {
    expect(() => loadBaselineFile('{"version":2}')).toThrow(
      /input "baseline": version 2 is not supported; valid: 1/,
    );
    expect(() => loadBaselineFile('/nonexistent/baseline.json')).toThrow(/cannot read the baseline/);
  });
});
