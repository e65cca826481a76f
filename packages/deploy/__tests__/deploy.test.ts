import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readEvidenceLog } from '@guarded-rollout/evidence';
import {
  DeploymentStore,
  deploymentHandlers,
  type FakeResponse,
  installDeploymentRoutes,
  startFakeGitHub,
  startHungGitHub,
  type FakeGitHub,
} from '@guarded-rollout/fake-github';
import {
  automaticRollbackSafe,
  GitHubDeploymentRecorder,
  runDeploy,
  type GitHubTarget,
  type DeployOptions,
} from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'deploy-'));
let fake: FakeGitHub;
let store: DeploymentStore;

beforeAll(async () => {
  fake = await startFakeGitHub();
  fake.token = 'ghs_testtoken1234567890';
  store = installDeploymentRoutes(fake);
});
afterAll(async () => {
  await fake.stop();
  rmSync(dir, { recursive: true, force: true });
});

function script(name: string, body: string): string {
  const file = join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return file;
}

// Mutates only when not given --dry-run; the marker file proves whether it ran for real.
const mutating = (name: string, marker: string): string =>
  script(
    name,
    `for a in "$@"; do [ "$a" = "--dry-run" ] && { echo "would ${name}"; exit 0; }; done\necho "${name} for real"; touch ${marker}`,
  );

const recorder = (): GitHubDeploymentRecorder =>
  new GitHubDeploymentRecorder({
    token: 'ghs_testtoken1234567890',
    repository: 'acme/dhash',
    apiUrl: fake.url,
    retryAfterBaseValue: 10,
    minWriteIntervalMs: 0,
  });

function options(overrides: Partial<DeployOptions>): DeployOptions {
  return {
    environment: 'staging',
    ref: 'v1.4.2',
    version: '1.4.2',
    type: 'standard',
    command: script('noop.sh', 'echo noop'),
    timeoutMs: 10_000,
    killGraceMs: 500,
    dryRun: false,
    dryRunFlag: '--dry-run',
    workingDirectory: dir,
    logDir: mkdtempSync(join(dir, 'logs-')),
    backupFirst: false,
    ...overrides,
  };
}

/** A recorder of acme/dhash at `apiUrl` with no pause between writes, and `tuning`. */
const recorderAt = (apiUrl: string, tuning: Partial<GitHubTarget> = {}): GitHubDeploymentRecorder =>
  new GitHubDeploymentRecorder({
    token: 't',
    repository: 'acme/dhash',
    apiUrl,
    minWriteIntervalMs: 0,
    ...tuning,
  });

/** A fake GitHub whose create-deployment answers come from `wrap` around the real handler (`post`
 *  counts from 1). */
async function githubWrappingCreate(
  wrap: (
    post: number,
    create: () => FakeResponse | Promise<FakeResponse>,
  ) => FakeResponse | Promise<FakeResponse>,
) {
  const store = new DeploymentStore();
  const handlers = deploymentHandlers(store);
  const fake = await startFakeGitHub(handlers);
  const create = handlers['repos/create-deployment']!;
  let posts = 0;
  fake.on('repos/create-deployment', (req, f) => wrap(++posts, () => create(req, f)));
  return { store, fake, posts: () => posts };
}

describe('runDeploy', () => {
  it('runs migrate then deploy, writes evidence logs and records success on GitHub', async () => {
    const order = join(dir, 'order.txt');
    const result = await runDeploy(
      options({
        migrateCommand: script('m.sh', `echo migrate >> ${order}`),
        command: script('d.sh', `echo deploy >> ${order}; echo "deployed $GUARDED_ROLLOUT_VERSION"`),
        migrationSafety: 'expand-only',
        recorder: recorder(),
        logUrl: 'https://ci.example/run/1',
        environmentUrl: 'https://staging.dhash.example',
      }),
    );
    expect(result.status).toBe('succeeded');
    expect(readFileSync(order, 'utf8')).toBe('migrate\ndeploy\n');
    const deployLog = readEvidenceLog(result.logPath);
    expect(deployLog.problems).toEqual([]);
    expect(deployLog.result).toMatchObject({ status: 'pass', kind: 'deploy', outcome: 'succeeded' });
    expect(readFileSync(result.logPath, 'utf8')).toContain('deployed 1.4.2');
    expect(readEvidenceLog(result.migrateLogPath).result).toMatchObject({
      status: 'pass',
      kind: 'migrate',
      migration_safety: 'expand-only',
    });
    expect(result.migrationSafety).toBe('expand-only');
    const deployment = store.find(result.deploymentId!)!;
    expect(deployment).toMatchObject({
      environment: 'staging',
      ref: 'v1.4.2',
      payload: { version: '1.4.2', type: 'standard', backup_path: null, migration_safety: 'expand-only' },
    });
    expect(store.states(result.deploymentId!)).toEqual(['in_progress', 'success']);
    expect(deployment.statuses.at(-1)).toMatchObject({
      logUrl: 'https://ci.example/run/1',
      environmentUrl: 'https://staging.dhash.example',
    });
    expect(fake.violations).toEqual([]);
  });

  it('marks the previous successful deployment inactive after a new success', async () => {
    const first = await runDeploy(options({ environment: 'qa', recorder: recorder() }));
    const second = await runDeploy(options({ environment: 'qa', recorder: recorder() }));
    expect(store.states(first.deploymentId!)).toEqual(['in_progress', 'success', 'inactive']);
    expect(store.states(second.deploymentId!)).toEqual(['in_progress', 'success']);
    expect(fake.violations).toEqual([]);
  });

  it('does not deploy after a failed migration and records failure', async () => {
    const marker = join(dir, 'deployed-after-failed-migration');
    const result = await runDeploy(
      options({
        migrateCommand: script('mfail.sh', 'echo "ALTER TABLE failed" >&2; exit 4'),
        command: mutating('deploy', marker),
        recorder: recorder(),
      }),
    );
    expect(result.status).toBe('failed');
    expect(existsSync(marker)).toBe(false);
    expect(readEvidenceLog(result.migrateLogPath).result).toMatchObject({ status: 'fail', exit_code: 4 });
    expect(readEvidenceLog(result.logPath).result).toMatchObject({ status: 'fail', outcome: 'skipped' });
    expect(result.migrationSafety).toBe('unknown');
    expect(automaticRollbackSafe(result.migrationSafety)).toBe(false);
    expect(store.states(result.deploymentId!)).toEqual(['in_progress', 'failure']);
  });

  it('reports a deploy that exceeds its timeout as timed-out and records failure', async () => {
    const result = await runDeploy(
      options({
        command: script('hang.sh', 'echo starting; sleep 300'),
        timeoutMs: 300,
        killGraceMs: 300,
        recorder: recorder(),
      }),
    );
    expect(result.status).toBe('timed-out');
    expect(readEvidenceLog(result.logPath).result).toMatchObject({ status: 'fail', outcome: 'timed-out' });
    expect(readEvidenceLog(result.logPath).result?.summary).toMatch(/timed out after 300ms/);
    expect(store.states(result.deploymentId!)).toEqual(['in_progress', 'failure']);
  });

  it('dry-run passes --dry-run to both commands, never mutates and never writes to GitHub', async () => {
    const marker = join(dir, 'mutated');
    const before = fake.count();
    const result = await runDeploy(
      options({
        dryRun: true,
        migrateCommand: mutating('migrate', marker),
        command: mutating('deploy', marker),
        recorder: recorder(),
      }),
    );
    expect(result.status).toBe('succeeded');
    expect(existsSync(marker)).toBe(false);
    expect(result.logPath).toMatch(/deploy-dryrun\.log$/);
    expect(result.migrateLogPath).toMatch(/migrate-dryrun\.log$/);
    expect(readFileSync(result.logPath, 'utf8')).toContain('would deploy');
    expect(readEvidenceLog(result.logPath).result).toMatchObject({
      status: 'pass',
      kind: 'deploy-dryrun',
      dry_run: true,
    });
    expect(readEvidenceLog(result.migrateLogPath).result).toMatchObject({
      status: 'pass',
      kind: 'migrate-dryrun',
    });
    expect(result.deploymentId).toBeUndefined();
    expect(fake.count()).toBe(before);
  });

  it('uses a configured dry-run flag', async () => {
    const result = await runDeploy(
      options({ dryRun: true, dryRunFlag: '--plan', command: script('plan.sh', 'echo "args: $*"') }),
    );
    expect(readFileSync(result.logPath, 'utf8')).toContain('args: --plan');
  });

  it('writes a passing migrate-dryrun.log when no migration is configured', async () => {
    const result = await runDeploy(options({ dryRun: true }));
    expect(readEvidenceLog(result.migrateLogPath).result).toMatchObject({
      status: 'pass',
      outcome: 'skipped',
    });
    expect(result.migrationSafety).toBe('none');
  });

  it('takes the backup first and carries its path in the deployment payload and the commands', async () => {
    const backupFile = join(dir, 'dhash_staging_20261123T120000Z.zip');
    const result = await runDeploy(
      options({
        backupFirst: true,
        backup: async () => ({ path: backupFile, sha256: 'ab'.repeat(32) }),
        command: script('uses-backup.sh', 'echo "backup at $GUARDED_ROLLOUT_BACKUP_PATH"'),
        recorder: recorder(),
      }),
    );
    expect(result.status).toBe('succeeded');
    expect(result.backupPath).toBe(backupFile);
    expect(readFileSync(result.logPath, 'utf8')).toContain(`backup at ${backupFile}`);
    expect(store.find(result.deploymentId!)!.payload).toMatchObject({ backup_path: backupFile });
  });

  it('deploys nothing when the backup fails', async () => {
    const marker = join(dir, 'deployed-without-backup');
    const result = await runDeploy(
      options({
        backupFirst: true,
        backup: async () => {
          throw new Error('disk full');
        },
        command: mutating('deploy', marker),
        recorder: recorder(),
      }),
    );
    expect(result.status).toBe('failed');
    expect(result.summary).toMatch(/backup failed.*disk full/);
    expect(existsSync(marker)).toBe(false);
    expect(readEvidenceLog(result.logPath).result).toMatchObject({ status: 'fail' });
    expect(store.states(result.deploymentId!)).toEqual(['in_progress', 'failure']);
  });

  it('a cancel during the backup-first backup: status cancelled, nothing deployed, the Deployment errors', async () => {
    const marker = join(dir, 'deployed-after-cancel');
    const controller = new AbortController();
    let sawSignal: AbortSignal | undefined;
    const result = await runDeploy(
      options({
        backupFirst: true,
        signal: controller.signal,
        // The provider gets the deploy's signal; a cancel arrives mid-backup and stops it.
        backup: async (signal) => {
          sawSignal = signal;
          controller.abort();
          throw new Error('backup cancelled; no backup was made');
        },
        command: mutating('deploy', marker),
        recorder: recorder(),
      }),
    );
    expect(sawSignal).toBe(controller.signal);
    expect(result.status).toBe('cancelled');
    expect(result.summary).toBe('backup cancelled; no backup was made; nothing was deployed');
    expect(result.steps[0]).toMatchObject({ step: 'backup', outcome: 'cancelled' });
    expect(existsSync(marker)).toBe(false);
    expect(store.states(result.deploymentId!)).toEqual(['in_progress', 'error']);
  });

  it('refuses backup-first without a backup provider', async () => {
    await expect(runDeploy(options({ backupFirst: true }))).rejects.toThrow(
      'backup-first needs the backup package',
    );
  });

  it('refuses to run without a deploy command, naming where to set it', async () => {
    await expect(runDeploy(options({ command: undefined }))).rejects.toThrow(
      /environments\.staging\.deploy\.command/,
    );
  });

  it('posts error "cancelled" when aborted mid-deploy', async () => {
    const controller = new AbortController();
    const started = join(dir, 'cancel-started');
    const pending = runDeploy(
      options({
        command: script('slow.sh', `touch ${started}; sleep 300`),
        recorder: recorder(),
        signal: controller.signal,
      }),
    );
    for (let i = 0; i < 200 && !existsSync(started); i++) await new Promise((r) => setTimeout(r, 20));
    controller.abort();
    const result = await pending;
    expect(result.status).toBe('cancelled');
    expect(store.states(result.deploymentId!)).toEqual(['in_progress', 'error']);
    expect(store.find(result.deploymentId!)!.statuses.at(-1)!.description).toMatch(/^cancelled/);
  });

  it('keeps deploying when GitHub refuses, and reports the problem', async () => {
    const bad = new GitHubDeploymentRecorder({
      token: 'wrong-token',
      repository: 'acme/dhash',
      apiUrl: fake.url,
      minWriteIntervalMs: 0,
    });
    const result = await runDeploy(options({ recorder: bad }));
    expect(result.status).toBe('succeeded');
    expect(result.deploymentId).toBeUndefined();
    expect(result.githubProblems.join('\n')).toMatch(/create deployment failed: Bad credentials/);
  });

  it('keeps deploying when GitHub does not answer (each attempt bounded, retried), and reports it', async () => {
    const { fake: hung, asked } = await startHungGitHub('repos/create-deployment');
    try {
      const rec = new GitHubDeploymentRecorder({
        token: 't',
        repository: 'acme/dhash',
        apiUrl: hung.url,
        minWriteIntervalMs: 0,
        attemptTimeoutMs: 200,
        retryBaseMs: 1,
      });
      const result = await runDeploy(options({ recorder: rec }));
      expect(result.status).toBe('succeeded');
      expect(result.deploymentId).toBeUndefined();
      expect(result.githubProblems.join('\n')).toContain(
        `create deployment failed: no answer from ${new URL(hung.url).host} within 200ms`,
      );
      expect(asked()).toBe(4); // the first attempt and 3 retries
    } finally {
      await hung.stop();
    }
  });

  it.each([
    ['create', 'repos/create-deployment'],
    ['status', 'repos/create-deployment-status'],
    ['active', 'repos/list-deployments'],
  ] as const)(
    'requestTimeoutMs bounds a whole %s against a GitHub that never answers: attempts, lookups and pauses',
    async (call, operation) => {
      const { fake: hung, asked } = await startHungGitHub(operation);
      try {
        const rec = recorderAt(hung.url, {
          requestTimeoutMs: 500,
          attemptTimeoutMs: 200,
          retryBaseMs: 100, // unbounded: 4 attempts of 200 ms and pauses of 0.1 + 0.4 + 0.9 s
        });
        const started = Date.now();
        await expect(
          call === 'create'
            ? rec.create({
                environment: 'staging',
                ref: 'v1',
                description: 'd',
                payload: {},
                production: false,
              })
            : call === 'status'
              ? rec.status(1, { state: 'success', description: 'd' })
              : rec.active('staging'),
        ).rejects.toThrow();
        // Was 2.0 s for the create: plugin-retry's pauses between attempts did not stop at the bound.
        expect(Date.now() - started).toBeLessThan(1000);
        expect(asked()).toBeLessThanOrEqual(2);
      } finally {
        await hung.stop();
      }
    },
  );

  it('an attempt whose answer was lost after GitHub created the deployment: found by its token, not created twice', async () => {
    const {
      store: lostStore,
      fake: lossy,
      posts,
    } = await githubWrappingCreate(async (post, create) => {
      const answer = await create();
      // The first answer never arrives (a proxy or GitHub itself stalled after the write).
      return post === 1 ? new Promise<never>(() => {}) : answer;
    });
    const logged: string[] = [];
    try {
      const rec = recorderAt(lossy.url, {
        attemptTimeoutMs: 200,
        retryBaseMs: 1,
        log: (line) => logged.push(line),
      });
      const result = await runDeploy(options({ recorder: rec }));
      expect(result.githubProblems).toEqual([]);
      expect(posts()).toBe(1);
      expect(lostStore.deployments).toHaveLength(1);
      expect(result.deploymentId).toBe(lostStore.deployments[0]!.id);
      expect(lostStore.states(result.deploymentId!)).toEqual(['in_progress', 'success']);
      expect(logged.join('\n')).toContain(
        `GitHub created deployment ${result.deploymentId} on an attempt whose answer was lost`,
      );
      expect(lossy.violations).toEqual([]);
    } finally {
      await lossy.stop();
    }
  });

  it('a 502 before GitHub created anything: the search finds nothing and the POST is retried once', async () => {
    const {
      store: flakyStore,
      fake: flaky,
      posts,
    } = await githubWrappingCreate((post, create) =>
      post === 1 ? { status: 502, body: { message: 'Server Error' } } : create(),
    );
    try {
      const rec = recorderAt(flaky.url, {
        retryBaseMs: 1,
      });
      const result = await runDeploy(options({ recorder: rec }));
      expect(result.githubProblems).toEqual([]);
      expect(posts()).toBe(2);
      expect(flakyStore.deployments).toHaveLength(1);
      expect(flakyStore.states(result.deploymentId!)).toEqual(['in_progress', 'success']);
    } finally {
      await flaky.stop();
    }
  });

  it('waits out a secondary rate limit and retries', async () => {
    const limitedStore = new DeploymentStore();
    const handlers = deploymentHandlers(limitedStore);
    const limited = await startFakeGitHub(handlers);
    const create = handlers['repos/create-deployment']!;
    let calls = 0;
    limited.on('repos/create-deployment', (req, f) => {
      calls++;
      if (calls === 1)
        return {
          status: 403,
          headers: { 'retry-after': '1' },
          body: {
            message:
              'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.',
          },
        };
      return create(req, f);
    });
    try {
      const rec = new GitHubDeploymentRecorder({
        token: 't',
        repository: 'acme/dhash',
        apiUrl: limited.url,
        retryAfterBaseValue: 10,
        minWriteIntervalMs: 0,
      });
      const result = await runDeploy(options({ recorder: rec }));
      expect(calls).toBe(2);
      expect(result.githubProblems).toEqual([]);
      expect(limitedStore.states(result.deploymentId!)).toEqual(['in_progress', 'success']);
      expect(limited.violations).toEqual([]);
    } finally {
      await limited.stop();
    }
  });
});
