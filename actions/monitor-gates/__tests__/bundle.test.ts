// Spawns the committed bundle the way the runner does (INPUT_* env, GITHUB_OUTPUT and
// GITHUB_STEP_SUMMARY files) against a real HTTP service on loopback.
import { afterEach, describe, expect, it } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canMountTmpfs } from '../../../packages/archive/__tests__/fixtures.js';

const bundle = fileURLToPath(new URL('../dist/index.js', import.meta.url));
const gatesConfig = fileURLToPath(new URL('../../../quality-gates-config.json', import.meta.url));
const cliBin = fileURLToPath(new URL('../../../packages/cli/bin/guarded-rollout.js', import.meta.url));
const servers: Server[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A service whose health is down until `restoredFile` exists, with counters that grow per scrape. */
async function service(options: { healthy: boolean; restoredFile: string }): Promise<string> {
  let scrapes = 0;
  const server = createServer((req, res) => {
    if (req.url === '/health') {
      const ok = options.healthy || existsSync(options.restoredFile);
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ status: ok ? 'ok' : 'failing' }));
    }
    scrapes++;
    const total = scrapes * 50;
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(
      [
        '# TYPE dhash_extractions_total counter',
        `dhash_extractions_total{result="ok"} ${total}`,
        'dhash_extractions_total{result="failed"} 0',
        '# TYPE dhash_hash_duration_seconds histogram',
        `dhash_hash_duration_seconds_bucket{le="0.01"} ${total}`,
        `dhash_hash_duration_seconds_bucket{le="+Inf"} ${total}`,
        `dhash_hash_duration_seconds_sum ${total * 0.004}`,
        `dhash_hash_duration_seconds_count ${total}`,
        '# TYPE dhash_low_confidence_queue_length gauge',
        'dhash_low_confidence_queue_length 4',
        '',
      ].join('\n'),
    );
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function runBundle(
  inputs: Record<string, string>,
  options: { sigtermAfterMs?: number; sigtermOn?: RegExp } = {},
): Promise<{
  code: number | null;
  stdout: string;
  outputs: Record<string, string>;
  summary: string;
  dir: string;
}> {
  const dir = mkdtempSync(join(tmpdir(), 'monitor-action-'));
  const output = join(dir, 'output');
  const summary = join(dir, 'summary');
  writeFileSync(output, '');
  writeFileSync(summary, '');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    GITHUB_OUTPUT: output,
    GITHUB_STEP_SUMMARY: summary,
    RUNNER_TEMP: dir,
  };
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase()}`] = v;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bundle], { cwd: dir, env });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stdout += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    // The runner cancels a job with SIGINT/SIGTERM; the watch must end with an honest trail.
    if (options.sigtermAfterMs !== undefined) setTimeout(() => child.kill('SIGTERM'), options.sigtermAfterMs);
    // Or cancel once the output shows a point of progress (a loaded machine starts slower).
    if (options.sigtermOn) {
      let sent = false;
      const watch = (): void => {
        if (!sent && options.sigtermOn!.test(stdout)) {
          sent = true;
          child.kill('SIGTERM');
        }
      };
      child.stdout.on('data', watch);
      child.stderr.on('data', watch);
    }
    child.on('close', (code) => {
      clearTimeout(timer);
      const outputs: Record<string, string> = {};
      // GITHUB_OUTPUT uses name<<DELIMITER ... DELIMITER blocks.
      const text = readFileSync(output, 'utf8');
      for (const m of text.matchAll(/^([\w-]+)<<(\S+)\n([\s\S]*?)\n\2$/gm)) outputs[m[1]!] = m[3]!;
      resolve({ code, stdout, outputs, summary: readFileSync(summary, 'utf8'), dir });
    });
  });
}

describe('monitor-gates bundle', () => {
  it('passes a healthy service over a compressed window and writes the job summary with a chart', async () => {
    const url = await service({ healthy: true, restoredFile: '/nonexistent' });
    const run = await runBundle({
      environment: 'production',
      config: gatesConfig,
      'health-url': `${url}/health`,
      'metrics-url': `${url}/metrics`,
      duration: '6m',
      'time-scale': '120',
    });
    expect(run.outputs.result).toBe('passed');
    expect(run.outputs['rollback-required']).toBe('false');
    expect(JSON.parse(run.outputs['violated-gates']!)).toEqual([]);
    expect(existsSync(join(run.dir, run.outputs['summary-path']!))).toBe(true);
    expect(run.summary).toContain('| extraction_failure_rate |');
    expect(run.summary).toContain('xychart-beta');
    // Notifications are on, but no channel is configured: skipped, not warned about.
    expect(run.stdout).not.toMatch(/::warning::notification/);
    expect(run.code).toBe(0);
  });

  it('on failing health: violated, runs the rollback command, verifies 3 OK checks, fails the step', async () => {
    const restored = join(mkdtempSync(join(tmpdir(), 'restored-')), 'restored');
    const url = await service({ healthy: false, restoredFile: restored });
    const run = await runBundle({
      environment: 'production',
      config: gatesConfig,
      'health-url': `${url}/health`,
      'metrics-url': `${url}/metrics`,
      duration: '10m',
      'time-scale': '120',
      'auto-rollback': 'true',
      'rollback-command': `touch ${restored}`,
      notify: 'false',
    });
    expect(run.outputs.result).toBe('violated');
    expect(run.outputs['rollback-required']).toBe('true');
    expect(run.outputs['rollback-status']).toBe('succeeded');
    const violated = JSON.parse(run.outputs['violated-gates']!) as Array<Record<string, unknown>>;
    expect(violated[0]).toMatchObject({ gate: 'health', value: 3, limit: 2 });
    expect(violated[0]!['first-seen']).toEqual(expect.any(String));
    expect(run.stdout).toContain('::error title=Quality gate violated (production)::health');
    expect(run.code).toBe(1);
    const log = readFileSync(join(run.dir, run.outputs['log-path']!), 'utf8');
    expect(log.trim().split('\n')).toHaveLength(1 + 3);
  });

  it('dry run: the pre-flight scrapes once and passes a matching mapping; a label mismatch fails with the diagnostic', async () => {
    const base = await service({ healthy: true, restoredFile: '/nonexistent' });
    const inputs = {
      environment: 'production',
      config: gatesConfig,
      'health-url': `${base}/health`,
      'metrics-url': `${base}/metrics`,
      'dry-run': 'true',
    };
    const ok = await runBundle(inputs);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(
      /pre-flight: gate extraction_failure_rate: extractions_failed ← dhash_extractions_total\{result="failed"\} matched \(counter\)/,
    );
    expect(ok.outputs.result).toBe('dry-run');
    const dir = mkdtempSync(join(tmpdir(), 'sources-'));
    const sources = join(dir, 'sources.json');
    writeFileSync(
      sources,
      JSON.stringify({ metrics: { extractions_failed: 'dhash_extractions_total{result="failure"}' } }),
    );
    const bad = await runBundle({ ...inputs, sources });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(
      /::error::pre-flight failed:.*extractions_failed ← dhash_extractions_total\{result="failure"\}.*result="failure" is not among its values \("failed", "ok"\)/,
    );
    const noTarget = await runBundle({
      ...inputs,
      'dry-run': 'false',
      'auto-rollback': 'true',
      duration: '1m',
      'time-scale': '600',
    });
    expect(noTarget.code).toBe(1);
    expect(noTarget.stdout).toMatch(
      /::error::pre-flight failed:.*input "auto-rollback" is on but no rollback target/,
    );
  });

  /** A live tree (app/version, data/db), an operator's backup of it made with the CLI, and the
   *  inputs of a short watch of a healthy service with automatic rollback into it. */
  async function liveWithBackup(): Promise<{
    dir: string;
    target: string;
    zip: string;
    inputs: Record<string, string>;
  }> {
    const url = await service({ healthy: true, restoredFile: '/nonexistent' });
    const dir = mkdtempSync(join(tmpdir(), 'monitor-rollback-'));
    const target = join(dir, 'live');
    mkdirSync(join(target, 'app'), { recursive: true });
    mkdirSync(join(target, 'data'));
    writeFileSync(join(target, 'app/version'), '1.0.0');
    writeFileSync(join(target, 'data/db'), 'rows');
    const made = spawnSync(
      process.execPath,
      [
        cliBin,
        'backup',
        '--env',
        'production',
        '--base-dir',
        target,
        '--path',
        'app',
        '--path',
        'data',
        '--out',
        join(dir, 'backups'),
      ],
      { cwd: dir, encoding: 'utf8' },
    );
    expect(made.stderr).toBe('');
    expect(made.status).toBe(0);
    const zip = readdirSync(join(dir, 'backups')).find((f) => f.endsWith('.zip'))!;
    const inputs = {
      environment: 'production',
      config: gatesConfig,
      'health-url': `${url}/health`,
      'metrics-url': `${url}/metrics`,
      duration: '1m',
      'time-scale': '600',
      'auto-rollback': 'true',
      target,
      'backup-dir': join(dir, 'backups'),
      notify: 'false',
    };
    return { dir, target, zip: join(dir, 'backups', zip), inputs };
  }
  const withCli = existsSync(fileURLToPath(new URL('../../../packages/cli/dist/index.js', import.meta.url)))
    ? it
    : it.skip;

  withCli(
    'with a target, the watch first dry-runs its automatic rollback: named when it would work; a corrupt backup refuses the watch before any poll',
    async () => {
      const { target, zip, inputs } = await liveWithBackup();
      const ok = await runBundle(inputs);
      expect(ok.stdout).toContain(
        `pre-flight: the automatic rollback's dry run passed: verified ${zip.split('/').pop()}; would restore it into ${target}`,
      );
      expect(ok.outputs.result).toBe('passed');
      expect(ok.code).toBe(0);
      const bytes = readFileSync(zip);
      bytes[100] = bytes[100]! ^ 0x01;
      writeFileSync(zip, bytes);
      const bad = await runBundle(inputs);
      expect(bad.stdout).toMatch(
        /::error::pre-flight failed:%0A {2}- the automatic rollback would fail now \(its dry run\): checksum mismatch for .*\.zip: .*the backup is corrupt or was altered/,
      );
      expect(bad.stdout).not.toMatch(/^T\+/m);
      expect(bad.outputs.result).toBeUndefined();
      expect(bad.code).toBe(1);
      expect(readFileSync(join(target, 'app/version'), 'utf8')).toBe('1.0.0');
    },
  );

  (canMountTmpfs() ? withCli : it.skip)(
    'a root of the rollback target that is a mount point (a data volume) refuses the watch before it starts, naming it (root, real tmpfs)',
    async () => {
      const { target, inputs } = await liveWithBackup();
      const data = join(target, 'data');
      expect(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', data]).status).toBe(0);
      try {
        writeFileSync(join(data, 'db'), 'rows on the volume');
        const run = await runBundle(inputs);
        expect(run.stdout).toContain(
          `the automatic rollback would fail now (its dry run): cannot replace ${data}: it is a mount point (tmpfs)`,
        );
        expect(run.stdout).not.toMatch(/^T\+/m);
        expect(run.code).toBe(1);
        expect(readFileSync(join(data, 'db'), 'utf8')).toBe('rows on the volume');
      } finally {
        spawnSync('umount', [data]);
      }
    },
  );

  it('refuses a bad time-scale with a message naming the input', async () => {
    const run = await runBundle({
      environment: 'production',
      config: gatesConfig,
      'health-url': 'http://127.0.0.1:9/health',
      'time-scale': 'fast',
    });
    expect(run.stdout).toContain('::error::input "time-scale": "fast" is not a number');
    expect(run.code).toBe(1);
  });

  it('refuses a bad keep-previous with a message naming the input', async () => {
    const run = await runBundle({
      environment: 'production',
      config: gatesConfig,
      'health-url': 'http://127.0.0.1:9/health',
      target: 'srv',
      'keep-previous': '0',
    });
    expect(run.stdout).toContain('::error::input "keep-previous": "0" is not');
    expect(run.code).toBe(1);
  });

  it('on SIGTERM (job cancelled) writes the partial summary and reports cancelled', async () => {
    const url = await service({ healthy: true, restoredFile: '/nonexistent' });
    const started = Date.now();
    const run = await runBundle(
      {
        environment: 'production',
        config: gatesConfig,
        'health-url': `${url}/health`,
        'metrics-url': `${url}/metrics`,
        notify: 'false',
      },
      // Cancel right after the first recorded poll, as a job cancelled mid-watch.
      { sigtermOn: /^T\+\d/m },
    );
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(run.outputs.result).toBe('cancelled');
    expect(run.outputs['rollback-required']).toBe('false');
    const summary = JSON.parse(readFileSync(join(run.dir, run.outputs['summary-path']!), 'utf8')) as {
      result: string;
      polls: number;
    };
    expect(summary).toMatchObject({ result: 'cancelled', polls: 1 });
    expect(run.summary).toContain('cancelled');
    expect(run.code).toBe(1);
  });
});
