// The guarded-deploy bundle run the way the runner runs a node24 action (packages/runner-harness):
// Node 24, INPUT_* (hyphens kept, action.yml defaults applied) only for this process, the artifact
// runtime token from the local artifact service, GITHUB_OUTPUT/STATE/STEP_SUMMARY files, the post
// step with STATE_*, and the cancel schedule SIGINT → SIGTERM 7.5 s → SIGKILL 10 s to the direct child.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { processAlive, treeAlive } from '@guarded-rollout/deploy';
import {
  findNode24,
  leftoverProcesses,
  runNodeAction,
  runPostStep,
  startArtifactService,
  type ArtifactService,
  type NodeActionOptions,
} from '@guarded-rollout/runner-harness';
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
const actionDir = join(root, 'actions/guarded-deploy');
const bundle = join(actionDir, 'dist/index.js');
const node24 = findNode24();
let artifacts: ArtifactService;

beforeAll(async () => {
  artifacts = await startArtifactService();
}, 90_000);
afterAll(async () => {
  await artifacts?.stop();
});

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

async function setUp(fault = 'none', onset = 0, webhook: 'ok' | 'hang' = 'ok') {
  const site = await startSite(fault, onset);
  cleanups.push(() => site.stop());
  const gh = await startGitHub();
  cleanups.push(() => gh.fake.stop());
  const hook = await startWebhook(webhook);
  cleanups.push(() => hook.close());
  await seedActive(gh, site.commits['1.0.0']!, '1.0.0');
  return { site, gh, hook };
}

/** One job of run 42: its workspace, GitHub context, webhook env and artifact runtime. */
function job(site: Site, gh: GitHubSide, hookUrl: string, inputs: Record<string, string>): NodeActionOptions {
  return {
    workspace: site.dir,
    inputs,
    env: { NOTIFY_WEBHOOK_URL: hookUrl },
    github: { repository: 'acme/dhash', runId: 42, runAttempt: 1, apiUrl: gh.fake.url, token: TOKEN },
    runtime: artifacts.envFor({ runId: 42, job: 'deploy' }),
    runnerTemp: join(site.dir, 'runner-temp'),
    ...(node24 ? { node: node24 } : {}),
  };
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

/**
 * Starts the README-example deploy with `input` (a command) set to one that leaves a grandchild
 * ignoring `traps` (only a process-group kill ends it), and waits until that grandchild's pid is
 * written.
 */
async function startStubborn(input = 'deploy-command', traps = 'INT TERM') {
  const { site, gh, hook } = await setUp();
  const pidFile = join(site.dir, `${input}.pid`);
  const options = job(
    site,
    gh,
    hook.url,
    readmeInputs(site, { [input]: `sh -c 'trap "" ${traps}; sleep 120' & echo $! > ${pidFile}; wait` }),
  );
  const running = runNodeAction(actionDir, options);
  for (let i = 0; i < 600 && !(existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim()); i++)
    await new Promise((r) => setTimeout(r, 50));
  return { site, gh, hook, pidFile, options, running };
}

describe(`guarded-deploy bundle as the runner runs it (${node24 ? 'Node 24' : `Node ${process.version}`})`, () => {
  it('deploys a README-example release with no smoke config: backup uploaded as the run artifact, success only after the watch, post has nothing to do', async () => {
    const { site, gh, hook } = await setUp();
    const options = job(site, gh, hook.url, readmeInputs(site));
    const main = await runNodeAction(actionDir, options).result;
    expect(main.stdout).not.toContain('::error::');
    expect(main.runnerWarnings).toEqual([]);
    expect(main.code).toBe(0);
    expect(main.outputs).toMatchObject({
      result: 'succeeded',
      commit: site.commits['1.1.0'],
      'smoke-result': 'skipped',
      'monitor-result': 'passed',
      'deploy-status': 'succeeded',
      'backup-artifact': 'guarded-rollout-backup-production-run42-attempt1',
    });
    expect(artifacts.artifacts.find((a) => a.name === main.outputs['backup-artifact'])?.finalized).toBe(true);
    expect(main.stdout).toContain('::group::watch');
    expect(main.stdout).toMatch(/::warning::no critical smoke checks configured for production/);
    expect(main.summary).toContain('Smoke: skipped');
    const d = gh.store.find(Number(main.outputs['deployment-id']))!;
    expect(d.ref).toBe(site.commits['1.1.0']);
    expect(d.statuses.at(-1)!.state).toBe('success');
    expect(d.statuses.slice(0, -1).every((s) => s.state === 'in_progress')).toBe(true);
    const post = await runPostStep(actionDir, main, options).result;
    expect(post.code).toBe(0);
    expect(post.stdout).toContain('nothing left to record');
    expect(leftoverProcesses(main.marker)).toEqual([]);
    expect(gh.fake.violations).toEqual([]);
  }, 120_000);

  it('cancel mid-deploy (runner schedule): stops the command tree, records "cancelled at stage deploy" before SIGTERM', async () => {
    const { gh, hook, pidFile, options, running } = await startStubborn();
    const timings = await running.cancel();
    const main = await running.result;
    expect(timings.lastSignal).toBe('SIGINT'); // exited before the runner's SIGTERM
    expect(timings.exitedAtMs).toBeLessThan(7500);
    expect(main.code).toBe(1);
    expect(main.outputs).toMatchObject({
      result: 'cancelled',
      stage: 'deploy',
      'deploy-status': 'cancelled',
    });
    const d = gh.store.find(Number(main.outputs['deployment-id']))!;
    expect(d.statuses.at(-1)).toMatchObject({ state: 'error', description: 'cancelled at stage deploy' });
    expect(hook.received.some((b) => b.includes('cancelled at stage deploy'))).toBe(true);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(processAlive(pid)).toBe(false);
    expect(treeAlive(pid)).toBe(false);
    expect(leftoverProcesses(main.marker)).toEqual([]);
    const post = await runPostStep(actionDir, main, options).result;
    expect(post.code).toBe(0);
    console.log(`cancel → exit during deploy: ${timings.exitedAtMs} ms`);
    expect(gh.fake.violations).toEqual([]);
  }, 120_000);

  it('cancel during the backup (a dump command that hangs): the dump group is stopped, no partial backup is left, "cancelled at stage backup" recorded before SIGTERM', async () => {
    // A database dump that hangs (and ignores SIGINT, as the runner's first signal would not reach
    // it anyway: it runs in its own process group).
    const { site, gh, hook, pidFile, options, running } = await startStubborn('backup-dump-command', 'INT');
    const timings = await running.cancel();
    const main = await running.result;
    expect(timings.lastSignal).toBe('SIGINT'); // exited before the runner's SIGTERM
    expect(timings.exitedAtMs).toBeLessThan(7500);
    expect(main.code).toBe(1);
    expect(main.outputs).toMatchObject({ result: 'cancelled', stage: 'backup' });
    expect(main.stdout).toContain('backup cancelled; no backup was made');
    const d = gh.store.find(Number(main.outputs['deployment-id']))!;
    expect(d.statuses.at(-1)).toMatchObject({ state: 'error', description: 'cancelled at stage backup' });
    expect(hook.received.some((b) => b.includes('cancelled at stage backup'))).toBe(true);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(processAlive(pid)).toBe(false);
    expect(leftoverProcesses(main.marker)).toEqual([]);
    // Nothing half-made: no zip, no .sha256, no partial, no dump directory; 1.0.0 still serves.
    expect(readdirSync(join(site.dir, 'backups'))).toEqual([]);
    expect(readFileSync(join(site.root, 'active-release'), 'utf8').trim()).toBe('1.0.0');
    const post = await runPostStep(actionDir, main, options).result;
    expect(post.code).toBe(0);
    console.log(`cancel → exit during the backup: ${timings.exitedAtMs} ms`);
    expect(gh.fake.violations).toEqual([]);
  }, 120_000);

  it('a main step killed outright during the watch is recorded by the post step', async () => {
    const { site, gh, hook } = await setUp();
    const options = job(
      site,
      gh,
      hook.url,
      readmeInputs(site, { 'monitor-duration': '60m', 'time-scale': '60' }),
    );
    const running = runNodeAction(actionDir, options);
    await running.waitForOutput(/::group::watch/, 60_000);
    // Statuses are posted without holding up the deploy: wait (bounded) until GitHub has the
    // in_progress one, so the kill lands mid-watch with the Deployment in flight.
    for (
      let i = 0;
      i < 150 && !gh.store.deployments.some((d) => d.statuses.some((st) => st.state === 'in_progress'));
      i++
    )
      await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 500));
    running.child.kill('SIGKILL');
    const main = await running.result;
    expect(main.state.finished).toBeUndefined();
    expect(main.state.stage).toBe('watch');
    const id = Number(main.state['deployment-id']);
    expect(gh.store.states(id).at(-1)).toBe('in_progress');
    const post = await runPostStep(actionDir, main, options).result;
    expect(post.code).toBe(0);
    expect(gh.store.find(id)!.statuses.at(-1)).toMatchObject({
      state: 'error',
      description: 'cancelled at stage watch: the job ended before the guarded deploy finished',
    });
    expect(hook.received.some((b) => b.includes('cancelled at stage watch'))).toBe(true);
    expect(gh.fake.violations).toEqual([]);
  }, 120_000);

  it('a release path outside the target is one error naming the input and the value, before anything runs', async () => {
    const workspace = mkdtempSync(join(tmpdir(), 'gr-guarded-input-'));
    const main = await runNodeAction(actionDir, {
      workspace,
      inputs: { environment: 'staging', version: '1.1.0', 'release-paths': 'app\n../etc' },
    }).result;
    expect(main.code).toBe(1);
    expect(main.stdout).toContain(`::error::input "release-paths": "../etc" leaves the target ('..')`);
    expect(main.stdout).not.toMatch(/\n\s+at /);
    expect(readdirSync(workspace)).toEqual([]);
  }, 30_000);

  it('a gate violation rolls back (webhook hung): restored release active, files outside the backed-up roots untouched', async () => {
    const { site, gh, hook } = await setUp('dying-health', 1, 'hang');
    writeFileSync(join(site.root, 'operator-notes.txt'), 'not part of any backup\n');
    // A version an earlier rollback kept: keep-previous 1 leaves only the one this rollback makes.
    const older = join(site.root, '.guarded-rollout/pre-rollback/20200101T000000Z');
    mkdirSync(join(older, 'data'), { recursive: true });
    const restartMark = join(site.dir, 'restart-at');
    const inputs = readmeInputs(site, {
      'notify-timeout': '1500ms',
      'keep-previous': '1',
      'release-paths': 'active-release\n./releases.json',
    });
    inputs['restart-command'] =
      `node -e "require('fs').writeFileSync(process.argv[1], String(Date.now()))" ${restartMark} && ${inputs['restart-command']}`;
    const main = await runNodeAction(actionDir, job(site, gh, hook.url, inputs)).result;
    expect(main.code).toBe(1);
    expect(main.outputs).toMatchObject({
      result: 'rolled-back',
      'monitor-result': 'violated',
      'violated-gates': 'health',
      'rollback-status': 'succeeded',
    });
    expect(readFileSync(join(site.root, 'active-release'), 'utf8').trim()).toBe('1.0.0');
    expect(readFileSync(join(site.root, 'operator-notes.txt'), 'utf8')).toBe('not part of any backup\n');
    expect(existsSync(older)).toBe(false);
    expect(readdirSync(join(site.root, '.guarded-rollout/pre-rollback'))).toHaveLength(1);
    // The record of the restored tree covers the release paths only (runtime data never blocks a
    // later manual rollback).
    const record = JSON.parse(readFileSync(join(site.dir, '.live.deployed-tree.json'), 'utf8')) as {
      paths: string[];
      files: Record<string, unknown>;
    };
    expect(record.paths).toEqual(['active-release', './releases.json']);
    expect(Object.keys(record.files).sort()).toEqual(['active-release', 'releases.json']);
    // The confirming poll's log line → the restore's restart: a hung webhook must not delay it.
    const violationLine = main.stdout.split('\n').find((l) => l.startsWith('gate violation:'));
    expect(violationLine).toBeDefined();
    const ours = gh.store.find(Number(main.outputs['deployment-id']))!;
    expect(ours.statuses.at(-1)!.state).toBe('failure');
    const restored = gh.store.find(Number(main.outputs['restored-deployment-id']))!;
    expect(restored.ref).toBe(site.commits['1.0.0']);
    expect(await gh.recorder.active('production')).toMatchObject({ id: restored.id, version: '1.0.0' });
    const violationAt = Date.parse(
      (
        JSON.parse(
          readFileSync(main.outputs['monitor-report']!.replace(/\.html$/, '.summary.json'), 'utf8'),
        ) as { violations: Array<{ detected: string }> }
      ).violations[0]!.detected,
    );
    const restartAt = Number(readFileSync(restartMark, 'utf8'));
    console.log(`violation confirmed → restart began: ${restartAt - violationAt} ms (webhook never answers)`);
    expect(restartAt - violationAt).toBeLessThanOrEqual(1000);
    expect(leftoverProcesses(main.marker)).toEqual([]);
    expect(gh.fake.violations).toEqual([]);
  }, 120_000);

  it('a main step killed outright mid-deploy: the post step stops the command group left behind and records it', async () => {
    const { gh, pidFile, options, running } = await startStubborn();
    running.child.kill('SIGKILL'); // no chance to clean up: its detached command group lives on
    const main = await running.result;
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(processAlive(pid)).toBe(true);
    expect(main.state.stage).toBe('deploy');
    const post = await runPostStep(actionDir, main, options).result;
    expect(post.code).toBe(0);
    expect(post.stdout).toMatch(
      /::warning::the deploy command's process group \d+ is still running: stopping it/,
    );
    for (let i = 0; i < 100 && processAlive(pid); i++) await new Promise((r) => setTimeout(r, 50));
    expect(processAlive(pid)).toBe(false);
    expect(treeAlive(Number(main.state['command-pgid']))).toBe(false);
    expect(gh.store.find(Number(main.state['deployment-id']))!.statuses.at(-1)).toMatchObject({
      state: 'error',
      description: 'cancelled at stage deploy: the job ended before the guarded deploy finished',
    });
    expect(gh.fake.violations).toEqual([]);
  }, 120_000);
});
