// Issue 15: options from the per-environment rollout config (flag > env > file > default) and
// `config check`; honest rollback outcomes; the live-tree protection; unknown environments
// refused by every command; excess arguments named.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cli } from './run-cli.js';

const NOW = () => new Date('2026-11-23T12:00:00Z');
let health: Server;
let healthUrl = '';
let healthy = true;
const dirs: string[] = [];

beforeAll(async () => {
  health = createServer((_req, res) => {
    res.writeHead(healthy ? 200 : 503, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: healthy ? 'ok' : 'down' }));
  });
  await new Promise<void>((r) => health.listen(0, '127.0.0.1', () => r()));
  healthUrl = `http://127.0.0.1:${(health.address() as AddressInfo).port}/health`;
});
afterAll(async () => {
  await new Promise<void>((r) => health.close(() => r()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A checkout with a rollout config for production and staging and a live tree srv/. */
function checkout(rollback: Record<string, unknown> = {}): string {
  const root = mkdtempSync(join(tmpdir(), 'gr-runbook-'));
  dirs.push(root);
  mkdirSync(join(root, 'srv/data'), { recursive: true });
  writeFileSync(join(root, 'srv/data/hashes.db'), 'v1 data\n');
  writeFileSync(join(root, 'srv/release.txt'), '1.0\n');
  const env = (name: string) => ({
    backup: { paths: ['data'], base_dir: 'srv', out_dir: 'backups' },
    deploy: { command: 'true', migrate_command: 'true' },
    rollback: { target: 'srv', health_interval: '10ms', health_deadline: '20s', ...rollback },
    notify: { fallback_dir: 'nf', timeout: '2s' },
    monitor: { time_scale: 600, duration: '1m' },
    description: name,
  });
  writeFileSync(
    join(root, 'guarded-rollout.config.json'),
    JSON.stringify({ environments: { production: env('production'), staging: env('staging') } }),
  );
  return root;
}

describe('options from the rollout config', () => {
  it('backup takes paths, base_dir and out_dir from environments.<env>.backup (the seed command)', async () => {
    const root = checkout();
    const r = await cli(['backup', '--env', 'production'], { cwd: root, now: NOW });
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(existsSync(join(root, 'backups/dhash_production_20261123T120000Z.zip.sha256'))).toBe(true);
    expect(r.stdout).toContain('file-count: 1');
  });

  it('resolves flag > env var > file > default and config check names each source', async () => {
    const root = checkout({ health_checks: 4 });
    const base = await cli(['config', 'check', '--env', 'production', '--command', 'rollback'], {
      cwd: root,
    });
    expect(base.code).toBe(0);
    expect(base.stdout).toMatch(
      /--health-checks\s+4\s+file\s+.*environments\.production\.rollback\.health_checks/,
    );
    expect(base.stdout).toMatch(/--restart-timeout\s+2m\s+default/);
    expect(base.stdout).toMatch(/--target\s+\S+\/srv\s+file/);
    const viaEnv = await cli(['config', 'check', '--env', 'production', '--command', 'rollback'], {
      cwd: root,
      env: { GUARDED_ROLLOUT_ROLLBACK_HEALTH_CHECKS: '5' },
    });
    expect(viaEnv.stdout).toMatch(/--health-checks\s+5\s+env\s+GUARDED_ROLLOUT_ROLLBACK_HEALTH_CHECKS/);
    const viaFlag = await cli(['rollback', '--env', 'production', '--health-checks', '6', '--print-config'], {
      cwd: root,
      env: { GUARDED_ROLLOUT_ROLLBACK_HEALTH_CHECKS: '5' },
    });
    expect(viaFlag.stdout).toMatch(/--health-checks\s+6\s+flag\s+--health-checks/);
    const keep = await cli(['config', 'check', '--env', 'production', '--command', 'rollback'], {
      cwd: checkout({ keep_previous: 3 }),
    });
    expect(keep.stdout).toMatch(
      /--keep-previous\s+3\s+file\s+.*environments\.production\.rollback\.keep_previous/,
    );
    const monitor = await cli(['monitor', '--env', 'production', '--print-config'], { cwd: root });
    expect(monitor.stdout).toMatch(/--time-scale\s+600\s+file/);
    const notify = await cli(
      ['notify', '--event', 'deploy-started', '--env', 'production', '--print-config'],
      {
        cwd: root,
      },
    );
    expect(notify.stdout).toMatch(/--timeout\s+2s\s+file/);
  });

  it('GUARDED_ROLLOUT_CONFIG chooses the file; a bad value names file, field and what is valid', async () => {
    const root = checkout({ health_checks: 'three' });
    const r = await cli(['config', 'check', '--env', 'production'], { cwd: root });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /guarded-rollout\.config\.json: environments\.production\.rollback\.health_checks: "three" is not valid; expected a whole number/,
    );
    const unknown = checkout({ helth_url: 'x' });
    const u = await cli(['rollback', '--env', 'production', '--latest'], { cwd: unknown });
    expect(u.stderr).toMatch(/rollback\.helth_url: unknown setting; valid: target, .*health_url/);
    const other = await cli(['config', 'check', '--env', 'staging'], {
      cwd: tmpdir(),
      env: { GUARDED_ROLLOUT_CONFIG: join(checkout(), 'guarded-rollout.config.json') },
    });
    expect(other.code).toBe(0);
    expect(other.stdout).toContain('is valid');
  });
});

describe('unknown environments', () => {
  it.each([
    [['backup', '--env', 'prod']],
    [['latest-backup', '--env', 'prod']],
    [['rollback', '--env', 'prod', '--latest']],
    [['notify', '--event', 'deploy-started', '--env', 'prod', '--dry-run']],
    [['deploy', '--env', 'prod']],
    [['config', 'check', '--env', 'prod']],
  ])('%j is refused, listing the configured ones', async (argv) => {
    const root = checkout();
    const r = await cli(argv, { cwd: root });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown environment "prod"; configured: production, staging/);
  });
});

it('monitor leaves the environment list to its quality-gates file', async () => {
  const root = checkout();
  const gates = fileURLToPath(new URL('../../../quality-gates-config.json', import.meta.url));
  const r = await cli(['monitor', '--env', 'development', '--config', gates, '--health-url', healthUrl], {
    cwd: root,
  });
  expect(r.stderr).not.toContain('unknown environment'); // development: a gates environment only
  const bad = await cli(['monitor', '--env', 'prod', '--config', gates], { cwd: root });
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(
    /unknown environment "prod"; this file defines: production, staging, development/,
  );
});

describe('honest rollback outcomes', () => {
  async function backedUp(rollback: Record<string, unknown> = {}): Promise<string> {
    const root = checkout(rollback);
    expect((await cli(['backup', '--env', 'production'], { cwd: root, now: NOW })).code).toBe(0);
    expect((await cli(['backup', '--env', 'staging'], { cwd: root, now: NOW })).code).toBe(0);
    writeFileSync(join(root, 'srv/data/hashes.db'), 'v2 broken\n');
    return root;
  }

  it('succeeds only after the consecutive OK health checks', async () => {
    healthy = true;
    const root = await backedUp({ health_url: healthUrl });
    const r = await cli(['rollback', '--env', 'production', '--latest'], { cwd: root, now: NOW });
    expect(r.stdout).toContain('status: succeeded');
    expect(r.stdout).toContain('health-checks-ok: 3');
    expect(r.code).toBe(0);
    expect(readFileSync(join(root, 'srv/data/hashes.db'), 'utf8')).toBe('v1 data\n');
  });

  it('fails when the health checks never reach the streak', async () => {
    healthy = false;
    const root = await backedUp({ health_url: healthUrl, health_deadline: '300ms' });
    const r = await cli(['rollback', '--env', 'production', '--latest'], { cwd: root, now: NOW });
    healthy = true;
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('status: failed');
  });

  it('without a health URL: restored-unverified, exit 1 in production unless --allow-unverified', async () => {
    const root = await backedUp();
    const r = await cli(['rollback', '--env', 'production', '--latest'], { cwd: root, now: NOW });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('status: restored-unverified');
    expect(r.stdout).toMatch(/summary: .*NOT verified/);
    expect(r.stdout).not.toContain('succeeded');
    expect(readFileSync(join(root, 'rollback.log'), 'utf8')).toMatch(/"outcome":"restored-unverified"/);
    // (later clocks: each restore keeps the replaced tree under a name with its time)
    const allowed = await cli(['rollback', '--env', 'production', '--latest', '--allow-unverified'], {
      cwd: root,
      now: () => new Date('2026-11-23T12:01:00Z'),
    });
    expect(allowed.code).toBe(0);
    expect(allowed.stdout).toContain('status: restored-unverified');
    const staging = await cli(['rollback', '--env', 'staging', '--latest'], {
      cwd: root,
      now: () => new Date('2026-11-23T12:02:00Z'),
    });
    expect(staging).toMatchObject({ code: 0 });
    expect(staging.stderr).toContain('restored-unverified');
  });
});

describe('live tree changed since the deploy', () => {
  async function deployed(): Promise<string> {
    const root = checkout({ health_url: healthUrl });
    expect((await cli(['backup', '--env', 'production'], { cwd: root, now: NOW })).code).toBe(0);
    const d = await cli(['deploy', '--env', 'production', '--no-github'], { cwd: root, now: NOW });
    expect(d.code).toBe(0);
    expect(d.stdout).toContain('deployed-tree record:');
    return root;
  }

  it('an unchanged tree rolls back without --force', async () => {
    healthy = true;
    const root = await deployed();
    const r = await cli(['rollback', '--env', 'production', '--latest'], { cwd: root, now: NOW });
    expect(r.code).toBe(0);
  });

  it('modified or added files refuse the rollback (exit 1, nothing changed) unless --force', async () => {
    healthy = true;
    const root = await deployed();
    writeFileSync(join(root, 'srv/release.txt'), '1.0-hotfix\n');
    writeFileSync(join(root, 'srv/patch.sh'), 'echo hotfix\n');
    const r = await cli(['rollback', '--env', 'production', '--latest'], { cwd: root, now: NOW });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /live tree changed since the deploy .*modified: release\.txt; added: patch\.sh.*--force/,
    );
    expect(readFileSync(join(root, 'srv/release.txt'), 'utf8')).toBe('1.0-hotfix\n');
    const forced = await cli(['rollback', '--env', 'production', '--latest', '--force'], {
      cwd: root,
      now: () => new Date('2026-11-23T12:01:00Z'),
    });
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain('status: succeeded');
  });

  it('a --release-path outside the target is one usage error naming the flag and value (exit 2), nothing restored', async () => {
    const root = await deployed();
    writeFileSync(join(root, 'srv/release.txt'), '1.0-hotfix\n');
    for (const [path, why] of [
      ['/etc', 'is absolute; give it relative to the target'],
      ['data/../..', "leaves the target ('..')"],
    ]) {
      const r = await cli(['rollback', '--env', 'production', '--latest', '--release-path', path!], {
        cwd: root,
        now: NOW,
      });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`--release-path: ${JSON.stringify(path)} ${why}`);
    }
    expect(readFileSync(join(root, 'srv/release.txt'), 'utf8')).toBe('1.0-hotfix\n');
  });

  it('removed files never block', async () => {
    healthy = true;
    const root = await deployed();
    unlinkSync(join(root, 'srv/release.txt'));
    const r = await cli(['rollback', '--env', 'production', '--latest'], { cwd: root, now: NOW });
    expect(r.code).toBe(0);
  });
});

describe('argument errors', () => {
  it('verify-artifacts on a directory that does not exist is a usage error (exit 2), not a table', async () => {
    const r = await cli(['verify-artifacts', '/nonexistent/evidence']);
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toMatch(/^error: \/nonexistent\/evidence does not exist; give the directory/);
  });

  it('names an excess value and how to pass it', async () => {
    const r = await cli([
      'notify',
      '--event',
      'deploy-started',
      '--env',
      'staging',
      '--timeout',
      '5',
      'minutes',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unexpected argument "minutes" after --timeout 5: .*--timeout "5 minutes".*5m/);
  });

  it('lists every command in --help without loading them, and help X shows X', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    for (const name of ['backup', 'rollback', 'monitor', 'notify', 'config', 'verify-artifacts'])
      expect(r.stdout).toContain(name);
    const x = await cli(['help', 'rollback']);
    expect(x.stdout).toContain('--allow-unverified');
  });
});
