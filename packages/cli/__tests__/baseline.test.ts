import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cli } from './run-cli.js';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));

/** The shipped config plus baseline gates, written to a temp dir. */
function configWithBaselineGates(extra: Record<string, unknown> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'baseline-cli-'));
  const config = JSON.parse(readFileSync(join(repoRoot, 'quality-gates-config.json'), 'utf8'));
  config.defaults.gates.failures_vs_baseline = {
    kind: 'baseline',
    compare: 'ratio',
    numerator: 'extractions_failed',
    denominator: 'extractions_total',
    ...extra,
  };
  config.defaults.gates.p95_vs_baseline = {
    kind: 'baseline',
    compare: 'percentile',
    metric: 'hash_duration_ms',
    percentile: 95,
  };
  delete config.$schema;
  writeFileSync(join(dir, 'gates.json'), JSON.stringify(config));
  return dir;
}

describe('guarded-rollout gates check --traffic-rate', () => {
  it('shows the smallest detectable effect and the time to detect for each baseline gate', async () => {
    const dir = configWithBaselineGates();
    const run = await cli(
      [
        'gates',
        'check',
        '--env',
        'production',
        '--config',
        'gates.json',
        '--traffic-rate',
        '20',
        '--baseline-rate',
        '0.002',
      ],
      { cwd: dir },
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    // The fixed gates' analysis is still there, unchanged by the baseline gates.
    expect(run.stdout).toMatch(
      /extraction_failure_rate\s+extractions_failed\/extractions_total > 5% over 10m/,
    );
    expect(run.stdout).toContain('Baseline gates at 20 requests/s');
    expect(run.stdout).toMatch(
      /- failures_vs_baseline: extractions_failed\/extractions_total worse than the 15m pre-deploy baseline by > 50% \(α = 0.01, sequential\)\n\s+smallest detectable: 0\.2% → [\d.]+% \(×[\d.]+\) within 1h; ×1\.5: [^,]+, ×2: [^,]+, ×3: [^,]+, ×5: ~[\dms]+, ×10: ~[\dms]+/,
    );
    expect(run.stdout).toMatch(/- p95_vs_baseline: .*\n\s+smallest detectable: 5% → [\d.]+%/);
  });

  it('refuses a traffic rate that is not a positive number', async () => {
    const run = await cli(
      ['gates', 'check', '--env', 'production', '--config', 'gates.json', '--traffic-rate', 'lots'],
      { cwd: configWithBaselineGates() },
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--traffic-rate: "lots" is not a number in \(0, ∞\]/);
  });
});

describe('guarded-rollout baseline', () => {
  it('records the baseline from a scraped exposition into a file monitor --baseline reads', async () => {
    let scrapes = 0;
    const server = createServer((_req, res) => {
      scrapes++;
      res.end(
        [
          '# TYPE dhash_extractions_total counter',
          `dhash_extractions_total{result="ok"} ${scrapes * 500}`,
          `dhash_extractions_total{result="failed"} ${scrapes}`,
          '# TYPE dhash_hash_duration_seconds histogram',
          `dhash_hash_duration_seconds_bucket{le="0.05"} ${scrapes * 480}`,
          `dhash_hash_duration_seconds_bucket{le="0.1"} ${scrapes * 500}`,
          `dhash_hash_duration_seconds_bucket{le="+Inf"} ${scrapes * 501}`,
          `dhash_hash_duration_seconds_count ${scrapes * 501}`,
          `dhash_hash_duration_seconds_sum 1`,
          '',
        ].join('\n'),
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const dir = configWithBaselineGates();
    try {
      // --period 1m with a 10 s interval at 600×: 7 scrapes in about 0.1 s. 480 of 501 hashes ≤ 50 ms
      // each scrape, so the baseline p95 lies in the 50 ms bucket and 21 per scrape are slower.
      const run = await cli(
        [
          'baseline',
          '--env',
          'production',
          '--config',
          'gates.json',
          '--metrics-url',
          `http://127.0.0.1:${port}/metrics`,
          '--period',
          '1m',
          '--interval',
          '10s',
          '--time-scale',
          '600',
          '--out',
          'baseline.json',
        ],
        { cwd: dir },
      );
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('baseline recorded (exposition http://127.0.0.1:');
      const file = JSON.parse(readFileSync(join(dir, 'baseline.json'), 'utf8'));
      expect(file.gates.failures_vs_baseline).toEqual({ compare: 'ratio', bad: 6, total: 3006 });
      expect(file.gates.p95_vs_baseline).toMatchObject({
        compare: 'percentile',
        bound: 50,
        above: 126,
        total: 3006,
      });
    } finally {
      server.close();
    }
  });

  it.each([
    [
      ['--metrics-url', 'http://127.0.0.1:1/metrics', '--prometheus-url', 'http://127.0.0.1:1'],
      /exactly one of --metrics-url or --prometheus-url/,
    ],
    [['--metrics-url', 'http://127.0.0.1:1/metrics', '--period', 'ages'], /--period/],
  ])('refuses bad flags %j', async (flags, message) => {
    const run = await cli(['baseline', '--env', 'production', '--config', 'gates.json', ...flags], {
      cwd: configWithBaselineGates(),
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
  });

  it('says there is nothing to record for an environment without baseline gates', async () => {
    const run = await cli(
      ['baseline', '--env', 'production', '--metrics-url', 'http://127.0.0.1:1/metrics'],
      {
        cwd: repoRoot,
      },
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/environment production has no gates of kind "baseline"; nothing to record/);
  });

  it('monitor --baseline names a malformed baseline file', async () => {
    const dir = configWithBaselineGates();
    writeFileSync(
      join(dir, 'baseline.json'),
      '{"version":1,"recordedAt":"2026-01-01T00:00:00Z","gates":{"x":{"compare":"ratio"}}}',
    );
    const run = await cli(
      [
        'monitor',
        '--env',
        'production',
        '--config',
        'gates.json',
        '--baseline',
        'baseline.json',
        '--health-url',
        'http://127.0.0.1:1/health',
        '--metrics-url',
        'http://127.0.0.1:1/metrics',
      ],
      { cwd: dir },
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/baseline\.json.*gates\.x is not a ratio \{bad,total\}/);
  });
});
