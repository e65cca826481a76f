// `guarded-rollout monitor` and `gates replay` in-process against a real HTTP service on loopback.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
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
});
