// Durable backups end to end, as on GitHub: the deploy job's backup action (the bundle, started
// as the runner starts a node24 action) uploads the backup as an artifact to the local artifact
// service; checkout's clean removes the workspace's backups/; the rollback job — another process,
// another run — finds the deploy run's artifact through the REST API, downloads, verifies and restores it.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  installArtifactRoutes,
  installDeploymentRoutes,
  startFakeGitHub,
  type FakeGitHub,
} from '@guarded-rollout/fake-github';
import {
  checkoutClean,
  initWorkspaceRepo,
  runNodeAction,
  startArtifactService,
  type ArtifactService,
} from '@guarded-rollout/runner-harness';
import { cli } from '../../../packages/cli/__tests__/run-cli.js';

// Runner semantics (signals, /proc, bash, dash) are Linux's, as on ubuntu-latest; other OSes skip.
const describeOnLinux = process.platform === 'linux' ? describe : describe.skip;

const actions = fileURLToPath(new URL('../..', import.meta.url));
const TOKEN = 'ghs_actions_read';
let service: ArtifactService;
let fake: FakeGitHub;
let root: string;
let health: Server;
let healthUrl: string;

beforeAll(async () => {
  if (process.platform !== 'linux') return;
  service = await startArtifactService();
  fake = await startFakeGitHub();
  fake.token = TOKEN;
  installArtifactRoutes(fake, service);
  // A successful restore records the restored release as a Deployment (input record-deployment).
  installDeploymentRoutes(fake);
  root = mkdtempSync(join(tmpdir(), 'gr-backup-artifact-'));
  // The restored service answers its health checks (a real loopback server).
  health = createServer((_req, res) => res.end('{"status":"ok"}'));
  await new Promise<void>((resolve) => health.listen(0, '127.0.0.1', resolve));
  healthUrl = `http://127.0.0.1:${(health.address() as AddressInfo).port}/health`;
}, 90_000);
afterAll(async () => {
  await service?.stop();
  await fake?.stop();
  health?.closeAllConnections();
  await new Promise<void>((resolve) => (health ? health.close(() => resolve()) : resolve()));
  if (root) rmSync(root, { recursive: true, force: true });
});

const github = (runId: number, runAttempt = 1) => ({
  repository: 'octo-org/dhash',
  runId,
  runAttempt,
  apiUrl: fake.url,
  token: TOKEN,
});

async function backupJob(ws: string, live: string, environment: string, runId: number, runAttempt = 1) {
  return runNodeAction(join(actions, 'backup'), {
    workspace: ws,
    inputs: { environment, 'base-dir': live, paths: 'config\ndata' },
    github: github(runId, runAttempt),
    runtime: service.envFor({ runId, job: 'deploy' }),
  }).result;
}

describeOnLinux('rollback from the deploy run’s backup artifact', () => {
  it('restores "the backup of deploy run N" and "the latest of the environment" in a separate job', async () => {
    const ws = join(root, 'ws');
    initWorkspaceRepo(ws, { '.gitignore': 'backups/\n', 'README.md': 'app\n' });
    const live = join(root, 'live');
    mkdirSync(join(live, 'config'), { recursive: true });
    mkdirSync(join(live, 'data'), { recursive: true });
    writeFileSync(join(live, 'config/app.json'), '{"release":"v1"}\n');
    writeFileSync(join(live, 'data/state.db'), 'v1 state\n');
    // Outside the backed-up roots (config, data): a restore must leave it alone.
    writeFileSync(join(live, 'restart.sh'), '#!/bin/sh\n');

    // Deploy run 7001 (attempt 2, a "Re-run jobs"): back up, then the bad release lands.
    const up = await backupJob(ws, live, 'production', 7001, 2);
    expect(up.stderr).toBe('');
    expect(up.code).toBe(0);
    expect(up.outputs['artifact-name']).toBe('guarded-rollout-backup-production-run7001-attempt2');
    expect(up.outputs['artifact-id']).toMatch(/^\d+$/);
    // Another environment's backup in a later run must not be picked for production.
    expect((await backupJob(ws, live, 'staging', 7002)).code).toBe(0);
    writeFileSync(join(live, 'config/app.json'), '{"release":"v2"}\n');
    writeFileSync(join(live, 'data/state.db'), 'v2 state\n');

    // The next job gets a clean checkout: the local backup is gone.
    checkoutClean(ws);
    expect(existsSync(join(ws, 'backups'))).toBe(false);

    const rollback = (inputs: Record<string, string>, runId: number) =>
      runNodeAction(join(actions, 'rollback'), {
        workspace: ws,
        inputs: {
          environment: 'production',
          target: live,
          'log-dir': join(root, 'logs'),
          'health-url': healthUrl,
          'health-checks': '2',
          'health-interval': '100ms',
          ...inputs,
        },
        github: github(runId),
        runtime: service.envFor({ runId, job: 'rollback' }),
      }).result;
    mkdirSync(join(root, 'logs'), { recursive: true });

    const byRun = await rollback({ 'backup-run-id': '7001' }, 8001);
    // Nothing, not even the Buffer() deprecation warning of @actions/artifact's unzip library.
    expect(byRun.stderr).toBe('');
    expect(
      byRun.stdout
        .split('\n')
        .filter((l) => l.startsWith('::error'))
        .join('\n'),
    ).toBe('');
    expect(byRun.code).toBe(0);
    expect(byRun.outputs).toMatchObject({
      status: 'succeeded',
      verified: 'true',
      'backup-artifact': 'guarded-rollout-backup-production-run7001-attempt2',
    });
    expect(readFileSync(join(live, 'config/app.json'), 'utf8')).toBe('{"release":"v1"}\n');
    expect(readFileSync(join(live, 'data/state.db'), 'utf8')).toBe('v1 state\n');
    expect(readFileSync(join(live, 'restart.sh'), 'utf8')).toBe('#!/bin/sh\n');

    // Changed by hand after that restore: the live-tree check asks for force (nothing is lost:
    // the replaced files are kept under .guarded-rollout/pre-rollback/).
    writeFileSync(join(live, 'config/app.json'), '{"release":"v3"}\n');
    const latest = await rollback({ 'backup-source': 'artifact', force: 'true' }, 8002);
    expect(
      latest.stdout
        .split('\n')
        .filter((l) => l.startsWith('::error'))
        .join('\n'),
    ).toBe('');
    expect(latest.code).toBe(0);
    expect(latest.outputs['backup-artifact']).toBe('guarded-rollout-backup-production-run7001-attempt2');
    expect(readFileSync(join(live, 'config/app.json'), 'utf8')).toBe('{"release":"v1"}\n');

    // The CLI doorway restores the same artifact (here in-process; GITHUB_API_URL as in Actions).
    writeFileSync(join(live, 'config/app.json'), '{"release":"v4"}\n');
    const savedApi = process.env.GITHUB_API_URL;
    process.env.GITHUB_API_URL = fake.url;
    try {
      const byCli = await cli(
        [
          'rollback',
          '--env',
          'production',
          '--backup-run-id',
          '7001',
          '--target',
          live,
          '--log-dir',
          join(root, 'logs'),
          '--health-url',
          healthUrl,
          '--health-checks',
          '2',
          '--health-interval',
          '100ms',
          '--force',
        ],
        {
          env: { GITHUB_TOKEN: TOKEN, GITHUB_REPOSITORY: 'octo-org/dhash', GITHUB_API_URL: fake.url },
          cwd: ws,
        },
      );
      expect(byCli.stderr).toContain(
        'downloaded and verified guarded-rollout-backup-production-run7001-attempt2',
      );
      expect(byCli.stdout).toContain('status: succeeded');
      expect(byCli.code).toBe(0);
      expect(readFileSync(join(live, 'config/app.json'), 'utf8')).toBe('{"release":"v1"}\n');
    } finally {
      if (savedApi === undefined) delete process.env.GITHUB_API_URL;
      else process.env.GITHUB_API_URL = savedApi;
    }

    // A run without a production backup: refused with a message naming environment and run.
    const none = await rollback({ 'backup-run-id': '7002' }, 8003);
    expect(none.code).toBe(1);
    expect(none.commands.errors.join('\n')).toContain(
      'no backup artifact of environment "production" in run 7002 of octo-org/dhash',
    );
    expect(none.commands.errors.join('\n')).toContain('environments with backup artifacts there: staging');
    expect(none.stdout).not.toMatch(/\n\s+at /);
    expect(fake.violations).toEqual([]);
  }, 180_000);

  it('restores from a persistent backup-dir outside the workspace (self-hosted set-up)', async () => {
    const ws = join(root, 'ws-self-hosted');
    initWorkspaceRepo(ws, { 'README.md': 'app\n' });
    const persistent = join(root, 'var-lib-dhash-backups');
    const live = join(root, 'live-self-hosted');
    mkdirSync(join(live, 'data'), { recursive: true });
    writeFileSync(join(live, 'data/state.db'), 'v1 state\n');
    const up = await runNodeAction(join(actions, 'backup'), {
      workspace: ws,
      inputs: {
        environment: 'production',
        'base-dir': live,
        paths: 'data',
        'output-dir': persistent,
        keep: '5',
      },
      github: github(7101),
      runtime: service.envFor({ runId: 7101, job: 'deploy' }),
    }).result;
    expect(up.code).toBe(0);
    writeFileSync(join(live, 'data/state.db'), 'v2 state\n');
    checkoutClean(ws);
    mkdirSync(join(root, 'logs'), { recursive: true });
    const restored = await runNodeAction(join(actions, 'rollback'), {
      workspace: ws,
      inputs: {
        environment: 'production',
        backup: 'latest',
        'backup-dir': persistent,
        target: live,
        'log-dir': join(root, 'logs'),
        'health-url': healthUrl,
        'health-checks': '2',
        'health-interval': '100ms',
      },
      github: github(8101),
    }).result;
    expect(restored.commands.errors).toEqual([]);
    expect(restored.outputs).toMatchObject({ status: 'succeeded', verified: 'true', 'backup-artifact': '' });
    expect(restored.outputs['restored-from']).toContain(persistent);
    expect(readFileSync(join(live, 'data/state.db'), 'utf8')).toBe('v1 state\n');
  }, 120_000);

  it('refuses a backup-run-id that is not a run id, naming the input', async () => {
    const ws = join(root, 'ws-bad');
    mkdirSync(ws, { recursive: true });
    const r = await runNodeAction(join(actions, 'rollback'), {
      workspace: ws,
      inputs: { environment: 'production', target: join(root, 'live'), 'backup-run-id': '12abc' },
      github: github(9001),
    }).result;
    expect(r.code).not.toBe(0);
    expect(r.commands.errors.join('\n')).toContain('input "backup-run-id": "12abc" is not a workflow run id');
  });
});
