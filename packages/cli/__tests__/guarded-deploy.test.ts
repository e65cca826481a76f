// `guarded-rollout guarded-deploy`: the same sequence as the action, from a terminal, against the
// sample DHash service on loopback (real git tags, real backup, real watch).
import { afterEach, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ctl, startSite, startWebhook, writeGates } from '../../rollout/__tests__/support.js';
import { cli } from './run-cli.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('guarded-rollout guarded-deploy', () => {
  it('deploys a release with no smoke config, watches it and exits 0', async () => {
    const site = await startSite('none');
    cleanups.push(() => site.stop());
    const hook = await startWebhook('ok');
    cleanups.push(() => hook.close());
    const run = await cli(
      [
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
