// A cancel at every stage of the guarded deploy is recorded well inside the runner's 10 s: the
// Deployment ends `error` "cancelled at stage X", a notification goes out, the watch leaves its
// partial report, and no process of the deploy command is left.
import { afterAll, afterEach, describe, expect, it } from '@jest/globals';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { processAlive, treeAlive, type SmokeCheck } from '@guarded-rollout/deploy';
import { runGuardedDeploy, type Stage } from '../src/index.js';
import { options, seedActive, startGitHub, startSite, startWebhook, world } from './support.js';

const cleanups: Array<() => Promise<void>> = [];
const measured: string[] = [];
afterAll(() => {
  if (measured.length) console.log(`cancel → recorded (ms):\n${measured.join('\n')}`);
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

// A command whose grandchild would outlive a kill of the shell alone.
const longCommand = (pidFile: string): string => `sleep 60 & echo $! > ${pidFile}; wait`;

interface Case {
  stage: Stage;
  /** ms after the stage begins (0: at once). */
  after: number;
  setup?: 'migrate' | 'deploy' | 'smoke' | 'fail-deploy';
}

const cases: Case[] = [
  { stage: 'plan', after: 0 },
  { stage: 'notify-started', after: 0 },
  { stage: 'backup', after: 0 },
  { stage: 'migrate', after: 400, setup: 'migrate' },
  { stage: 'deploy', after: 400, setup: 'deploy' },
  { stage: 'smoke', after: 300, setup: 'smoke' },
  { stage: 'watch', after: 600 },
  { stage: 'rollback', after: 0, setup: 'fail-deploy' },
];

describe('cancel at each stage', () => {
  it.each(cases)(
    'is recorded within 10 s when it arrives during $stage',
    async ({ stage, after, setup }) => {
      const site = await startSite('none');
      cleanups.push(() => site.stop());
      const gh = await startGitHub();
      cleanups.push(() => gh.fake.stop());
      const hook = await startWebhook('ok');
      cleanups.push(() => hook.close());
      const hang = await startWebhook('hang');
      cleanups.push(() => hang.close());
      await seedActive(gh, site.commits['1.0.0']!, '1.0.0');

      const pidFile = join(site.dir, 'command.pid');
      const controller = new AbortController();
      let abortedAt = 0;
      const w = world(site, gh, hook.url, controller, (entered) => {
        if (entered !== stage || abortedAt) return;
        const cancel = (): void => {
          abortedAt = Date.now();
          controller.abort();
        };
        // 0: the signal arrives as the stage begins (a stage with no waiting point would end first).
        if (after === 0) cancel();
        else setTimeout(cancel, after);
      });
      const smokeHang: SmokeCheck = {
        name: 'hash endpoint',
        tier: 'critical',
        method: 'GET',
        url: hang.url,
        headers: {},
        expectStatus: 200,
        json: [],
        timeoutMs: 30_000,
      };
      const o = options(site, {
        ...(setup === 'migrate' ? { migrateCommand: longCommand(pidFile) } : {}),
        ...(setup === 'deploy' ? { deployCommand: longCommand(pidFile) } : {}),
        ...(setup === 'fail-deploy' ? { deployCommand: 'exit 3' } : {}),
        ...(setup === 'smoke' ? { smoke: { checks: [smokeHang], required: false } } : {}),
      });
      if (setup === 'migrate') o.deploy.migrationSafety = 'reversible';
      const result = await runGuardedDeploy(o, w);
      const tookMs = Date.now() - abortedAt;

      expect(abortedAt).toBeGreaterThan(0);
      expect(result.result).toBe('cancelled');
      expect(result.stage).toBe(stage);
      measured.push(`${stage}\t${tookMs}`);
      expect(tookMs).toBeLessThan(10_000);
      const statuses = gh.store.find(result.deploymentId!)!.statuses;
      expect(statuses.at(-1)).toMatchObject({ state: 'error', description: `cancelled at stage ${stage}` });
      const note = result.notifications.find((n) => n.event === 'deploy-failed')!;
      expect(note.delivered.webhook).toBe(true);
      expect(hook.received.some((b) => b.includes(`cancelled at stage ${stage}`))).toBe(true);
      expect(w.state.values.get('cancel-recorded')).toBe('true');
      if (setup === 'migrate' || setup === 'deploy') {
        const pid = Number(readFileSync(pidFile, 'utf8'));
        expect(processAlive(pid)).toBe(false);
        expect(treeAlive(pid)).toBe(false);
      }
      if (stage === 'watch') {
        const dir = join(site.dir, 'monitor_logs');
        const summary = readdirSync(dir).find((f) => f.endsWith('.summary.json'))!;
        expect(JSON.parse(readFileSync(join(dir, summary), 'utf8'))).toMatchObject({ result: 'cancelled' });
        expect(existsSync(join(dir, summary.replace('.summary.json', '.html')))).toBe(true);
      }
      expect(gh.fake.violations).toEqual([]);
    },
    60_000,
  );
});
