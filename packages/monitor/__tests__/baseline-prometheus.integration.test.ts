// The baseline from a real Prometheus (Debian's binary) scraping the real sample service: one range
// query over the period before the deploy, then a watch through the Prometheus API that catches the
// subtle regression on a baseline gate while no fixed gate trips. Skipped, with a message, only when
// no prometheus binary is installed (CI installs it and fails instead of skipping).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseGatesConfig } from '@guarded-rollout/gates';
import { instantQuery, recordBaseline, watchDeployment } from '../src/index.js';
import { alive, startDhash, stop, waitFor, type DhashDeployment } from './dhash-process.js';
import { findPrometheus, startPrometheus } from './prometheus-process.js';

const prometheusBinary = findPrometheus('baseline Prometheus integration');
const describeWithPrometheus = prometheusBinary ? describe : describe.skip;

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const TIME_SCALE = 60;

function gatesWithBaseline() {
  const shipped = JSON.parse(readFileSync(join(repo, 'quality-gates-config.json'), 'utf8'));
  delete shipped.$schema;
  const extra = JSON.parse(readFileSync(join(repo, 'examples/dhash-service/baseline-gates.json'), 'utf8'));
  shipped.defaults.gates = { ...shipped.defaults.gates, ...extra };
  return parseGatesConfig(JSON.stringify(shipped), 'production', 'gates-with-baseline.json');
}

describeWithPrometheus('baseline gates through a real Prometheus', () => {
  let service: DhashDeployment;
  let prometheus: ChildProcess;
  let promUrl = '';

  beforeAll(async () => {
    service = await startDhash({ fault: 'subtle-regression', workers: 3 });
    ({ process: prometheus, url: promUrl } = await startPrometheus(prometheusBinary!, service.port));
    // The baseline period below is 10 virtual minutes = 10 s at 60×: wait until Prometheus holds it.
    await waitFor(
      async () => {
        const v = await instantQuery(promUrl, 'count_over_time(dhash_extractions_total{result="ok"}[11s])');
        return typeof v === 'number' && v >= 10;
      },
      40_000,
      'Prometheus to hold 10 s of DHash samples',
    );
  }, 70_000);

  afterAll(async () => {
    await stop(prometheus);
    await service?.stop();
    expect(alive(prometheus?.pid)).toBe(false);
  });

  it('records the baseline with one range query, then catches the subtle regression on a baseline gate', async () => {
    const gates = gatesWithBaseline();
    const baseline = await recordBaseline({
      gates: gates.baselineGates!,
      prometheusUrl: promUrl,
      timeScale: TIME_SCALE,
      periodMs: 10 * 60_000,
    });
    expect(baseline.source).toBe(`prometheus ${promUrl}`);
    const failures = baseline.gates.failures_vs_baseline as { compare: 'ratio'; bad: number; total: number };
    expect(failures.total).toBeGreaterThan(100);
    const latency = baseline.gates.hash_time_vs_baseline as { bound: number; above: number; total: number };
    // ~30 ms of work per image: the p95 bucket bound (seconds × 1000) is a finite bucket in ms.
    expect([25, 50, 100, 250]).toContain(latency.bound);
    expect(latency.above / latency.total).toBeLessThanOrEqual(0.06);
    expect((baseline.gates.queue_vs_baseline as { values: number[] }).values.length).toBeGreaterThanOrEqual(
      10,
    );

    service.deploy('1.1.0');
    const { summary } = await watchDeployment({
      environment: 'production',
      configFile: 'unused',
      gates: gates,
      baseline,
      healthUrl: `${service.base}/health`,
      prometheusUrl: promUrl,
      timeScale: TIME_SCALE,
      durationMs: 20 * 60_000,
      outDir: mkdtempSync(join(tmpdir(), 'monitor-baseline-prom-')),
    });
    expect(`${summary.result}: ${summary.reason}`).toMatch(/^violated/);
    expect(summary.violations.length).toBeGreaterThan(0);
    for (const v of summary.violations) expect(v.gate).toMatch(/_vs_baseline$/);
  }, 60_000);
});
