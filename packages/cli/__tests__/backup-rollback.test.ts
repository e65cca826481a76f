import { describe, it, expect } from '@jest/globals';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installArtifactRoutes, startFakeGitHub, startHungGitHub } from '@guarded-rollout/fake-github';
import { cli } from './run-cli.js';
import { cliBundle, ensureCliBundle, startCli } from './bundle.js';

const NOW = () => new Date('2026-11-23T12:00:00Z');

function repoRoot(): string {
  const root = mkdtempSync(join(tmpdir(), 'gr-cli-'));
  mkdirSync(join(root, 'srv/data'), { recursive: true });
  writeFileSync(join(root, 'srv/data/hashes.db'), 'v1 data\n');
  writeFileSync(join(root, 'srv/config.json'), '{"release":"1.0"}\n');
  return root;
}

describe('guarded-rollout backup / latest-backup / rollback', () => {
  it('Ctrl-C during a backup (the bundled CLI, a real SIGINT while its dump runs): exit 1 with one line, the dump stopped, nothing left in backups/', async () => {
    ensureCliBundle();
    const root = repoRoot();
    const pidFile = join(root, 'dump.pid');
    const child = spawn(
      process.execPath,
      [
        cliBundle,
        'backup',
        '--env',
        'production',
        '--base-dir',
        'srv',
        '--dump-command',
        `sleep 120 & echo $! > ${pidFile}; wait`,
      ],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    for (let i = 0; i < 600 && !(existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim()); i++)
      await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGINT');
    expect(await exited).toBe(1);
    expect(stderr).toBe(
      'received SIGINT: stopping the backup\nerror: backup cancelled; no backup was made\n',
    );
    const sleeper = Number(readFileSync(pidFile, 'utf8'));
    // The dump's group was stopped: gone, or a zombie (this container's init may not reap it).
    const state = existsSync(`/proc/${sleeper}/stat`) ? readFileSync(`/proc/${sleeper}/stat`, 'utf8') : '';
    expect(state === '' || /^\d+ \(.*\) Z /.test(state)).toBe(true);
    expect(readdirSync(join(root, 'backups'))).toEqual([]);
  }, 300_000);

  it('Ctrl-C during the health checks of a rollback (the bundled CLI, a real SIGINT): the swap stands, exit 1 at once with how to undo', async () => {
    ensureCliBundle();
    const root = repoRoot();
    expect(
      (await cli(['backup', '--env', 'production', '--base-dir', 'srv'], { cwd: root, now: NOW })).code,
    ).toBe(0);
    writeFileSync(join(root, 'srv/config.json'), '{"release":"bad"}\n');
    let firstCheck!: () => void;
    const checked = new Promise<void>((r) => (firstCheck = r));
    const server = createServer((_req, res) => {
      firstCheck();
      res.writeHead(503).end('down');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/health`;
      const child = spawn(
        process.execPath,
        [cliBundle, 'rollback', '--env', 'production', '--latest', '--target', 'srv', '--health-url', url],
        { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      await checked;
      // Once the first check is logged: the cancel then ends the wait before the next one.
      const log = join(root, 'rollback.log');
      for (
        let i = 0;
        i < 600 && !(existsSync(log) && readFileSync(log, 'utf8').includes('health check 1 at'));
        i++
      )
        await new Promise((r) => setTimeout(r, 50));
      const sentAt = Date.now();
      child.kill('SIGINT');
      expect(await exited).toBe(1);
      expect(Date.now() - sentAt).toBeLessThan(5000); // not the 5 s wait before the next check
      expect(stdout).toContain('status: failed\n');
      expect(stderr).toMatch(
        /^received SIGINT: stopping the rollback \(a swap already begun is finished first\)\nerror: rollback failed: restored, but the health checks were cancelled \(0 OK of 1, 3 consecutive needed\), so nothing shows the service works\. The previous versions of config\.json, data are kept in .*; to undo, move them back into .*\/srv\.\n$/,
      );
      expect(readFileSync(join(root, 'srv/config.json'), 'utf8')).toBe('{"release":"1.0"}\n');
    } finally {
      server.close();
    }
  }, 300_000);

  it('Ctrl-C while GitHub does not answer the artifact lookup (the bundled CLI, a real SIGINT): exit 1 at once, nothing changed', async () => {
    const root = repoRoot();
    const hung = await startHungGitHub('actions/list-workflow-run-artifacts');
    try {
      const cli = startCli(
        [
          'rollback',
          '--env',
          'production',
          '--backup-run-id',
          '7001',
          '--target',
          'srv',
          '--repo',
          'octo-org/dhash',
        ],
        {
          cwd: root,
          env: {
            PATH: process.env.PATH ?? '',
            HOME: root,
            GITHUB_TOKEN: 'ghs_x',
            GITHUB_API_URL: hung.fake.url,
          },
        },
      );
      await hung.first;
      const { code, ms } = await cli.interrupt();
      expect(code).toBe(1);
      expect(ms).toBeLessThan(5000);
      expect(cli.stderr()).toBe(
        'received SIGINT: stopping the rollback (a swap already begun is finished first)\n' +
          'error: rollback refused: cancelled while listing backup artifacts in run 7001 of octo-org/dhash; nothing was changed\n',
      );
    } finally {
      await hung.fake.stop();
    }
  }, 300_000);

  it('Ctrl-C while the artifact download hangs (the bundled CLI, a real SIGINT): the prompt comes back at once, the partial download is removed', async () => {
    const root = repoRoot();
    let started!: () => void;
    const downloading = new Promise<void>((r) => (started = r));
    // The blob store answers with the zip's first bytes and then nothing: @actions/artifact, which
    // takes no signal, would wait for it as long as the socket stays open.
    const blobs = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/zip', 'content-length': '1048576' });
      res.write(Buffer.from('PK\x03\x04'));
      started();
    });
    await new Promise<void>((r) => blobs.listen(0, '127.0.0.1', r));
    const fake = await startFakeGitHub();
    installArtifactRoutes(fake, {
      listArtifacts: () => [
        {
          id: 70,
          name: 'guarded-rollout-backup-production-run7001-attempt1',
          sizeInBytes: 1048576,
          createdAt: '2026-11-23T12:00:00Z',
          expiresAt: '2027-02-21T12:00:00Z',
          runId: 7001,
          headSha: 'a'.repeat(40),
          headBranch: 'main',
        },
      ],
      downloadUrl: () => `http://127.0.0.1:${(blobs.address() as { port: number }).port}/blob/70.zip`,
    });
    const tmp = mkdtempSync(join(tmpdir(), 'cli-dl-tmp-'));
    try {
      const cli = startCli(
        [
          'rollback',
          '--env',
          'production',
          '--backup-run-id',
          '7001',
          '--target',
          'srv',
          '--repo',
          'octo-org/dhash',
        ],
        {
          cwd: root,
          env: {
            PATH: process.env.PATH ?? '',
            HOME: root,
            TMPDIR: tmp,
            GITHUB_TOKEN: 'ghs_x',
            GITHUB_API_URL: fake.url,
          },
        },
      );
      await downloading;
      const { code, ms } = await cli.interrupt();
      expect(code).toBe(1);
      expect(ms).toBeLessThan(5000); // before: until the blob's socket closed
      expect(cli.stderr()).toMatch(
        /^received SIGINT: stopping the rollback \(a swap already begun is finished first\)\nerror: rollback refused: cancelled while downloading backup artifact guarded-rollout-backup-production-run7001-attempt1 \(id 70\) into .*; nothing was changed\n$/,
      );
      expect(readdirSync(tmp)).toEqual([]);
      expect(readFileSync(join(root, 'srv/config.json'), 'utf8')).toBe('{"release":"1.0"}\n');
    } finally {
      blobs.closeAllConnections();
      blobs.close();
      await fake.stop();
    }
  }, 300_000);

  it('backs up, finds the latest, and restores it (exit 0), with the seed command passing', async () => {
    const root = repoRoot();
    const b = await cli(
      ['backup', '--env', 'production', '--base-dir', 'srv', '--keep', '5', '--release-version', '1.0'],
      { cwd: root, now: NOW },
    );
    expect(b).toMatchObject({ code: 0, stderr: '' });
    expect(b.stdout).toContain(`backup-path: ${join(root, 'backups/dhash_production_20261123T120000Z.zip')}`);
    expect(b.stdout).toMatch(
      /sha256: [0-9a-f]{64}\nsha256-path: .*\.zip\.sha256\nsize-bytes: \d+\nfile-count: 2\n/,
    );
    const seed = execFileSync(
      'bash',
      [
        '-c',
        'LATEST_BACKUP=$(ls -1 backups/dhash_*.zip | sort -r | head -n1); sha256sum -c "${LATEST_BACKUP}.sha256"',
      ],
      { cwd: root, encoding: 'utf8' },
    );
    expect(seed).toBe('backups/dhash_production_20261123T120000Z.zip: OK\n');

    const latest = await cli(['latest-backup', '--env', 'production'], { cwd: root });
    expect(latest).toEqual({
      code: 0,
      stdout: 'backups/dhash_production_20261123T120000Z.zip\n',
      stderr: '',
    });

    writeFileSync(join(root, 'srv/data/hashes.db'), 'v2 broken\n');
    const r = await cli(['rollback', '--env', 'production', '--latest', '--target', 'srv'], {
      cwd: root,
      now: NOW,
    });
    // No health URL: restored, but not verified — exit 1 in production unless allowed.
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('status: restored-unverified');
    expect(r.stderr).toContain('--allow-unverified');
    expect(readFileSync(join(root, 'srv/data/hashes.db'), 'utf8')).toBe('v1 data\n');
    expect(
      readFileSync(join(root, 'srv/.guarded-rollout/pre-rollback/20261123T120000Z/data/hashes.db'), 'utf8'),
    ).toBe('v2 broken\n');

    const v = await cli(['verify-backup', 'backups/dhash_production_20261123T120000Z.zip'], { cwd: root });
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/OK .*environment production/);
  });

  it('rollback --keep-previous N keeps the newest N previous versions, this one included', async () => {
    const root = repoRoot();
    await cli(['backup', '--env', 'staging', '--base-dir', 'srv'], { cwd: root, now: NOW });
    let t = Date.parse('2026-11-23T12:00:00Z');
    const rollback = (...extra: string[]) =>
      cli(['rollback', '--env', 'staging', '--latest', '--target', 'srv', ...extra], {
        cwd: root,
        now: () => new Date((t += 1000)), // a later second every call
      });
    for (let i = 0; i < 3; i++) expect((await rollback()).code).toBe(0);
    const kept = join(root, 'srv/.guarded-rollout/pre-rollback');
    const [a, b, c] = readdirSync(kept).sort();
    expect(readdirSync(kept)).toHaveLength(3);
    const r = await rollback('--keep-previous', '2');
    expect(r.code).toBe(0);
    const after = readdirSync(kept).sort();
    expect(after).toHaveLength(2);
    expect(after[0]).toBe(c);
    expect(r.stdout).toContain(`previous-tree: ${join(kept, after[1]!)}`);
    expect(readFileSync(join(root, 'rollback.log'), 'utf8')).toContain(
      `keep-previous 2: 2 older previous versions deleted\n  removed previous version ${join(kept, a!)}\n  removed previous version ${join(kept, b!)}\n`,
    );
  });

  it('rollback --json prints the result and the restored roots, not the table of every restored file', async () => {
    const root = repoRoot();
    for (let i = 0; i < 300; i++) writeFileSync(join(root, `srv/data/f${i}.txt`), `file ${i}\n`);
    expect(
      (await cli(['backup', '--env', 'staging', '--base-dir', 'srv'], { cwd: root, now: NOW })).code,
    ).toBe(0);
    const r = await cli(['rollback', '--env', 'staging', '--latest', '--target', 'srv', '--json'], {
      cwd: root,
      now: NOW,
    });
    expect(r.code).toBe(0);
    const shown = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(shown).toMatchObject({
      status: 'restored-unverified',
      verified: true,
      restoredRoots: ['config.json', 'data'],
    });
    expect(shown).not.toHaveProperty('restored');
    expect(r.stdout.length).toBeLessThan(4096);
  });

  it('dry-runs write their evidence logs and change nothing', async () => {
    const root = repoRoot();
    expect(
      (await cli(['backup', '--env', 'production', '--path', 'srv', '--dry-run'], { cwd: root, now: NOW }))
        .code,
    ).toBe(0);
    expect(existsSync(join(root, 'backups'))).toBe(false);
    expect(readFileSync(join(root, 'backup-dryrun.log'), 'utf8')).toMatch(
      /GUARDED-ROLLOUT-RESULT \{.*"status":"pass"/,
    );
    await cli(['backup', '--env', 'production', '--path', 'srv'], { cwd: root, now: NOW });
    const r = await cli(['rollback', '--env', 'production', '--latest', '--target', 'srv', '--dry-run'], {
      cwd: root,
      now: NOW,
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('status: dry-run');
    expect(readFileSync(join(root, 'rollback-dryrun.log'), 'utf8')).toContain('plan (nothing changed):');
  });

  it('refuses a backup of another environment with exit 1 unless --force', async () => {
    const root = repoRoot();
    await cli(['backup', '--env', 'staging', '--base-dir', 'srv'], { cwd: root, now: NOW });
    const zip = 'backups/dhash_staging_20261123T120000Z.zip';
    const refused = await cli(['rollback', '--env', 'production', '--backup', zip, '--target', 'srv'], {
      cwd: root,
      now: NOW,
    });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /rollback refused: backup dhash_staging_20261123T120000Z\.zip belongs to environment "staging", not "production"; pass --force/,
    );
    const forced = await cli(
      [
        'rollback',
        '--env',
        'production',
        '--backup',
        zip,
        '--target',
        'srv',
        '--force',
        '--allow-unverified',
      ],
      { cwd: root, now: NOW },
    );
    expect(forced.code).toBe(0);
  });

  const bad: Array<[string, number, string[], RegExp]> = [
    [
      'unknown environment in latest-backup',
      1,
      ['latest-backup', '--env', 'qa'],
      /no complete backup of environment "qa" in .*backups/,
    ],
    [
      'invalid environment name',
      2,
      ['latest-backup', '--env', 'prod_eu'],
      /--env: "prod_eu" is not a valid environment name/,
    ],
    [
      'missing backup file',
      1,
      ['rollback', '--env', 'production', '--backup', 'backups/nope.zip', '--target', 'srv'],
      /backup .*nope\.zip does not exist/,
    ],
    [
      'bad --keep',
      2,
      ['backup', '--env', 'production', '--path', 'srv', '--keep', '0'],
      /--keep: "0" is not a whole number from 1 to 10000/,
    ],
    ['missing --path and --base-dir', 2, ['backup', '--env', 'production'], /--path: nothing to back up/],
    [
      'path that does not exist',
      2,
      ['backup', '--env', 'production', '--path', 'nowhere'],
      /path ".*nowhere" does not exist/,
    ],
    [
      'bad compression level',
      2,
      ['backup', '--env', 'production', '--path', 'srv', '--compression-level', '11'],
      /--compression-level: "11" is not a whole number from 0 to 9/,
    ],
    [
      'both --backup and --latest',
      2,
      ['rollback', '--env', 'production', '--backup', 'x.zip', '--latest', '--target', 'srv'],
      /either --backup ZIP or --latest, not both/,
    ],
    [
      'neither --backup nor --latest',
      2,
      ['rollback', '--env', 'production', '--target', 'srv'],
      /choose the backup: --backup ZIP or --latest/,
    ],
    ['missing --target', 2, ['rollback', '--env', 'production', '--latest'], /--target: required/],
    [
      'bad health URL',
      2,
      ['rollback', '--env', 'production', '--latest', '--target', 'srv', '--health-url', 'ftp://x'],
      /--health-url: "ftp:\/\/x" is not an http\(s\) URL/,
    ],
    [
      'bad duration',
      2,
      ['rollback', '--env', 'production', '--latest', '--target', 'srv', '--health-interval', 'soon'],
      /--health-interval: "soon" is not a duration/,
    ],
    ['missing --env', 2, ['backup', '--path', 'srv'], /required option '--env <env>' not specified/],
    [
      'keep-previous 0',
      2,
      ['rollback', '--env', 'production', '--latest', '--target', 'srv', '--keep-previous', '0'],
      /--keep-previous: "0" is not a whole number from 1 to 10000/,
    ],
  ];
  it.each(bad)('%s → exit %d', async (_label, code, argv, message) => {
    const root = repoRoot();
    const r = await cli(argv, { cwd: root, now: NOW });
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
  });
});
