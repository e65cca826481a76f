// `guarded-rollout guarded-deploy`: the same sequence as the action, from a terminal, against the
// sample DHash service on loopback (real git tags, real backup, real watch).
import { afterEach, describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ctl, startSite, startWebhook, writeGates, type Site } from '../../rollout/__tests__/support.js';
import { cli } from './run-cli.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A guarded deploy of 1.1.0 to production watched for 10 (virtual) minutes against `site`'s health. */
const watchedDeploy = (site: Site): string[] => [
  'guarded-deploy',
  '--env',
  'production',
  '--release',
  '1.1.0',
  '--command',
  ctl(site.root, 'deploy', '--version', '1.1.0'),
  '--gates-config',
  writeGates(site.dir),
  '--health-url',
  `${site.base}/health`,
  '--duration',
  '10m',
  '--time-scale',
  '300',
];

describe('guarded-rollout guarded-deploy', () => {
  it('deploys a release with no smoke config, watches it and exits 0', async () => {
    const site = await startSite('none');
    cleanups.push(() => site.stop());
    const hook = await startWebhook('ok');
    cleanups.push(() => hook.close());
    const run = await cli(
      [
        ...watchedDeploy(site),
        '--backup-paths',
        'active-release,releases.json,data,supervisor.json',
        '--backup-base-dir',
        'live',
        '--restart-command',
        ctl(site.root, 'restart'),
      ],
      { cwd: site.dir, env: { PATH: process.env.PATH, NOTIFY_WEBHOOK_URL: hook.url } },
    );

    expect(run.stderr).toBe('');
    expect(run.stdout).toContain(
      'guarded-deploy succeeded (stage notify-outcome): 1.1.0 is live on production',
    );
    expect(run.stdout).toContain('Smoke: skipped — no critical smoke checks configured for production.');
    expect(run.code).toBe(0);
    expect(readFileSync(join(site.root, 'active-release'), 'utf8').trim()).toBe('1.1.0');
    expect(hook.received.some((b) => b.includes('deploy-succeeded'))).toBe(true);
  }, 60_000);

  it("the automatic rollback takes the rollout config's rollback section (restart command, health checks, release paths) when no flag is given", async () => {
    const site = await startSite('dying-health', 1);
    cleanups.push(() => site.stop());
    const restarted = join(site.dir, 'restarted-by-config');
    writeFileSync(
      join(site.dir, 'guarded-rollout.config.json'),
      JSON.stringify({
        environments: {
          production: {
            backup: {
              paths: ['active-release', 'releases.json', 'data', 'supervisor.json'],
              base_dir: 'live',
            },
            rollback: {
              target: 'live',
              restart_command: `touch ${restarted} && ${ctl(site.root, 'restart')}`,
              health_url: `${site.base}/health`,
              health_interval: '100ms',
              release_paths: ['active-release', 'releases.json'],
            },
          },
        },
      }),
    );
    const run = await cli(watchedDeploy(site), { cwd: site.dir, env: { PATH: process.env.PATH } });
    expect(run.stdout).toMatch(/guarded-deploy rolled-back/);
    expect(run.code).toBe(1);
    // Before: the restart_command of the config was not run (flags only), the service stayed on
    // 1.1.0 and the rollback's health checks failed.
    expect(existsSync(restarted)).toBe(true);
    expect(readFileSync(join(site.root, 'active-release'), 'utf8').trim()).toBe('1.0.0');
    const health = (await (await fetch(`${site.base}/health`)).json()) as { version: string };
    expect(health.version).toBe('1.0.0');
    const record = JSON.parse(readFileSync(join(site.dir, '.live.deployed-tree.json'), 'utf8')) as {
      paths: string[];
      files: Record<string, unknown>;
    };
    expect(record.paths).toEqual(['active-release', 'releases.json']);
    expect(Object.keys(record.files).sort()).toEqual(['active-release', 'releases.json']);
  }, 60_000);

  it('a release path in the config that leaves the target is one error naming the file, field and value (exit 2)', async () => {
    const site = await startSite('none');
    cleanups.push(() => site.stop());
    const config = join(site.dir, 'guarded-rollout.config.json');
    writeFileSync(
      config,
      JSON.stringify({ environments: { production: { rollback: { release_paths: ['app', '../etc'] } } } }),
    );
    const run = await cli(
      ['guarded-deploy', '--env', 'production', '--release', '1.1.0', '--command', 'true'],
      { cwd: site.dir, env: { PATH: process.env.PATH } },
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(config);
    expect(run.stderr).toContain(
      `environments.production.rollback.release_paths: "../etc" leaves the target ('..')`,
    );
    expect(`${run.stdout}${run.stderr}`).not.toMatch(/\n\s+at /);
    expect(existsSync(join(site.dir, 'backups'))).toBe(false);
  }, 30_000);

  /** A guarded deploy of 1.1.0 to production with `extra` flags, against a fresh site. */
  async function refusedRun(...extra: string[]) {
    const site = await startSite('none');
    cleanups.push(() => site.stop());
    return cli(
      ['guarded-deploy', '--env', 'production', '--release', '1.1.0', '--command', 'true', ...extra],
      {
        cwd: site.dir,
        env: { PATH: process.env.PATH },
      },
    );
  }

  it('refuses skip-backup in production with exit 2 and one clear line', async () => {
    const run = await refusedRun('--skip-backup');
    expect(run.code).toBe(2);
    expect(run.stdout).toContain(
      'guarded-deploy refused (stage plan): skip-backup is refused for production (nothing to roll back to)',
    );
    expect(run.stdout).not.toMatch(/\n\s+at /);
  }, 30_000);

  it('refuses --keep-previous that is not a whole number from 1 to 10000 with exit 2, naming it', async () => {
    const run = await refusedRun('--keep-previous', '0');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--keep-previous: "0" is not a whole number from 1 to 10000');
    expect(`${run.stdout}${run.stderr}`).not.toMatch(/\n\s+at /);
  }, 30_000);
});
