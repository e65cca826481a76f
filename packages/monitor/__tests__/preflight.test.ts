// Missing is never zero, and the pre-flight: a selector that matches no series is an error reading
// naming the selector and what the endpoint has instead; a mismatch found before the watch is exit
// 2; a series that vanishes mid-run trips the gate fail closed; garbage is named as garbage.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createBackup } from '@guarded-rollout/archive';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@guarded-rollout/config';
import { loadGatesConfig } from '@guarded-rollout/gates';
import {
  FakeClock,
  PreflightError,
  chooseRollback,
  createSampler,
  preflight,
  prepareWatch,
  requestTimeoutFor,
  runMonitorLoop,
  scrapeExposition,
  resolveSelectors,
  watchDeployment,
} from '../src/index.js';
import { cli } from '../../cli/__tests__/run-cli.js';

const configFile = fileURLToPath(new URL('../../../quality-gates-config.json', import.meta.url));
const production = loadGatesConfig(configFile, 'production');

/** A service on loopback whose exposition the test rewrites: `failLabel` is the label value its
 *  failure counter uses, `body` overrides everything. */
const state: { failLabel: string; failures: boolean; drop: boolean; body?: string; scrapes: number } = {
  failLabel: 'failed',
  failures: false,
  drop: false,
  scrapes: 0,
};
let server: Server;
let base = '';
let deadPort = 0;

function exposition(): string {
  const n = ++state.scrapes * 30;
  const bad = state.failures ? n : 0;
  const failLine = state.drop ? '' : `dhash_extractions_total{result="${state.failLabel}"} ${bad}\n`;
  return (
    `# TYPE dhash_extractions_total counter\ndhash_extractions_total{result="ok"} ${n}\n${failLine}` +
    `dhash_extractions_total{result="invalid"} 0\n` +
    `# TYPE dhash_hash_duration_seconds histogram\ndhash_hash_duration_seconds_bucket{le="0.1"} ${n}\n` +
    `dhash_hash_duration_seconds_bucket{le="+Inf"} ${n}\ndhash_hash_duration_seconds_sum 1\ndhash_hash_duration_seconds_count ${n}\n` +
    `# TYPE dhash_low_confidence_queue_length gauge\ndhash_low_confidence_queue_length 3\n`
  );
}

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end('{"status":"ok"}');
    }
    res.writeHead(200, { 'content-type': state.body?.startsWith('<') ? 'text/html' : 'text/plain' });
    res.end(state.body ?? exposition());
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
const reset = (patch: Partial<typeof state> = {}): void => {
  Object.assign(state, { failLabel: 'failed', failures: false, drop: false, body: undefined }, patch);
};

describe('missing is never zero', () => {
  it('a labelled selector that matches no series is an error naming the label values the endpoint has', async () => {
    reset({ failLabel: 'failure' });
    const m = await scrapeExposition(`${base}/metrics`, resolveSelectors(production.gates));
    expect(m.extractions_failed).toEqual({
      type: 'error',
      error:
        'selector dhash_extractions_total{result="failed"} matched no series of dhash_extractions_total: ' +
        'result="failed" is not among its values ("failure", "invalid", "ok")',
    });
    expect(m.extractions_total!.type).toBe('counter');
  });

  it('a wrong metric name lists the closest names', async () => {
    reset();
    const sampler = createSampler({
      gates: production.gates,
      metricsUrl: `${base}/metrics`,
      healthUrl: `${base}/health`,
      sources: { metrics: { low_confidence_queue_length: 'dhash_low_confidence_queue_len' } },
    });
    const r = await sampler.sample(0);
    expect(r.metrics.low_confidence_queue_length).toEqual({
      type: 'error',
      error:
        'selector dhash_low_confidence_queue_len matched no series: there is no metric dhash_low_confidence_queue_len; ' +
        'closest names: dhash_low_confidence_queue_length, dhash_extractions_total, dhash_hash_duration_seconds',
    });
  });

  it('garbage is named as garbage, not as "series not found"', async () => {
    reset({ body: '<html><body>502 Bad Gateway</body></html>' });
    const m = await scrapeExposition(`${base}/metrics`, resolveSelectors(production.gates));
    expect(m.extractions_total).toEqual({
      type: 'error',
      error:
        'the metrics endpoint did not answer a Prometheus text exposition (content-type text/html): line 1 is "<html><body>502 Bad Gateway</body></html>"',
    });
    reset({ body: '' });
    expect(
      (await scrapeExposition(`${base}/metrics`, resolveSelectors(production.gates))).extractions_total,
    ).toEqual({
      type: 'error',
      error: 'the metrics endpoint answered an exposition without a single sample (content-type text/plain)',
    });
  });

  it('100 % failures under a mismatched label never pass: the failure series vanishing mid-run trips the gate fail closed', async () => {
    reset();
    const clock = new FakeClock();
    const sampler = createSampler({
      gates: production.gates,
      metricsUrl: `${base}/metrics`,
      healthUrl: `${base}/health`,
    });
    const outcome = await runMonitorLoop({
      config: production,
      clock,
      sample: async (at) => {
        // From T+10m the release relabels its failures ("failure"), and every extraction fails.
        if (at >= 10 * 60_000) Object.assign(state, { failLabel: 'failure', failures: true });
        return sampler.sample(at);
      },
    });
    expect(outcome.result).toBe('violated');
    const v = outcome.violations.find((x) => x.gate === 'extraction_failure_rate')!;
    expect(v.reason).toMatch(
      /metrics source failed 3 consecutive polls \(limit 2\): selector dhash_extractions_total\{result="failed"\} matched no series .*"failure"/,
    );
    // Confirmed 30 s after the first missing reading (suspicion polling every 15 s).
    expect(v.detectedMs - v.firstSeenMs).toBeLessThanOrEqual(30_000);
  });
});

describe('pre-flight', () => {
  const common = { environment: 'production', configFile };

  it('passes when every selector matches and names what it checked', async () => {
    reset();
    const r = await preflight({ ...common, healthUrl: `${base}/health`, metricsUrl: `${base}/metrics` });
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.lines).toContain(
      'pre-flight: gate extraction_failure_rate: extractions_failed ← dhash_extractions_total{result="failed"} matched (counter)',
    );
  });

  it('a label mismatch, a wrong name and auto-rollback without a target are problems (exit 2)', async () => {
    reset({ failLabel: 'failure' });
    const r = await preflight({
      ...common,
      healthUrl: `${base}/health`,
      metricsUrl: `${base}/metrics`,
      sources: { metrics: { hash_duration_ms: 'dhash_hash_duration_secs * 1000' } },
      autoRollback: true,
    });
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual([
      '--auto-rollback is on but no rollback target is configured: give a target directory (--target / input "target", with a backup) or a rollback command (--rollback-command / input "rollback-command")',
      'gate extraction_failure_rate: extractions_failed ← dhash_extractions_total{result="failed"}: selector dhash_extractions_total{result="failed"} matched no series of dhash_extractions_total: result="failed" is not among its values ("failure", "invalid", "ok")',
      expect.stringMatching(
        /^gate p95_hash_time: hash_duration_ms ← dhash_hash_duration_secs: .*closest names: dhash_hash_duration_seconds,/,
      ),
    ]);
  });

  it('an unreachable source is a problem for --check and only a warning right after a deploy', async () => {
    const down = {
      ...common,
      healthUrl: `http://127.0.0.1:${deadPort}/health`,
      metricsUrl: `http://127.0.0.1:${deadPort}/metrics`,
    };
    const strict = await preflight(down);
    expect(strict.ok).toBe(false);
    expect(strict.problems.join('\n')).toMatch(
      /health-url .*connection refused[\s\S]*metrics-url .*metrics scrape failed: connection refused/,
    );
    const lenient = await preflight({ ...down, requireReachable: false });
    expect(lenient.ok).toBe(true);
    expect(lenient.warnings).toHaveLength(2);
  });

  it('the watch runs the pre-flight first: a mismatch is a configuration error, never a rollback', async () => {
    reset({ failLabel: 'failure' });
    let rolledBack = false;
    const watch = watchDeployment({
      ...common,
      healthUrl: `${base}/health`,
      metricsUrl: `${base}/metrics`,
      autoRollback: true,
      rollback: async () => {
        rolledBack = true;
        return { status: 'succeeded', detail: 'restored' };
      },
      outDir: mkdtempSync(join(tmpdir(), 'preflight-')),
      clock: new FakeClock(),
    });
    await expect(watch).rejects.toBeInstanceOf(PreflightError);
    await expect(watch).rejects.toBeInstanceOf(ConfigError);
    await expect(watch).rejects.toMatchObject({ exitCode: 2 });
    expect(rolledBack).toBe(false);
  });

  it('guarded-rollout monitor --check: exit 0 when the mapping matches, exit 2 with the diagnostic when not', async () => {
    reset();
    const args = [
      'monitor',
      '--check',
      '--env',
      'production',
      '--config',
      configFile,
      '--health-url',
      `${base}/health`,
      '--metrics-url',
      `${base}/metrics`,
    ];
    const ok = await cli(args);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/pre-flight OK/);
    reset({ failLabel: 'failure' });
    const bad = await cli(args);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^error: pre-flight failed:\n {2}- gate extraction_failure_rate: .*"failure"/);
    expect(bad.stderr).not.toMatch(/\n\s+at /);
    reset();
    const noTarget = await cli([...args, '--auto-rollback']);
    expect(noTarget.code).toBe(2);
    expect(noTarget.stderr).toMatch(/--auto-rollback is on but no rollback target/);
  });
});

describe('pre-flight of the automatic rollback (its dry run, on real files)', () => {
  const common = { environment: 'production', configFile };
  /** A live tree, a backup of it in backups/, and the rollback the watch would run. */
  async function scene(): Promise<{
    dir: string;
    target: string;
    zip: string;
    rollback: ReturnType<typeof chooseRollback>;
  }> {
    const dir = mkdtempSync(join(tmpdir(), 'preflight-rollback-'));
    const target = join(dir, 'live');
    mkdirSync(target);
    writeFileSync(join(target, 'version'), '1.0.0');
    const made = await createBackup({
      environment: 'production',
      paths: ['version'],
      baseDir: target,
      outDir: join(dir, 'backups'),
      cwd: dir,
    });
    writeFileSync(join(target, 'version'), '1.1.0');
    const rollback = chooseRollback({
      environment: 'production',
      target,
      backupDir: join(dir, 'backups'),
      cwd: dir,
    });
    return { dir, target, zip: made.backupPath, rollback };
  }

  it('a good backup passes and is named; a corrupt or missing one is a problem; the live tree is untouched', async () => {
    reset();
    const { dir, target, zip, rollback } = await scene();
    const options = {
      ...common,
      healthUrl: `${base}/health`,
      metricsUrl: `${base}/metrics`,
      autoRollback: true,
      rollbackConfigured: true,
      rollbackCheck: rollback!.check!,
    };
    const ok = await preflight(options);
    expect(ok.problems).toEqual([]);
    expect(ok.rollback).toBe(
      `pre-flight: the automatic rollback's dry run passed: verified ${zip.split('/').pop()}; would restore it into ${target}`,
    );
    expect(ok.lines).toContain(ok.rollback);
    // Not run when the rollback is not automatic, or the migration is irreversible.
    expect((await preflight({ ...options, autoRollback: false })).rollback).toBeUndefined();
    expect((await preflight({ ...options, migrationSafety: 'irreversible' })).rollback).toBeUndefined();

    const bytes = readFileSync(zip);
    bytes[40] = bytes[40]! ^ 0xff;
    writeFileSync(zip, bytes);
    const corrupt = await preflight(options);
    expect(corrupt.ok).toBe(false);
    expect(corrupt.problems).toEqual([
      expect.stringMatching(
        /^the automatic rollback would fail now \(its dry run\): checksum mismatch for .*\.zip: .* the backup is corrupt or was altered$/,
      ),
    ]);
    const emptied = chooseRollback({
      environment: 'production',
      target,
      backupDir: join(dir, 'nowhere'),
      cwd: dir,
    });
    const missing = await preflight({ ...options, rollbackCheck: emptied!.check! });
    expect(missing.problems).toEqual([
      expect.stringMatching(
        /^the automatic rollback would fail now \(its dry run\): no complete backup of environment "production" in .*nowhere \(the directory does not exist\)$/,
      ),
    ]);
    // A dry run changes nothing: the deployed release is still live, with no state directory.
    expect(readFileSync(join(target, 'version'), 'utf8')).toBe('1.1.0');
    expect(readdirSync(target)).toEqual(['version']);
  });

  it('the watch refuses to start, before any poll, when its automatic rollback would fail', async () => {
    reset();
    const { zip, rollback } = await scene();
    writeFileSync(zip, 'not a zip');
    let polled = false;
    const watch = watchDeployment({
      ...common,
      healthUrl: `${base}/health`,
      metricsUrl: `${base}/metrics`,
      autoRollback: true,
      rollback: rollback!,
      outDir: mkdtempSync(join(tmpdir(), 'preflight-')),
      clock: new FakeClock(),
      log: (line) => {
        if (/^T\+/.test(line)) polled = true;
      },
    });
    await expect(watch).rejects.toBeInstanceOf(PreflightError);
    await expect(watch).rejects.toThrow(
      /the automatic rollback would fail now \(its dry run\): checksum mismatch/,
    );
    expect(polled).toBe(false);
  });

  it('a command rollback has no dry run: nothing is run before the watch', async () => {
    const rollback = chooseRollback({ environment: 'production', rollbackCommand: 'exit 1' });
    expect(rollback!.check).toBeUndefined();
  });
});

describe('drills', () => {
  it('request timeouts scale with the time scale, with a 1 s floor', async () => {
    expect(requestTimeoutFor(1)).toBe(5000);
    expect(requestTimeoutFor(2)).toBe(2500);
    expect(requestTimeoutFor(60)).toBe(1000);
    expect(requestTimeoutFor(60, 300)).toBe(300);
    // A hung health endpoint costs one floor-length timeout at 60×, not 5 virtual minutes.
    const hung = createServer(() => {});
    await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r));
    try {
      const { sampler } = prepareWatch({
        environment: 'production',
        configFile,
        healthUrl: `http://127.0.0.1:${(hung.address() as AddressInfo).port}/health`,
        metricsUrl: `${base}/metrics`,
        timeScale: 60,
      });
      const started = Date.now();
      const r = await sampler.sample(0);
      expect(r.health).toEqual({ ok: false, detail: 'timed out after 1000ms', error: true });
      expect(Date.now() - started).toBeLessThan(4000);
    } finally {
      hung.closeAllConnections();
      await new Promise((r) => hung.close(r));
    }
  });
});
