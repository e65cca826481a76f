// A real Prometheus (the Debian package's binary) on loopback scrapes the real sample service;
// the monitor reads it through the Prometheus HTTP API with PromQL and must reach the same
// decision as the exposition provider scraping the service directly. Skipped, with a message,
// only when no prometheus binary is installed.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadGatesConfig } from '@guarded-rollout/gates';
import {
  MonitorRecorder,
  createSampler,
  guardedMonitor,
  instantQuery,
  preflight,
  resolvePromQueries,
  systemClock,
  withWindow,
  type MonitorSummary,
} from '../src/index.js';
import { alive, startDhash, stop, waitFor, type DhashDeployment } from './dhash-process.js';
import { findPrometheus, startPrometheus } from './prometheus-process.js';

const prometheusBinary = findPrometheus('prometheus integration');
const describeWithPrometheus = prometheusBinary ? describe : describe.skip;

const configFile = fileURLToPath(new URL('../../../quality-gates-config.json', import.meta.url));
const TIME_SCALE = 120;

describeWithPrometheus('Prometheus provider against a real Prometheus', () => {
  let service: DhashDeployment;
  let prometheus: ChildProcess;
  let promUrl = '';

  beforeAll(async () => {
    service = await startDhash({ fault: 'failing-extractions', version: '1.1.0', workers: 3 });
    ({ process: prometheus, url: promUrl } = await startPrometheus(prometheusBinary!, service.port));
    // Enough scrapes for a 5 s range (the 10-minute window at 120×).
    await waitFor(
      async () => {
        const v = await instantQuery(promUrl, 'sum(increase(dhash_extractions_total[5s]))');
        return typeof v === 'number' && v > 20;
      },
      20_000,
      'Prometheus to hold 5 s of DHash samples',
    );
  }, 60_000);

  afterAll(async () => {
    await stop(prometheus);
    await service?.stop();
    expect(alive(prometheus?.pid)).toBe(false);
    for (const pid of service?.pids() ?? []) expect(alive(pid)).toBe(false);
  });

  async function watch(provider: 'exposition' | 'prometheus'): Promise<MonitorSummary> {
    const loaded = loadGatesConfig(configFile, 'production');
    const config = { ...loaded, policy: withWindow(loaded.policy, 4 * 60_000) };
    const sampler = createSampler({
      gates: config.gates,
      healthUrl: `${service.base}/health`,
      ...(provider === 'exposition' ? { metricsUrl: `${service.base}/metrics` } : { prometheusUrl: promUrl }),
      timeScale: TIME_SCALE,
    });
    const out = mkdtempSync(join(tmpdir(), `monitor-${provider}-`));
    const { summary } = await guardedMonitor({
      config,
      environment: 'production',
      provider,
      recorder: new MonitorRecorder(out, 'production', new Date()),
      sample: sampler.sample,
      clock: systemClock,
      timeScale: TIME_SCALE,
    });
    return summary;
  }

  it('both providers see the failing release violate extraction_failure_rate and nothing else', async () => {
    const [exposition, prometheusView] = await Promise.all([watch('exposition'), watch('prometheus')]);
    for (const s of [exposition, prometheusView]) {
      expect(s.result).toBe('violated');
      expect(s.violations.map((v) => v.gate)).toEqual(['extraction_failure_rate']);
      // The fault fails 40 % of extractions; small windows under load scatter around that.
      expect(s.violations[0]!.value!).toBeGreaterThan(0.05);
    }
  }, 30_000);

  it('pre-flight against Prometheus: the shipped mapping matches (histogram via _bucket); a wrong label value or name is named with what Prometheus has', async () => {
    const ok = await preflight({
      environment: 'production',
      configFile,
      healthUrl: `${service.base}/health`,
      prometheusUrl: promUrl,
      timeScale: TIME_SCALE,
    });
    expect(ok.problems).toEqual([]);
    expect(ok.lines.join('\n')).toMatch(
      /hash_duration_ms ← dhash_hash_duration_seconds_bucket matched \d+ series/,
    );
    const bad = await preflight({
      environment: 'production',
      configFile,
      healthUrl: `${service.base}/health`,
      prometheusUrl: promUrl,
      sources: {
        metrics: {
          extractions_failed: 'dhash_extractions_total{result="failure"}',
          low_confidence_queue_length: 'dhash_low_confidence_queue',
        },
      },
    });
    expect(bad.problems).toEqual([
      'gate extraction_failure_rate: extractions_failed ← dhash_extractions_total{result="failure"}: selector dhash_extractions_total{result="failure"} matched no series of dhash_extractions_total: result="failure" is not among its values ("failed", "invalid", "ok")',
      expect.stringMatching(
        /^gate low_confidence_queue: low_confidence_queue_length ← dhash_low_confidence_queue: selector dhash_low_confidence_queue matched no series: there is no metric dhash_low_confidence_queue; closest names: dhash_low_confidence_queue_length/,
      ),
    ]);
    // No `or vector(0)`: the derived ratio query over a selector that matches nothing is missing.
    const [ratio] = resolvePromQueries(
      loadGatesConfig(configFile, 'production').gates.filter((g) => g.kind === 'ratio'),
      { metrics: { extractions_failed: 'dhash_extractions_total{result="failure"}' } },
      { timeScale: TIME_SCALE },
    );
    expect(ratio!.query).not.toMatch(/vector\(0\)/);
    expect(await instantQuery(promUrl, ratio!.query)).toEqual({
      error: expect.stringMatching(/^query matched no series \(missing data, never zero\)/),
    });
  }, 30_000);

  it('after rolling back to 1.0.0 both providers pass the window', async () => {
    service.deploy('1.0.0');
    // Let the 5 s PromQL range move past the failures of the faulty release.
    await new Promise((r) => setTimeout(r, 6000));
    const [exposition, prometheusView] = await Promise.all([watch('exposition'), watch('prometheus')]);
    expect(exposition.result).toBe('passed');
    expect(prometheusView.result).toBe('passed');
    expect(prometheusView.gates.find((g) => g.gate === 'p95_hash_time')!.value!).toBeLessThan(2000);
  }, 30_000);
});
