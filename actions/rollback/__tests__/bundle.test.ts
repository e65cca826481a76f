import { describe, it, expect } from '@jest/globals';
import {
  closeSync,
  existsSync,
  ftruncateSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startHungGitHub } from '@guarded-rollout/fake-github';
import { runNodeAction } from '@guarded-rollout/runner-harness';
import { runBundle } from '../../backup/__tests__/run-bundle.js';

/** Cancels `running` as the runner does and expects it refused, with `message`, on the SIGINT and
 *  well before the SIGTERM; returns the timings. */
async function cancelledBeforeTheSwap(
  running: ReturnType<typeof runNodeAction>,
  message: string,
): Promise<{ exitedAtMs: number }> {
  const timings = await running.cancel();
  const main = await running.result;
  expect(timings.lastSignal).toBe('SIGINT');
  expect(timings.exitedAtMs).toBeLessThan(2500);
  expect(main.outputs.status).toBe('refused');
  expect(main.stdout).toContain(`::error::rollback refused: ${message}`);
  return timings;
}

describe('rollback action bundle', () => {
  it('cancelled by the runner during a health check that hangs (health-timeout 30s): the swap stands, the check ends at once, status failed with how to undo, before SIGTERM', async () => {
    const root = mkdtempSync(join(tmpdir(), 'gr-action-rollback-'));
    mkdirSync(join(root, 'srv'));
    writeFileSync(join(root, 'srv/a.txt'), 'good\n');
    expect(runBundle('backup', { environment: 'production', 'base-dir': 'srv' }, root).code).toBe(0);
    writeFileSync(join(root, 'srv/a.txt'), 'bad\n');
    let checks = 0;
    let firstCheck!: () => void;
    const checked = new Promise<void>((r) => (firstCheck = r));
    // A service that accepts the check and never answers (a hung release).
    const server = createServer(() => {
      checks++;
      firstCheck();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const running = runNodeAction(fileURLToPath(new URL('..', import.meta.url)), {
        workspace: root,
        inputs: {
          environment: 'production',
          backup: 'latest',
          target: 'srv',
          'health-url': `http://127.0.0.1:${(server.address() as { port: number }).port}/health`,
          'health-timeout': '30s',
        },
      });
      await checked;
      const timings = await running.cancel();
      const main = await running.result;
      expect(timings.lastSignal).toBe('SIGINT');
      expect(main.code).toBe(1);
      expect(main.stdout).toContain(
        '::warning::received SIGINT: stopping the rollback (a swap already begun is finished first)',
      );
      expect(main.outputs.status).toBe('failed');
      expect(main.stdout).toMatch(
        /::error::rollback failed: restored, but the health checks were cancelled \(0 OK of 0, 3 consecutive needed\), so nothing shows the service works\. The previous versions of a\.txt are kept in .*; to undo, move them back into /,
      );
      expect(checks).toBe(1);
      expect(readFileSync(join(root, 'srv/a.txt'), 'utf8')).toBe('good\n');
      expect(timings.exitedAtMs).toBeLessThan(2500); // not the check's 30 s, nor its 5 s default
      console.log(`cancel → exit during a hung health check: ${timings.exitedAtMs} ms`);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  }, 60_000);

  it('cancelled by the runner while GitHub does not answer the artifact lookup: refused before SIGTERM, nothing changed', async () => {
    const root = mkdtempSync(join(tmpdir(), 'gr-action-rollback-'));
    mkdirSync(join(root, 'srv'));
    writeFileSync(join(root, 'srv/a.txt'), 'bad\n');
    const hung = await startHungGitHub('actions/list-workflow-run-artifacts');
    try {
      const running = runNodeAction(fileURLToPath(new URL('..', import.meta.url)), {
        workspace: root,
        inputs: {
          environment: 'production',
          target: 'srv',
          'backup-run-id': '7001',
          'github-token': 'ghs_x',
        },
        github: { repository: 'octo-org/dhash', apiUrl: hung.fake.url },
      });
      await hung.first;
      const timings = await running.cancel();
      const main = await running.result;
      expect(timings.lastSignal).toBe('SIGINT');
      expect(timings.exitedAtMs).toBeLessThan(2500);
      expect(main.code).toBe(1);
      expect(main.stdout).toContain(
        '::warning::received SIGINT: stopping the rollback (a swap already begun is finished first)',
      );
      expect(main.stdout).toContain(
        '::error::rollback refused: cancelled while listing backup artifacts in run 7001 of octo-org/dhash; nothing was changed',
      );
      expect(main.outputs.status).toBe('refused');
      expect(readFileSync(join(root, 'srv/a.txt'), 'utf8')).toBe('bad\n');
    } finally {
      await hung.fake.stop();
    }
  }, 60_000);

  it('cancelled by the runner while the checksum of a large backup is computed: refused at once, before SIGTERM, nothing changed', async () => {
    const root = mkdtempSync(join(tmpdir(), 'gr-action-rollback-'));
    mkdirSync(join(root, 'srv'));
    writeFileSync(join(root, 'srv/a.txt'), 'live\n');
    // The newest backup by name: 8 GiB (sparse, so no disk), whose whole hash takes ~6 s here.
    mkdirSync(join(root, 'backups'));
    const zip = join(root, 'backups/dhash_production_20991231T235959Z.zip');
    const fd = openSync(zip, 'w');
    ftruncateSync(fd, 8 * 1024 ** 3);
    closeSync(fd);
    writeFileSync(`${zip}.sha256`, `${'0'.repeat(64)}  backups/dhash_production_20991231T235959Z.zip\n`);
    const running = runNodeAction(fileURLToPath(new URL('..', import.meta.url)), {
      workspace: root,
      inputs: { environment: 'production', backup: 'latest', target: 'srv' },
    });
    // The log names the backup just before its checksum starts.
    const log = join(root, 'rollback.log');
    for (let i = 0; i < 600 && !(existsSync(log) && readFileSync(log, 'utf8').includes('backup: ')); i++)
      await new Promise((r) => setTimeout(r, 50));
    // Not once the 8 GiB are read.
    const timings = await cancelledBeforeTheSwap(
      running,
      `restore cancelled before the swap; the live tree ${join(root, 'srv')} was not changed`,
    );
    expect(readFileSync(join(root, 'srv/a.txt'), 'utf8')).toBe('live\n');
    console.log(`cancel → exit during the checksum of an 8 GiB backup: ${timings.exitedAtMs} ms`);
  }, 60_000);

  it('cancelled by the runner while the live tree is compared with the record of the last deploy: refused at once, nothing changed', async () => {
    const root = mkdtempSync(join(tmpdir(), 'gr-action-rollback-'));
    mkdirSync(join(root, 'srv'));
    writeFileSync(join(root, 'srv/a.txt'), 'good\n');
    expect(runBundle('backup', { environment: 'production', 'base-dir': 'srv' }, root).code).toBe(0);
    // A live database file of 16 GiB (sparse: no disk) whose status is not the recorded one (a
    // chmod -R, a copy): the comparison must read it whole, ~12 s here, past the runner's SIGKILL.
    const db = join(root, 'srv/db.bin');
    const fd = openSync(db, 'w');
    ftruncateSync(fd, 16 * 1024 ** 3);
    closeSync(fd);
    const file = (size: number, mode: number): string =>
      `{"size":${size},"mode":${mode},"sha256":"${'0'.repeat(64)}"}`;
    writeFileSync(
      join(root, '.srv.deployed-tree.json'),
      `{"environment":"production","recordedAt":"2026-12-01T00:00:00.000Z","target":"${join(root, 'srv')}","files":{\n` +
        `"a.txt":${file(5, statSync(join(root, 'srv/a.txt')).mode & 0o7777)},\n` +
        `"db.bin":${file(16 * 1024 ** 3, statSync(db).mode & 0o7777)}\n}}\n`,
    );
    const running = runNodeAction(fileURLToPath(new URL('..', import.meta.url)), {
      workspace: root,
      inputs: { environment: 'production', backup: 'latest', target: 'srv' },
    });
    await running.waitForOutput(/files changed status since it, reading 16\.0 GiB/, 30_000);
    // Not once the 16 GiB are read.
    const timings = await cancelledBeforeTheSwap(
      running,
      `cancelled while comparing the live tree with the record of the last deploy, before anything was restored; the live tree ${join(root, 'srv')} was not changed`,
    );
    expect(readFileSync(join(root, 'rollback.log'), 'utf8')).toContain(
      'CANCELLED: cancelled while comparing',
    );
    expect(readdirSync(join(root, 'srv')).sort()).toEqual(['a.txt', 'db.bin']);
    expect(readFileSync(join(root, 'srv/a.txt'), 'utf8')).toBe('good\n');
    console.log(`cancel → exit during the live-tree comparison of a 16 GiB file: ${timings.exitedAtMs} ms`);
  }, 60_000);

  it('restores the latest backup and sets its outputs; refuses another environment', () => {
    const root = mkdtempSync(join(tmpdir(), 'gr-action-rollback-'));
    mkdirSync(join(root, 'srv'));
    writeFileSync(join(root, 'srv/a.txt'), 'good\n');
    expect(runBundle('backup', { environment: 'production', 'base-dir': 'srv' }, root).code).toBe(0);
    writeFileSync(join(root, 'srv/a.txt'), 'bad\n');

    // No health-url: restored but unverified, which fails a production rollback unless allowed.
    const unverified = runBundle(
      'rollback',
      { environment: 'production', backup: 'latest', target: 'srv' },
      root,
    );
    expect(unverified.code).toBe(1);
    expect(unverified.outputs).toMatchObject({ status: 'restored-unverified', 'health-checks-ok': '0' });
    expect(unverified.stdout).toMatch(
      /::error::rollback restored-unverified in production: no health check ran/,
    );
    rmSync(unverified.outputs['previous-tree']!, { recursive: true }); // names have 1 s resolution
    const r = runBundle(
      'rollback',
      { environment: 'production', backup: 'latest', target: 'srv', 'allow-unverified': 'true' },
      root,
    );
    expect(r.code).toBe(0);
    expect(r.outputs).toMatchObject({
      status: 'restored-unverified',
      verified: 'true',
      'health-checks-ok': '0',
    });
    expect(r.outputs['restored-from']).toMatch(/dhash_production_.*\.zip$/);
    expect(readFileSync(join(root, 'srv/a.txt'), 'utf8')).toBe('good\n');

    const refused = runBundle(
      'rollback',
      { environment: 'staging', backup: r.outputs['restored-from']!, target: 'srv' },
      root,
    );
    expect(refused.code).toBe(1);
    expect(refused.outputs).toMatchObject({ status: 'refused', verified: 'false' });
    expect(refused.stdout).toMatch(
      /::error::rollback refused: backup .* belongs to environment "production", not "staging"/,
    );
  });

  it('keep-previous deletes older previous versions; a bad value is one error naming the input', () => {
    const root = mkdtempSync(join(tmpdir(), 'gr-action-rollback-keep-'));
    mkdirSync(join(root, 'srv'));
    writeFileSync(join(root, 'srv/a.txt'), 'good\n');
    expect(runBundle('backup', { environment: 'staging', 'base-dir': 'srv' }, root).code).toBe(0);
    const kept = join(root, 'srv/.guarded-rollout/pre-rollback');
    // Two older versions (the names the tool gives them), then a rollback that keeps one.
    for (const name of ['20261101T000000Z', '20261102T000000Z']) {
      mkdirSync(join(kept, name, 'a.txt'), { recursive: true });
    }
    const inputs = { environment: 'staging', backup: 'latest', target: 'srv' };
    const bad = runBundle('rollback', { ...inputs, 'keep-previous': 'all' }, root);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/::error::input "keep-previous": "all" is not/);
    expect(readdirSync(kept).sort()).toEqual(['20261101T000000Z', '20261102T000000Z']);
    const r = runBundle('rollback', { ...inputs, 'keep-previous': '1' }, root);
    expect(r.code).toBe(0);
    expect(readdirSync(kept)).toEqual([r.outputs['previous-tree']!.split('/').pop()]);
    expect(readFileSync(join(root, 'rollback.log'), 'utf8')).toContain(
      'keep-previous 1: 2 older previous versions deleted',
    );
  });
});
