// The guarded-deploy bundle started the way the runner starts a node24 action: `node dist/index.js`
// on Node 24 with INPUT_* (hyphens kept) only for this process, GITHUB_OUTPUT/STATE/STEP_SUMMARY
// files, the post step with STATE_*, and the cancel schedule SIGINT → SIGTERM 7.5 s → SIGKILL 10 s
// sent to this direct child. (i11a's packages/runner-harness replaces this local runner once merged.)
import { afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { processAlive, treeAlive } from '@guarded-rollout/deploy';
import {
  ctl,
  seedActive,
  startGitHub,
  startSite,
  startWebhook,
  TOKEN,
  writeGates,
  type GitHubSide,
  type Site,
} from '../../../packages/rollout/__tests__/support.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const bundle = join(root, 'actions/guarded-deploy/dist/index.js');
const node24 = '/work/wt/.node24/node_modules/node/bin/node';
const node = process.env.GR_NODE24 ?? (existsSync(node24) ? node24 : process.execPath);

beforeAll(() => {
  // Bundles are built by the lead at the end; build one locally when it is missing.
  if (!existsSync(bundle)) {
    const built = spawnSync(process.execPath, [join(root, 'scripts/build.mjs'), 'actions/guarded-deploy'], {
      stdio: 'inherit',
    });
    if (built.status !== 0) throw new Error('could not build actions/guarded-deploy');
  }
}, 300_000);

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** GitHub's file-command format: name<<delimiter\nvalue\ndelimiter */
function parseFileCommands(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of readFileSync(file, 'utf8').matchAll(/^([^<\n]+)<<(\S+)\n([\s\S]*?)\n\2$/gm))
    out[m[1]!] = m[3]!;
  return out;
}

interface Step {
  code: number | null;
  stdout: string;
  exitedAfterSignalMs: number | undefined;
}

function runnerEnv(
  site: Site,
  gh: GitHubSide,
  hookUrl: string,
  inputs: Record<string, string>,
): NodeJS.ProcessEnv {
  const files = join(site.dir, 'runner');
  mkdirSync(files, { recursive: true });
  for (const f of ['output', 'state', 'summary']) writeFileSync(join(files, f), '');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    RUNNER_TEMP: files,
    GITHUB_WORKSPACE: site.dir,
    GITHUB_OUTPUT: join(files, 'output'),
    GITHUB_STATE: join(files, 'state'),
    GITHUB_STEP_SUMMARY: join(files, 'summary'),
    GITHUB_REPOSITORY: 'acme/dhash',
    GITHUB_API_URL: gh.fake.url,
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_RUN_ID: '42',
    GITHUB_RUN_ATTEMPT: '1',
    NOTIFY_WEBHOOK_URL: hookUrl,
  };
  // The runner sets INPUT_<NAME> with the name upper-cased, spaces → '_', hyphens kept.
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.replace(/ /g, '_').toUpperCase()}`] = v;
  return env;
}

/** Starts a step; `cancelWhen` → the runner's schedule: SIGINT, SIGTERM at 7.5 s, SIGKILL at 10 s. */
function step(env: NodeJS.ProcessEnv, cwd: string, cancelWhen?: () => boolean): Promise<Step> {
  return new Promise((resolve) => {
    const child = spawn(node, [bundle], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stdout += c.toString()));
    let signalledAt: number | undefined;
    const timers: NodeJS.Timeout[] = [];
    const watch = setInterval(() => {
      if (signalledAt || !cancelWhen?.()) return;
      signalledAt = Date.now();
      child.kill('SIGINT');
      timers.push(setTimeout(() => child.kill('SIGTERM'), 7500));
      timers.push(setTimeout(() => child.kill('SIGKILL'), 10_000));
    }, 50);
    const guard = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('close', (code) => {
      clearInterval(watch);
      clearTimeout(guard);
      for (const t of timers) clearTimeout(t);
      resolve({ code, stdout, exitedAfterSignalMs: signalledAt ? Date.now() - signalledAt : undefined });
    });
  });
}

/** The post step: same bundle, STATE_* from what main saved. */
function postStep(env: NodeJS.ProcessEnv, cwd: string): Promise<Step> {
  const state = parseFileCommands(env.GITHUB_STATE!);
  const postEnv = { ...env };
  for (const [k, v] of Object.entries(state)) postEnv[`STATE_${k}`] = v;
  return step(postEnv, cwd);
}

async function setUp(fault = 'none') {
  const site = await startSite(fault);
  cleanups.push(() => site.stop());
  const gh = await startGitHub();
  cleanups.push(() => gh.fake.stop());
  const hook = await startWebhook('ok');
  cleanups.push(() => hook.close());
  await seedActive(gh, site.commits['1.0.0']!, '1.0.0');
  return { site, gh, hook };
}

const readmeInputs = (site: Site, extra: Record<string, string> = {}): Record<string, string> => ({
  environment: 'production',
  version: '1.1.0',
  'deployment-type': 'standard',
  'dry-run': 'false',
  'skip-backup': 'false',
  'backup-paths': 'active-release\nreleases.json\ndata\nsupervisor.json',
  'backup-base-dir': 'live',
  'backup-dir': 'backups',
  'deploy-command': ctl(site.root, 'deploy', '--version', '1.1.0'),
  'rollout-config': 'guarded-rollout.config.json',
  'gates-config': writeGates(site.dir),
  'health-url': `${site.base}/health`,
  'monitor-duration': '10m',
  'time-scale': '300',
  'auto-rollback': 'true',
  'rollback-target': 'live',
  'restart-command': ctl(site.root, 'restart'),
  'fallback-dir': 'notify-fallback',
  'upload-artifact': 'true',
  'artifact-retention-days': '0',
  'notify-timeout': '5s',
  token: TOKEN,
  ...extra,
});

describe(`guarded-deploy bundle as the runner runs it (${node === process.execPath ? `Node ${process.version}` : 'Node 24'})`, () => {
  it('deploys a README-example release with no smoke config; success only after the watch; post has nothing to do', async () => {
    const { site, gh, hook } = await setUp();
    const env = runnerEnv(site, gh, hook.url, readmeInputs(site));
    const main = await step(env, site.dir);
    expect(main.stdout).not.toContain('::error::');
    expect(main.code).toBe(0);
    const outputs = parseFileCommands(env.GITHUB_OUTPUT!);
    expect(outputs).toMatchObject({
      result: 'succeeded',
      commit: site.commits['1.1.0'],
      'smoke-result': 'skipped',
      'monitor-result': 'passed',
      'deploy-status': 'succeeded',
      // No ACTIONS_RUNTIME_TOKEN here: nothing uploaded, and the output says so honestly.
      'backup-artifact': '',
    });
    expect(main.stdout).toContain('::group::watch');
    expect(main.stdout).toMatch(/::warning::no critical smoke checks configured for production/);
    expect(readFileSync(env.GITHUB_STEP_SUMMARY!, 'utf8')).toContain('Smoke: skipped');
    const d = gh.store.find(Number(outputs['deployment-id']))!;
    expect(d.ref).toBe(site.commits['1.1.0']);
    expect(d.statuses.at(-1)!.state).toBe('success');
    expect(d.statuses.slice(0, -1).every((s) => s.state === 'in_progress')).toBe(true);
    const post = await postStep(env, site.dir);
    expect(post.code).toBe(0);
    expect(post.stdout).toContain('nothing left to record');
    expect(gh.fake.violations).toEqual([]);
  }, 120_000);

  it('SIGINT mid-deploy: stops the command tree, records "cancelled at stage deploy" well inside 10 s', async () => {
    const { site, gh, hook } = await setUp();
    const pidFile = join(site.dir, 'deploy.pid');
    // The deploy command's grandchild ignores SIGINT and SIGTERM: only the process-group kill ends it.
    const env = runnerEnv(
      site,
      gh,
      hook.url,
      readmeInputs(site, {
        'deploy-command': `sh -c 'trap "" INT TERM; sleep 120' & echo $! > ${pidFile}; wait`,
      }),
    );
    const main = await step(
      env,
      site.dir,
      () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '',
    );
    expect(main.exitedAfterSignalMs).toBeLessThan(7500); // before the runner even sends SIGTERM
    expect(main.code).toBe(1);
    const outputs = parseFileCommands(env.GITHUB_OUTPUT!);
    expect(outputs).toMatchObject({ result: 'cancelled', stage: 'deploy', 'deploy-status': 'cancelled' });
    const d = gh.store.find(Number(outputs['deployment-id']))!;
    expect(d.statuses.at(-1)).toMatchObject({ state: 'error', description: 'cancelled at stage deploy' });
    expect(hook.received.some((b) => b.includes('cancelled at stage deploy'))).toBe(true);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(processAlive(pid)).toBe(false);
    expect(treeAlive(pid)).toBe(false);
    console.log(`SIGINT → exit during deploy: ${main.exitedAfterSignalMs} ms`);
    expect(gh.fake.violations).toEqual([]);
  }, 120_000);

  it('a main step killed outright during the watch is recorded by the post step', async () => {
    const { site, gh, hook } = await setUp();
    const env = runnerEnv(
      site,
      gh,
      hook.url,
      readmeInputs(site, { 'monitor-duration': '60m', 'time-scale': '60' }),
    );
    const killed = await new Promise<void>((resolve) => {
      const child = spawn(node, [bundle], { cwd: site.dir, env, stdio: 'ignore' });
      const poll = setInterval(() => {
        if (parseFileCommands(env.GITHUB_STATE!).stage === 'watch') {
          clearInterval(poll);
          setTimeout(() => child.kill('SIGKILL'), 500);
        }
      }, 50);
      child.on('close', () => {
        clearInterval(poll);
        resolve();
      });
    });
    void killed;
    const state = parseFileCommands(env.GITHUB_STATE!);
    expect(state.finished).toBeUndefined();
    const id = Number(state['deployment-id']);
    expect(gh.store.states(id).at(-1)).toBe('in_progress');
    const post = await postStep(env, site.dir);
    expect(post.code).toBe(0);
    expect(gh.store.find(id)!.statuses.at(-1)).toMatchObject({
      state: 'error',
      description: 'cancelled at stage watch: the job ended before the guarded deploy finished',
    });
    expect(hook.received.some((b) => b.includes('cancelled at stage watch'))).toBe(true);
    expect(gh.fake.violations).toEqual([]);
  }, 120_000);
});
