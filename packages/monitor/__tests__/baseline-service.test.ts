// The acceptance of baseline gates on the real sample service (the demo's scenario without the
// demo's bundle): release 1.0.0 under live traffic, its baseline scraped from /metrics, then 1.1.0
// with the subtle-regression fault (hash time ×3, failures 0.2 % → 2 %). A baseline gate must
// trip while every fixed gate of the shipped production config says ok.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseGatesConfig } from '@guarded-rollout/gates';
import { recordBaseline, systemClock, watchDeployment } from '../src/index.js';
import { startDhash, type DhashDeployment } from './dhash-process.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const TIME_SCALE = 60;

describe('the subtle regression on the real sample service', () => {
  let service: DhashDeployment;
  beforeAll(async () => {
    // As in the demo, the fault starts a few virtual minutes after 1.1.0 starts (4 here, 2 in the
    // demo), so every fixed gate has data to judge by the time the baseline gate trips.
    service = await startDhash({ fault: 'subtle-regression', onsetSeconds: 4, workers: 4 });
  }, 30_000);
  afterAll(async () => {
    await service?.stop();
  });

  it('trips a baseline gate and rolls back while every fixed gate says ok', async () => {
    const shipped = JSON.parse(readFileSync(join(repo, 'quality-gates-config.json'), 'utf8'));
    delete shipped.$schema;
    const extra = JSON.parse(readFileSync(join(repo, 'examples/dhash-service/baseline-gates.json'), 'utf8'));
    shipped.defaults.gates = { ...shipped.defaults.gates, ...extra };
    const gates = parseGatesConfig(JSON.stringify(shipped), 'production', 'gates-with-baseline.json');
    // 10 virtual minutes of 1.0.0 (10 s real at 60×), scraped every 30 virtual seconds.
    const baseline = await recordBaseline({
      gates: gates.baselineGates!,
      metricsUrl: `${service.base}/metrics`,
      timeScale: TIME_SCALE,
      periodMs: 10 * 60_000,
      clock: systemClock,
    });
    service.deploy('1.1.0');
    let rolledBack = false;
    const { summary } = await watchDeployment({
      environment: 'production',
      configFile: 'unused',
      gates,
      baseline,
      healthUrl: `${service.base}/health`,
      metricsUrl: `${service.base}/metrics`,
      timeScale: TIME_SCALE,
      durationMs: 20 * 60_000,
      autoRollback: true,
      rollback: async () => {
        rolledBack = true;
        service.deploy('1.0.0');
        return { status: 'succeeded' as const, detail: 'redeployed 1.0.0' };
      },
      outDir: mkdtempSync(join(tmpdir(), 'monitor-subtle-')),
    });
    expect(`${summary.result}: ${summary.reason}`).toMatch(/^violated/);
    for (const v of summary.violations) expect(v.gate).toMatch(/_vs_baseline$/);
    const fixed = summary.gates.filter((g) => g.kind !== 'baseline');
    expect(fixed.map((g) => g.gate).sort()).toEqual(
      ['extraction_failure_rate', 'health', 'low_confidence_queue', 'p95_hash_time'].sort(),
    );
    for (const g of fixed) expect(`${g.gate} ${g.status} (${g.reason})`).toMatch(new RegExp(`^${g.gate} ok`));
    expect(rolledBack).toBe(true);
  }, 60_000);
});
