import { describe, it, expect, afterEach } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseEvidenceLog } from '@guarded-rollout/evidence';
import { createBackup, findLatestBackup, restoreBackup } from '../src/index.js';
import { makeTree, snapshot, tempRoot } from './fixtures.js';

const T0 = new Date('2026-11-23T22:00:00Z');
const repo = fileURLToPath(new URL('../../..', import.meta.url));

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(
    servers.splice(0).map((s) => {
      s.closeAllConnections();
      return new Promise((r) => s.close(r));
    }),
  );
});

/** A real health endpoint on 127.0.0.1 answering from a script of statuses ('hang' never answers). */
async function healthServer(script: Array<number | 'hang'>): Promise<{ url: string; hits: () => number }> {
  let hits = 0;
  const server = createServer((req, res) => {
    const step = script[Math.min(hits, script.length - 1)]!;
    hits++;
    if (step === 'hang') {
      req.socket.setTimeout(2000, () => req.socket.destroy());
      return;
    }
    res.writeHead(step).end(step === 200 ? 'ok' : 'bad');
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`, hits: () => hits };
}

/** Live tree v1, a backup of v0 content; returns paths. */
async function setup(label: string) {
  const root = tempRoot(label);
  mkdirSync(join(root, 'live'));
  makeTree(join(root, 'live'));
  const good = snapshot(join(root, 'live'));
  const backup = await createBackup({
    environment: 'production',
    paths: ['.'],
    baseDir: 'live',
    cwd: root,
    now: () => T0,
  });
  writeFileSync(join(root, 'live/readme.txt'), 'the faulty release\n');
  const faulty = snapshot(join(root, 'live'));
  return { root, backup: backup.backupPath, good, faulty };
}

// Fake time for the health loop: each sleep advances the clock, nothing waits for real.
function fakeTime() {
  let now = 0;
  return { clock: () => now, sleep: async (ms: number) => void (now += ms) };
}

describe('post-restore validation', () => {
  it('succeeds after 3 consecutive OK checks; a failure resets the streak', async () => {
    const { root, backup, good } = await setup('health-ok');
    const health = await healthServer([200, 500, 200, 200, 200]);
    const r = await restoreBackup({
      environment: 'production',
      backupPath: backup,
      target: 'live',
      cwd: root,
      now: () => T0,
      healthUrl: health.url,
      health: { intervalMs: 1000, timeoutMs: 500, deadlineMs: 60_000 },
      ...fakeTime(),
    });
    expect(r).toMatchObject({ status: 'succeeded', healthChecksOk: 3 });
    expect(health.hits()).toBe(5);
    expect(snapshot(join(root, 'live'))).toEqual(good);
    const text = readFileSync(join(root, 'rollback.log'), 'utf8');
    expect(text).toContain('health check 2 at +1000 ms: FAIL (HTTP 500); streak 0');
  });

  it('fails when health never reaches 3 OK before the deadline; the previous tree stays recoverable', async () => {
    const { root, backup, good, faulty } = await setup('health-bad');
    const health = await healthServer([200, 200, 503]);
    const r = await restoreBackup({
      environment: 'production',
      backupPath: backup,
      target: 'live',
      cwd: root,
      now: () => T0,
      healthUrl: health.url,
      health: { intervalMs: 5000, timeoutMs: 500, deadlineMs: 30_000 },
      ...fakeTime(),
    });
    expect(r.status).toBe('failed');
    expect(r.message).toMatch(
      /health did not reach 3 consecutive OK checks within 30000 ms \(2 OK of 7; last: HTTP 503\)/,
    );
    expect(r.message).toContain('to undo, move them back');
    expect(snapshot(join(root, 'live'))).toEqual(good);
    expect(snapshot(r.previousTree!)).toEqual(faulty);
    const log = parseEvidenceLog(readFileSync(join(root, 'rollback.log'), 'utf8'));
    expect(log.result).toMatchObject({
      status: 'fail',
      outcome: 'failed',
      verified: true,
      health_checks_ok: 0,
    });
  });

  it('counts a health check that times out as a failure', async () => {
    const { root, backup } = await setup('health-hang');
    const health = await healthServer([200, 'hang', 200, 200, 200]);
    const r = await restoreBackup({
      environment: 'production',
      backupPath: backup,
      target: 'live',
      cwd: root,
      now: () => T0,
      healthUrl: health.url,
      health: { intervalMs: 10, timeoutMs: 150, deadlineMs: 5_000 },
      ...fakeTime(),
    });
    expect(r).toMatchObject({ status: 'succeeded', healthChecksOk: 3 });
    expect(readFileSync(join(root, 'rollback.log'), 'utf8')).toContain(
      'FAIL (timed out after 150 ms); streak 0',
    );
  });

  it('fails when the restart command fails, and says how to undo', async () => {
    const { root, backup, faulty } = await setup('restart');
    const r = await restoreBackup({
      environment: 'production',
      backupPath: backup,
      target: 'live',
      cwd: root,
      now: () => T0,
      restartCommand: 'echo restarting; exit 7',
    });
    expect(r.status).toBe('failed');
    expect(r.message).toMatch(/the restart command exited with code 7/);
    expect(snapshot(r.previousTree!)).toEqual(faulty);
    expect(readFileSync(join(root, 'rollback.log'), 'utf8')).toContain('output: restarting');
  });

  it('kills a restart command that outlives its timeout', async () => {
    const { root, backup } = await setup('restart-timeout');
    const started = Date.now();
    const r = await restoreBackup({
      environment: 'production',
      backupPath: backup,
      target: 'live',
      cwd: root,
      now: () => T0,
      restartCommand: 'sleep 30',
      restartTimeoutMs: 200,
    });
    expect(r.message).toMatch(/timed out after 200 ms \(killed\)/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('runs the smoke command last and fails on it', async () => {
    const { root, backup } = await setup('smoke');
    const r = await restoreBackup({
      environment: 'production',
      backupPath: backup,
      target: 'live',
      cwd: root,
      now: () => T0,
      smokeCommand: 'test -f live/readme.txt && exit 1',
    });
    expect(r).toMatchObject({ status: 'failed' });
    expect(r.message).toMatch(/smoke command exited with code 1/);
  });

  it('dry-run verifies everything, writes rollback-dryrun.log with the plan and changes nothing', async () => {
    const { root, backup, faulty } = await setup('dry');
    const r = await restoreBackup({
      environment: 'production',
      backupPath: backup,
      target: 'live',
      cwd: root,
      now: () => T0,
      dryRun: true,
      restartCommand: 'exit 1',
    });
    expect(r).toMatchObject({ status: 'dry-run', verified: true });
    expect(snapshot(join(root, 'live'))).toEqual(faulty);
    const text = readFileSync(join(root, 'rollback-dryrun.log'), 'utf8');
    expect(parseEvidenceLog(text).result).toMatchObject({ status: 'pass', kind: 'rollback-dryrun' });
    expect(text).toContain('plan (nothing changed):');
    expect(existsSync(join(root, 'rollback.log'))).toBe(false);
  });
});

describe('an interrupted backup never looks complete', () => {
  it('kill -9 in the middle of a backup leaves no zip and no .sha256', async () => {
    const root = tempRoot('kill');
    mkdirSync(join(root, 'data'));
    for (let i = 0; i < 12; i++)
      writeFileSync(join(root, 'data', `blob-${i}.bin`), randomBytes(8 * 1024 * 1024));
    const out = join(root, 'backups');
    const outputFile = join(root, 'gh-output');
    writeFileSync(outputFile, '');
    const child = spawn(process.execPath, [join(repo, 'actions/backup/dist/index.js')], {
      cwd: root,
      env: {
        PATH: process.env.PATH,
        GITHUB_WORKSPACE: root,
        GITHUB_OUTPUT: outputFile,
        INPUT_ENVIRONMENT: 'production',
        INPUT_PATHS: 'data',
        'INPUT_COMPRESSION-LEVEL': '9',
      },
      stdio: 'ignore',
    });
    try {
      // Wait until the archive is being written, then kill without warning.
      const deadline = Date.now() + 15_000;
      while (
        Date.now() < deadline &&
        !(existsSync(out) && readdirSync(out).some((n) => n.includes('.partial')))
      )
        await new Promise((r) => setTimeout(r, 5));
      expect(readdirSync(out).some((n) => n.includes('.partial'))).toBe(true);
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    } finally {
      child.kill('SIGKILL');
    }
    const left = readdirSync(out);
    expect(left.filter((n) => n.endsWith('.zip') || n.endsWith('.sha256'))).toEqual([]);
    expect(findLatestBackup(out, 'production')).toBeUndefined();
    expect(readFileSync(outputFile, 'utf8')).not.toContain('backup-path');
    // the next backup sweeps the dead one's partial file away
    await createBackup({ environment: 'production', paths: ['data/blob-0.bin'], cwd: root, now: () => T0 });
    expect(readdirSync(out).filter((n) => n.includes('.partial'))).toEqual([]);
  });
});
