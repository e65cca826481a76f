// The guarded deploy end to end, in-process: the sample DHash service on loopback as the target,
// real files, real backups and restores, the OpenAPI-validated fake GitHub, a real webhook.
import { afterEach, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { restoreBackup } from '@guarded-rollout/archive';
import { recordRestoredBackup } from '@guarded-rollout/deploy';
import { deploymentHandlers } from '@guarded-rollout/fake-github';
import { readUndelivered } from '@guarded-rollout/notify';
import { canMountTmpfs } from '../../archive/__tests__/fixtures.js';
import { httpFaults, smtpFaults } from '../../notify/__tests__/faults.js';
import { runGuardedDeploy } from '../src/index.js';
import {
  ctl,
  options,
  seedActive,
  startGitHub,
  startSite,
  startWebhook,
  world,
  type GitHubSide,
  type Site,
} from './support.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setUp(fault: string, onset = 0, webhook: 'ok' | 'hang' = 'ok') {
  const site: Site = await startSite(fault, onset);
  cleanups.push(() => site.stop());
  const gh: GitHubSide = await startGitHub();
  cleanups.push(() => gh.fake.stop());
  const hook = await startWebhook(webhook);
  cleanups.push(() => hook.close());
  const previousId = await seedActive(gh, site.commits['1.0.0']!, '1.0.0');
  return { site, gh, hook, previousId };
}

const version = async (base: string): Promise<string> =>
  ((await (await fetch(`${base}/health`)).json()) as { version: string }).version;

describe('runGuardedDeploy', () => {
  it('passes a healthy README-example release with no smoke config; Deployment success only after the watch', async () => {
    const { site, gh, hook } = await setUp('none');
    const w = world(site, gh, hook.url);
    const result = await runGuardedDeploy(options(site), w);

    expect(result.message).toBe('1.1.0 is live on production');
    expect(result.result).toBe('succeeded');
    expect(result.smoke).toBe('skipped');
    expect(result.summary).toContain('Smoke: skipped — no critical smoke checks configured for production.');
    expect(w.lines.some((l) => l.text.startsWith('warning: no critical smoke checks configured'))).toBe(true);
    // The plan says how the automatic rollback would run; with a restart command and a health URL
    // it warns about neither.
    expect(w.lines.map((l) => l.text)).toContain(
      `automatic rollback on a violation: restore this run's backup into ${site.root}; restart: ${ctl(site.root, 'restart')}; 3 consecutive OK health checks of ${site.base}/health`,
    );
    expect(w.lines.filter((l) => l.text.includes('the automatic rollback has no'))).toEqual([]);
    expect(result.monitorResult).toBe('passed');
    expect(await version(site.base)).toBe('1.1.0');

    const d = gh.store.find(result.deploymentId!)!;
    expect(d.ref).toBe(site.commits['1.1.0']);
    const states = d.statuses.map((s) => `${s.state}: ${s.description}`);
    expect(states[0]).toBe('in_progress: deploying 1.1.0');
    // "monitoring T+NN m" through the watch (refreshed every 5 virtual minutes), then the verdict.
    expect(states.slice(1, 3)).toEqual(['in_progress: monitoring T+00 m', 'in_progress: monitoring T+05 m']);
    for (const s of states.slice(1, -1)) expect(s).toMatch(/^in_progress: monitoring T\+\d\d m$/);
    expect(states.at(-1)).toMatch(/^success: watch passed/);
    for (const s of d.statuses) {
      expect(s.environmentUrl).toBe(site.base);
      expect(s.logUrl).toBe('https://github.com/acme/dhash/actions/runs/42');
    }
    // The success came after the monitor's last poll.
    const summary = JSON.parse(
      readFileSync(result.monitorReport!.replace(/\.html$/, '.summary.json'), 'utf8'),
    ) as { endedAt: string };
    expect(Date.parse(d.statuses.at(-1)!.createdAt)).toBeGreaterThanOrEqual(Date.parse(summary.endedAt));
    expect(result.backupPath && existsSync(result.backupPath)).toBeTruthy();
    expect(gh.fake.violations).toEqual([]);
  }, 60_000);

  it('rolls back a gate violation (hung webhook), leaves files outside the backed-up roots alone, and makes the restored version active', async () => {
    const { site, gh, hook, previousId } = await setUp('dying-health', 1, 'hang');
    writeFileSync(join(site.root, 'operator-notes.txt'), 'not part of any backup\n');
    const restartMark = join(site.dir, 'restart-at');
    const o = options(site, { notifyBudgetMs: 1500 });
    o.rollback.restartCommand = `${process.execPath} -e "require('fs').writeFileSync(process.argv[1], String(Date.now()))" ${restartMark} && ${o.rollback.restartCommand}`;
    const w = world(site, gh, hook.url);
    const result = await runGuardedDeploy(o, w);

    expect(result.result).toBe('rolled-back');
    expect(result.monitorResult).toBe('violated');
    expect(result.violatedGates).toEqual(['health']);
    expect(result.rollbackStatus).toBe('succeeded');
    expect(await version(site.base)).toBe('1.0.0');
    expect(readFileSync(join(site.root, 'active-release'), 'utf8').trim()).toBe('1.0.0');
    expect(readFileSync(join(site.root, 'operator-notes.txt'), 'utf8')).toBe('not part of any backup\n');

    // A webhook that never answers does not hold the rollback: restart within 1 s of the violation.
    const violation = w.lines.find((l) => l.text.startsWith('gate violation:'))!;
    const restartAt = Number(readFileSync(restartMark, 'utf8'));
    expect(restartAt - violation.at).toBeLessThanOrEqual(1000);

    const ours = gh.store.find(result.deploymentId!)!;
    expect(ours.statuses.at(-1)!.state).toBe('failure');
    expect(ours.statuses.map((s) => s.state)).not.toContain('success');
    const restored = gh.store.find(result.restoredDeploymentId!)!;
    expect(restored.ref).toBe(site.commits['1.0.0']);
    expect(restored.statuses.map((s) => s.state)).toEqual(['in_progress', 'success']);
    // GitHub's active deployment of the environment is the restored release.
    expect(await gh.recorder.active('production')).toMatchObject({ id: restored.id, version: '1.0.0' });
    expect(gh.store.states(previousId).at(-1)).toBe('inactive');
    expect(gh.fake.violations).toEqual([]);
  }, 60_000);

  it('the plan warns, before anything changes, when the automatic rollback has no restart command or no health URL', async () => {
    const { site, gh, hook } = await setUp('none');
    const o = options(site, { dryRun: true });
    delete o.rollback.restartCommand;
    delete o.rollback.healthUrl;
    const w = world(site, gh, hook.url);
    await runGuardedDeploy(o, w);
    const texts = w.lines.map((l) => l.text);
    expect(texts).toContain(
      `automatic rollback on a violation: restore this run's backup into ${site.root}; restart: none; no health check`,
    );
    expect(texts.filter((t) => t.startsWith('warning: the automatic rollback has no'))).toEqual([
      'warning: the automatic rollback has no restart command: it would restore the files and leave the running service as it is (set the restart command unless the service reloads its files itself)',
      'warning: the automatic rollback has no health URL: a rollback could not be verified and would be reported failed (restored-unverified)',
    ]);
  }, 60_000);

  it("stops at GitHub's commit-status gate (409) naming the failing contexts, without a retry or a deploy", async () => {
    const { site, gh, hook } = await setUp('none');
    const create = deploymentHandlers(gh.store)['repos/create-deployment']!;
    const seen: unknown[] = [];
    gh.fake.on('repos/create-deployment', (req, f) => {
      seen.push((req.body as Record<string, unknown>).required_contexts);
      if ((req.body as Record<string, unknown>).required_contexts !== undefined) return create(req, f);
      return {
        status: 409,
        body: {
          message: 'Conflict: Commit status checks failed for 1.1.0.',
          documentation_url: 'https://docs.github.com/rest/deployments/deployments#create-a-deployment',
          errors: [
            {
              contexts: [
                { context: 'ci/test', state: 'failure' },
                { context: 'security/scan', state: 'pending' },
              ],
              resource: 'Deployment',
              field: 'required_contexts',
              code: 'invalid',
            },
          ],
        },
      };
    });
    const deployed = join(site.dir, 'deployed');
    const result = await runGuardedDeploy(
      options(site, { deployCommand: `touch ${deployed}` }),
      world(site, gh, hook.url),
    );
    expect(result.result).toBe('refused');
    expect(result.message).toContain('ci/test (failure), security/scan (pending)');
    expect(seen).toEqual([undefined]); // GitHub's own gate on, asked once
    expect(existsSync(deployed)).toBe(false);
    expect(result.backupPath).toBeUndefined();
    expect(await version(site.base)).toBe('1.0.0');
    expect(gh.fake.violations).toEqual([]);
  }, 30_000);

  it('refuses before any change when smoke.required is set but no critical check is configured', async () => {
    const { site, gh, hook } = await setUp('none');
    const result = await runGuardedDeploy(
      options(site, { smoke: { checks: [], required: true } }),
      world(site, gh, hook.url),
    );
    expect(result.result).toBe('refused');
    expect(result.message).toBe(
      'smoke.required is true for production but no critical smoke checks are configured (smoke.checks[].tier "critical")',
    );
    expect(result.deploymentId).toBeUndefined();
    expect(await version(site.base)).toBe('1.0.0');
  }, 30_000);

  // A real tmpfs over the site's data directory (root only; skipped visibly elsewhere).
  (canMountTmpfs() ? it : it.skip)(
    'refuses at plan, before any change, when the automatic rollback would meet a mount point in a root it replaces',
    async () => {
      const { site, gh, hook } = await setUp('none');
      const data = join(site.root, 'data');
      mkdirSync(data, { recursive: true });
      expect(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', data]).status).toBe(0);
      cleanups.push(async () => void spawnSync('umount', [data]));
      const deployed = join(site.dir, 'deployed');
      const result = await runGuardedDeploy(
        options(site, { deployCommand: `touch ${deployed}` }),
        world(site, gh, hook.url),
      );
      expect(result.result).toBe('refused');
      expect(result.message).toBe(
        `the automatic rollback could not run: cannot replace ${data}: it is a mount point (tmpfs), which a restore cannot move aside (it renames each root it replaces); restore into it instead, from a backup of its contents (backup --base-dir ${data} --path .) with --target ${data}, or unmount it first; nothing was changed`,
      );
      expect(existsSync(deployed)).toBe(false);
      expect(result.backupPath).toBeUndefined();
      expect(result.deploymentId).toBeUndefined();
      expect(await version(site.base)).toBe('1.0.0');
    },
    30_000,
  );

  // An immutable root (chattr +i; root on ext4, skipped visibly elsewhere): the plan's checks pass,
  // the backup is made, and the rollback rehearsed on it finds the root cannot be moved aside.
  (process.getuid?.() === 0 && spawnSync('chattr', ['-i', tmpdir()]).status === 0 ? it : it.skip)(
    'rehearses the automatic rollback on its own backup before deploying: one that could not run refuses, nothing deployed',
    async () => {
      const { site, gh, hook } = await setUp('none');
      const data = join(site.root, 'data');
      mkdirSync(data, { recursive: true });
      expect(spawnSync('chattr', ['+i', data]).status).toBe(0);
      cleanups.push(async () => void spawnSync('chattr', ['-i', data]));
      const deployed = join(site.dir, 'deployed');
      const w = world(site, gh, hook.url);
      const result = await runGuardedDeploy(options(site, { deployCommand: `touch ${deployed}` }), w);
      expect(result.result).toBe('refused');
      expect(result.message).toBe(
        `the automatic rollback could not restore this run's backup, so nothing was deployed: cannot replace ${data}: ${data} is not writable even for root: it is probably immutable or append-only (lsattr -d shows i or a; chattr -i or -a clears it), or a security module (SELinux, AppArmor) denies it; the restore moves it aside into ${join(site.root, '.guarded-rollout/pre-rollback')}; nothing was changed`,
      );
      expect(result.backupPath).toBeDefined();
      expect(existsSync(deployed)).toBe(false);
      expect(await version(site.base)).toBe('1.0.0');
      // Cleared, the same deploy rehearses its rollback, says so, and goes on.
      spawnSync('chattr', ['-i', data]);
      const w2 = world(site, gh, hook.url);
      const again = await runGuardedDeploy(options(site, { deployCommand: `touch ${deployed}` }), w2);
      expect(again.result).not.toBe('refused');
      expect(existsSync(deployed)).toBe(true);
      expect(
        w2.lines.some((l) =>
          /^rollback rehearsed: verified dhash_production_\w+\.zip; would restore it into /.test(l.text),
        ),
      ).toBe(true);
    },
    60_000,
  );

  it('a cancel during the rollback rehearsal is recorded at once, deploys nothing, and the rehearsal itself stops', async () => {
    const { site, gh, hook } = await setUp('none');
    const deployed = join(site.dir, 'deployed');
    const controller = new AbortController();
    const w = world(site, gh, hook.url, controller);
    w.log.group = (name, run) => {
      if (name === 'rollback rehearsal') controller.abort(); // the runner's cancel as it starts
      return run();
    };
    const o = options(site, { deployCommand: `touch ${deployed}` });
    const result = await runGuardedDeploy(o, w);
    expect(result.result).toBe('cancelled');
    expect(result.stage).toBe('backup');
    expect(existsSync(deployed)).toBe(false);
    expect(gh.store.find(result.deploymentId!)!.statuses.at(-1)).toMatchObject({
      state: 'error',
      description: 'cancelled at stage backup',
    });
    // The dry run was not left reading the backup: it ended on the cancel, and says so.
    const dryRunLog = join(o.deploy.logDir, 'rollback-dryrun.log');
    for (
      let i = 0;
      i < 300 &&
      !(existsSync(dryRunLog) && /CANCELLED|plan \(nothing changed\)/.test(readFileSync(dryRunLog, 'utf8')));
      i++
    )
      await new Promise((r) => setTimeout(r, 100));
    const text = readFileSync(dryRunLog, 'utf8');
    expect(text).toContain(
      `CANCELLED: dry run cancelled before the swap; the live tree ${site.root} was not changed`,
    );
    expect(text).not.toContain('plan (nothing changed)');
  }, 60_000);

  it('rolls back when a critical smoke check fails, and names it; keep-previous applies to the automatic rollback', async () => {
    const { site, gh, hook } = await setUp('none');
    // A version an earlier rollback kept: with keepPrevious 1 only the one this rollback makes stays.
    const older = join(site.root, '.guarded-rollout/pre-rollback/20200101T000000Z');
    mkdirSync(join(older, 'data'), { recursive: true });
    const settings = options(site, {
      smoke: {
        checks: [
          {
            name: 'version endpoint',
            tier: 'critical',
            method: 'GET',
            url: '/health',
            headers: {},
            expectStatus: 200,
            json: [{ path: 'version', equals: '9.9.9' }],
            timeoutMs: 5000,
          },
        ],
        required: true,
        baseUrl: site.base,
      },
    });
    const result = await runGuardedDeploy(
      { ...settings, rollback: { ...settings.rollback, keepPrevious: 1 } },
      world(site, gh, hook.url),
    );
    expect(result.smoke).toBe('failed');
    expect(result.result).toBe('rolled-back');
    expect(result.message).toContain('version endpoint');
    expect(await version(site.base)).toBe('1.0.0');
    expect(existsSync(older)).toBe(false);
    expect(readdirSync(join(site.root, '.guarded-rollout/pre-rollback'))).toHaveLength(1);
    expect(readFileSync(join(site.dir, 'logs/rollback.log'), 'utf8')).toContain(
      `keep-previous 1: 1 older previous version deleted\n  removed previous version ${older}\n`,
    );
    expect(gh.store.states(result.deploymentId!).at(-1)).toBe('failure');
    expect(gh.fake.violations).toEqual([]);
  }, 60_000);

  it('a manual rollback of that backup (the rollback action) makes the restored release active again', async () => {
    const { site, gh, hook } = await setUp('none');
    const o = options(site);
    const deployed = await runGuardedDeploy(o, world(site, gh, hook.url));
    expect(deployed.result).toBe('succeeded');
    expect((await gh.recorder.active('production'))?.id).toBe(deployed.deploymentId);

    // What actions/rollback does: verified restore, then record the backup's release.
    const restored = await restoreBackup({
      environment: 'production',
      backupPath: deployed.backupPath!,
      target: site.root,
      restartCommand: o.rollback.restartCommand!,
      healthUrl: `${site.base}/health`,
      health: { required: 3, intervalMs: 200, timeoutMs: 2000, deadlineMs: 20_000 },
      cwd: site.dir,
      logDir: site.dir,
    });
    expect(restored.status).toBe('succeeded');
    const recorded = await recordRestoredBackup(gh.recorder, {
      environment: 'production',
      backupPath: restored.restoredFrom,
      reason: 'manual rollback',
    });
    expect(recorded).toHaveProperty('id');
    const id = (recorded as { id: number }).id;
    expect(gh.store.find(id)).toMatchObject({ ref: site.commits['1.0.0'], payload: { version: '1.0.0' } });
    expect(await gh.recorder.active('production')).toMatchObject({ id, version: '1.0.0' });
    expect(gh.store.states(deployed.deploymentId!).at(-1)).toBe('inactive');
    expect(await version(site.base)).toBe('1.0.0');
    expect(gh.fake.violations).toEqual([]);
  }, 60_000);

  it('a failed deploy with every notification channel hung starts the rollback within 1 s; the undelivered rollback-started is journalled', async () => {
    const { site, gh } = await setUp('none');
    const hook = await httpFaults.hang();
    const smtp = await smtpFaults.neverGreets();
    cleanups.push(
      () => hook.close(),
      () => smtp.close(),
    );
    const restartMark = join(site.dir, 'restart-at');
    const o = options(site, { deployCommand: 'exit 3', notifyBudgetMs: 2000 });
    o.rollback.restartCommand = `${process.execPath} -e "require('fs').writeFileSync(process.argv[1], String(Date.now()))" ${restartMark} && ${o.rollback.restartCommand}`;
    let rollbackAt = 0;
    const w = world(
      site,
      gh,
      hook.url,
      undefined,
      (stage) => {
        if (stage === 'rollback') rollbackAt = Date.now();
      },
      { SMTP_URL: smtp.url, NOTIFY_EMAIL_TO: 'oncall@example.com', NOTIFY_EMAIL_FROM: 'deploy@example.com' },
    );
    const result = await runGuardedDeploy(o, w);
    expect(result.deployStatus).toBe('failed');
    expect(result.result).toBe('rolled-back');
    const restartAt = Number(readFileSync(restartMark, 'utf8'));
    console.log(`entering rollback → restart began: ${restartAt - rollbackAt} ms (webhook and SMTP hung)`);
    expect(restartAt - rollbackAt).toBeLessThan(1000);
    const undelivered = readUndelivered(join(site.dir, 'notify-fallback', 'notifications.jsonl'));
    const started = undelivered.filter((e) => e.event === 'rollback-started');
    expect(started.map((e) => [e.channel, e.status]).sort()).toEqual([
      ['email', 'failed'],
      ['webhook', 'failed'],
    ]);
    expect(gh.store.states(result.deploymentId!).at(-1)).toBe('failure');
    expect(gh.fake.violations).toEqual([]);
  }, 60_000);

  describe('with baseline gates', () => {
    const baselineGates = (dir: string): string => {
      const file = join(dir, 'baseline-gates.json');
      writeFileSync(
        file,
        JSON.stringify({
          version: 1,
          defaults: {
            window: '10m',
            escalations: ['5m'],
            gates: {
              health: { kind: 'consecutive_failures', source: 'health', threshold: 2 },
              failures_vs_baseline: {
                kind: 'baseline',
                compare: 'ratio',
                numerator: 'extractions_failed',
                denominator: 'extractions_total',
              },
            },
          },
          environments: { production: {} },
        }),
      );
      return file;
    };

    it('deploys nothing when the baseline cannot be recorded (no traffic: too little data)', async () => {
      const { site, gh, hook } = await setUp('none');
      const o = options(site);
      o.watch = { ...o.watch, configFile: baselineGates(site.dir), metricsUrl: `${site.base}/metrics` };
      const result = await runGuardedDeploy(o, world(site, gh, hook.url));
      expect(result.result).toBe('refused');
      expect(result.stage).toBe('notify-outcome');
      expect(result.message).toMatch(/^baseline not recorded, nothing was deployed: /);
      expect(result.backupPath).toBeUndefined();
      expect(await version(site.base)).toBe('1.0.0');
      expect(gh.store.states(result.deploymentId!).at(-1)).toBe('failure');
      expect(gh.fake.violations).toEqual([]);
    }, 60_000);

    it('a cancel while the baseline is recorded deploys nothing and is recorded', async () => {
      const { site, gh, hook } = await setUp('none');
      const o = options(site);
      o.watch = { ...o.watch, configFile: baselineGates(site.dir), metricsUrl: `${site.base}/metrics` };
      const controller = new AbortController();
      const w = world(site, gh, hook.url, controller, (stage) => {
        if (stage === 'baseline') setTimeout(() => controller.abort(), 300);
      });
      const result = await runGuardedDeploy(o, w);
      expect(result.result).toBe('cancelled');
      expect(result.stage).toBe('baseline');
      expect(await version(site.base)).toBe('1.0.0');
      expect(gh.store.find(result.deploymentId!)!.statuses.at(-1)).toMatchObject({
        state: 'error',
        description: 'cancelled at stage baseline',
      });
    }, 60_000);
  });
});
