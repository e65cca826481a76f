// `guarded-rollout monitor` and `gates replay` in-process against a real HTTP service on loopback.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createBackup } from '@guarded-rollout/archive';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cli } from './run-cli.js';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
let server: Server;
let base = '';
let healthy = true;

beforeAll(async () => {
  let scrapes = 0;
  server = createServer((req, res) => {
    if (req.url === '/health') {
      res.writeHead(healthy ? 200 : 503, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ status: healthy ? 'ok' : 'failing' }));
    }
    const total = ++scrapes * 40;
    const failed = healthy ? 0 : scrapes * 4; // 10 % once unhealthy
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(
      `# TYPE dhash_extractions_total counter\ndhash_extractions_total{result="ok"} ${total - failed}\ndhash_extractions_total{result="failed"} ${failed}\n` +
        `# TYPE dhash_hash_duration_seconds histogram\ndhash_hash_duration_seconds_bucket{le="0.01"} ${total}\ndhash_hash_duration_seconds_bucket{le="+Inf"} ${total}\n` +
        `dhash_hash_duration_seconds_sum 1\ndhash_hash_duration_seconds_count ${total}\n# TYPE dhash_low_confidence_queue_length gauge\ndhash_low_confidence_queue_length 2\n`,
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

function urls(): string[] {
  return ['--health-url', `${base}/health`, '--metrics-url', `${base}/metrics`];
}

describe('guarded-rollout monitor', () => {
  it('passes a healthy service over a compressed window (exit 0) and prints where the trail is', async () => {
    healthy = true;
    const out = mkdtempSync(join(tmpdir(), 'cli-monitor-'));
    const run = await cli(
      [
        'monitor',
        '--env',
        'production',
        ...urls(),
        '--duration',
        '6m',
        '--time-scale',
        '200',
        '--out',
        out,
        '--no-notify',
      ],
      { cwd: repoRoot },
    );
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('result: passed');
    expect(run.stdout).toMatch(/T\+6m\s+health 0 ok · extraction_failure_rate 0% ok/);
    expect(run.code).toBe(0);
    expect(
      readdirSync(out)
        .sort()
        .map((f) => f.replace(/\d{8}T\d{6}Z/, 'TS')),
    ).toEqual([
      'production_TS.html',
      'production_TS.jsonl',
      'production_TS.md',
      'production_TS.summary.json',
    ]);
  });

  it('exits 1 on a violation, runs the rollback command, and replay reproduces the trip', async () => {
    healthy = false;
    const out = mkdtempSync(join(tmpdir(), 'cli-monitor-'));
    const marker = join(out, 'rolled-back');
    const run = await cli(
      [
        'monitor',
        '--env',
        'production',
        ...urls(),
        '--duration',
        '10m',
        '--time-scale',
        '200',
        '--out',
        out,
        '--auto-rollback',
        '--rollback-command',
        `touch ${marker} && exit 3`,
        '--fallback-dir',
        join(out, 'fb'),
      ],
      { cwd: repoRoot },
    );
    healthy = true;
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/result: violated — (health|extraction_failure_rate)/);
    expect(run.stdout).toContain('rollback failed: restore command exited 3');
    expect(existsSync(marker)).toBe(true);
    const log = readdirSync(out).find((f) => f.endsWith('.jsonl'))!;

    const replay = await cli(['gates', 'replay', join(out, log)], { cwd: repoRoot });
    expect(replay.code).toBe(1);
    expect(replay.stdout).toMatch(/First trip at T\+/);
    // Every check of the recorded run is judged the same way again.
    expect(replay.stdout).toMatch(/extraction_failure_rate\s+(T\+\S+)\s+\S+\s+\1\s+0\s/);
    expect(replay.stdout).toMatch(/health\s+never\s+never\s+0\s/);

    const loose = join(out, 'loose.json');
    writeFileSync(
      loose,
      JSON.stringify({
        defaults: {
          gates: {
            extraction_failure_rate: {
              kind: 'ratio',
              numerator: 'extractions_failed',
              denominator: 'extractions_total',
              window: '10m',
              threshold: 0.5,
            },
          },
        },
        environments: { production: {} },
      }),
    );
    const relaxed = await cli(['gates', 'replay', join(out, log), '--config', loose], { cwd: repoRoot });
    expect(relaxed.stdout).toContain('No gate would have tripped.');
    expect(relaxed.code).toBe(0);
  });

  it.each([
    [['--time-scale', '0'], /--time-scale: "0" is not a number in \(0, 10000\]/],
    [['--duration', 'ten minutes'], /--duration: "ten minutes" is not a duration/],
    [['--prometheus-url', 'http://127.0.0.1:1'], /give one metrics source, not 2/],
    [['--migration-safety', 'maybe'], /--migration-safety: "maybe" is not one of/],
  ])('refuses bad input %j with exit 2', async (extra, message) => {
    const run = await cli(['monitor', '--env', 'production', ...urls(), ...extra], { cwd: repoRoot });
    expect(run.stderr).toMatch(message);
    expect(run.code).toBe(2);
  });

  it('names the environments when the environment is unknown', async () => {
    const run = await cli(['monitor', '--env', 'prod', ...urls()], { cwd: repoRoot });
    expect(run.stderr).toMatch(
      /unknown environment "prod"; this file defines: production, staging, development/,
    );
    expect(run.code).toBe(2);
  });

  it('gates replay refuses a file that is not a monitor log', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'replay-'));
    writeFileSync(join(dir, 'x.jsonl'), 'not json\n{}\n');
    const run = await cli(['gates', 'replay', join(dir, 'x.jsonl')], { cwd: repoRoot });
    expect(run.stderr).toMatch(/x\.jsonl: line 1 is not JSON/);
    expect(run.code).toBe(2);
  });

  it('with --target, a violation restores the latest backup (packages/archive) and verifies 3 OK checks', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-restore-'));
    const target = join(dir, 'live');
    mkdirSync(target);
    writeFileSync(join(target, 'version'), '1.0.0');
    await createBackup({
      environment: 'production',
      paths: ['version'],
      baseDir: target,
      outDir: join(dir, 'backups'),
      cwd: dir,
    });
    writeFileSync(join(target, 'version'), '1.1.0');
    // A version an earlier rollback kept (--keep-previous 1 below deletes it).
    const older = join(target, '.guarded-rollout/pre-rollback/20200101T000000Z');
    mkdirSync(older, { recursive: true });
    writeFileSync(join(older, 'version'), '0.9.0');
    // Health is OK exactly when the live tree holds release 1.0.0.
    const live = createServer((req, res) => {
      const ok = readFileSync(join(target, 'version'), 'utf8') === '1.0.0';
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: ok ? 'ok' : 'failing' }));
    });
    await new Promise<void>((r) => live.listen(0, '127.0.0.1', r));
    const liveUrl = `http://127.0.0.1:${(live.address() as AddressInfo).port}/health`;
    try {
      healthy = true;
      const run = await cli(
        [
          'monitor',
          '--env',
          'production',
          '--config',
          join(repoRoot, 'quality-gates-config.json'),
          '--health-url',
          liveUrl,
          '--metrics-url',
          `${base}/metrics`,
          '--duration',
          '10m',
          '--time-scale',
          '200',
          '--out',
          join(dir, 'monitor_logs'),
          '--no-notify',
          '--auto-rollback',
          '--target',
          target,
          '--keep-previous',
          '1',
          '--backup-dir',
          join(dir, 'backups'),
        ],
        { cwd: dir },
      );
      // The watch dry-ran this rollback before its first poll.
      expect(run.stdout).toMatch(
        /pre-flight: the automatic rollback's dry run passed: verified dhash_production_\w+\.zip; would restore it into /,
      );
      expect(run.stdout.indexOf("rollback's dry run passed")).toBeLessThan(run.stdout.indexOf('T+'));
      expect(run.stdout).toMatch(/result: violated — health/);
      expect(run.stdout).toMatch(/rollback succeeded: restored dhash_production_\w+\.zip/);
      expect(readFileSync(join(target, 'version'), 'utf8')).toBe('1.0.0');
      // --keep-previous 1: the version an earlier rollback kept is gone, this one's is kept.
      expect(existsSync(older)).toBe(false);
      expect(readdirSync(join(target, '.guarded-rollout/pre-rollback'))).toHaveLength(1);
      expect(run.code).toBe(1);
    } finally {
      live.closeAllConnections();
      await new Promise((r) => live.close(r));
    }
  });

  it('refuses --keep-previous that is not a whole number from 1 to 10000, naming it', async () => {
    const r = await cli(
      ['monitor', '--env', 'production', ...urls(), '--target', '/tmp', '--keep-previous', 'x'],
      {
        cwd: repoRoot,
      },
    );
    expect(r.stderr).toMatch(/--keep-previous: "x" is not a whole number from 1 to 10000/);
    expect(r.code).toBe(2);
  });

  it('refuses --backup without --target and --target with --rollback-command', async () => {
    const a = await cli(['monitor', '--env', 'production', ...urls(), '--backup', 'x.zip'], {
      cwd: repoRoot,
    });
    expect(a.stderr).toMatch(/backup needs target/);
    expect(a.code).toBe(2);
    const b = await cli(
      ['monitor', '--env', 'production', ...urls(), '--target', '/tmp', '--rollback-command', 'true'],
      { cwd: repoRoot },
    );
    expect(b.stderr).toMatch(/either target .* or rollback-command, not both/);
    expect(b.code).toBe(2);
  });
});
