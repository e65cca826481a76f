import { closeSync, ftruncateSync, mkdtempSync, openSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  installArtifactRoutes,
  startFakeGitHub,
  startHungGitHub,
  type ArtifactRecord,
  type FakeGitHub,
} from '@guarded-rollout/fake-github';
import {
  BackupFetchCancelledError,
  backupArtifactName,
  downloadBackup,
  findBackupArtifact,
  parseBackupArtifactName,
  uploadBackupArtifact,
} from '../src/index.js';

const records: ArtifactRecord[] = [];
let fake: FakeGitHub;
const add = (name: string, runId: number, createdAt: string, expired = false): void => {
  records.push({
    id: records.length + 1,
    name,
    sizeInBytes: 10,
    createdAt,
    expiresAt: '2027-01-01T00:00:00Z',
    runId,
    headSha: 'a'.repeat(40),
    headBranch: 'main',
    expired,
  });
};
beforeAll(async () => {
  fake = await startFakeGitHub();
  fake.token = 't';
  installArtifactRoutes(fake, { listArtifacts: () => records, downloadUrl: () => 'http://127.0.0.1:9/x' });
  add('guarded-rollout-backup-production-run10-attempt1', 10, '2026-01-01T00:00:00Z');
  add('guarded-rollout-backup-production-run10-attempt2', 10, '2026-01-01T01:00:00Z');
  add('guarded-rollout-backup-staging-run11-attempt1', 11, '2026-01-02T00:00:00Z');
  add('guarded-rollout-backup-production-run12-attempt1', 12, '2026-01-03T00:00:00Z', true);
  add('deploy-logs-production', 13, '2026-01-04T00:00:00Z');
  // 150 unrelated artifacts newer than all of them: "latest" pages through.
  for (let i = 0; i < 150; i++)
    add(`coverage-${i}`, 100 + i, `2026-02-01T00:00:${String(i % 60).padStart(2, '0')}Z`);
});
afterAll(() => fake.stop());
const github = () => ({ token: 't', repository: 'o/r', apiUrl: fake.url });

describe('backup artifact names', () => {
  it('name environment, run and attempt, and parse back', () => {
    expect(backupArtifactName('production', 42, 3)).toBe('guarded-rollout-backup-production-run42-attempt3');
    expect(parseBackupArtifactName('guarded-rollout-backup-eu-west.prod-run42-attempt3')).toEqual({
      environment: 'eu-west.prod',
      runId: 42,
      runAttempt: 3,
    });
    expect(parseBackupArtifactName('dhash_production_20260101T000000Z')).toBeUndefined();
  });
  it.each([
    ['prod/uction', 1, 1, /environment/],
    ['production', 0, 1, /run id 0 is not a positive integer/],
    ['production', 1, 1.5, /run attempt 1.5 is not a positive integer/],
  ])('refuses %s run %s attempt %s', (env, run, attempt, message) => {
    expect(() => backupArtifactName(env, run, attempt)).toThrow(message);
  });
});

describe('findBackupArtifact', () => {
  it('finds the latest attempt of deploy run N', async () => {
    const a = await findBackupArtifact({ environment: 'production', runId: 10, github: github() });
    expect(a).toMatchObject({
      name: 'guarded-rollout-backup-production-run10-attempt2',
      runId: 10,
      runAttempt: 2,
    });
  });
  it('finds the newest unexpired backup of the environment, paging past other artifacts', async () => {
    const a = await findBackupArtifact({ environment: 'production', github: github() });
    expect(a.name).toBe('guarded-rollout-backup-production-run10-attempt2');
    expect(fake.violations).toEqual([]);
  });
  it('names the environment, the run and the environments that do have backups', async () => {
    await expect(
      findBackupArtifact({ environment: 'production', runId: 11, github: github() }),
    ).rejects.toThrow(
      'no backup artifact of environment "production" in run 11 of o/r (expected a name like guarded-rollout-backup-production-run<id>-attempt<n>); environments with backup artifacts there: staging',
    );
  });
  it('reports an API failure with its status', async () => {
    await expect(
      findBackupArtifact({ environment: 'production', github: { ...github(), token: 'wrong' } }),
    ).rejects.toThrow(
      /listing backup artifacts in the newest 1000 artifacts of o\/r failed: 401 Bad credentials/,
    );
  });
});

describe('a GitHub API or a download that hangs', () => {
  it('a listing that never answers fails at the request timeout with one line, not at the job timeout', async () => {
    const { fake: hung } = await startHungGitHub('actions/list-workflow-run-artifacts');
    try {
      const started = Date.now();
      const host = new URL(hung.url).host;
      await expect(
        findBackupArtifact({
          environment: 'production',
          runId: 7,
          github: { token: 't', repository: 'o/r', apiUrl: hung.url, requestTimeoutMs: 300 },
        }),
      ).rejects.toThrow(
        `listing backup artifacts in run 7 of o/r failed: no answer from ${host} within 300ms`,
      );
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await hung.stop();
    }
  });

  it('a cancel ends the request in flight: BackupFetchCancelledError, nothing changed', async () => {
    const controller = new AbortController();
    const { fake: hung, first } = await startHungGitHub('actions/list-workflow-run-artifacts');
    void first.then(() => controller.abort());
    try {
      const error = await findBackupArtifact({
        environment: 'production',
        runId: 7,
        github: { token: 't', repository: 'o/r', apiUrl: hung.url },
        signal: controller.signal,
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BackupFetchCancelledError);
      expect((error as Error).message).toBe(
        'cancelled while listing backup artifacts in run 7 of o/r; nothing was changed',
      );
    } finally {
      await hung.stop();
    }
  });

  const run7Artifact = {
    environment: 'production',
    runId: 7,
    runAttempt: 1,
    id: 70,
    name: 'guarded-rollout-backup-production-run7-attempt1',
    sizeInBytes: 1,
    createdAt: '2026-01-01T00:00:00Z',
  };

  it('a cancel ends the wait for a download that never ends (the client takes no signal)', async () => {
    const controller = new AbortController();
    const dest = join(mkdtempSync(join(tmpdir(), 'gr-dl-')), 'in');
    const error = await downloadBackup({
      artifact: run7Artifact,
      github: github(),
      destDir: dest,
      signal: controller.signal,
      downloader: {
        downloadArtifact: () => {
          setImmediate(() => controller.abort());
          return new Promise(() => {});
        },
      },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackupFetchCancelledError);
    expect((error as Error).message).toBe(
      `cancelled while downloading backup artifact guarded-rollout-backup-production-run7-attempt1 (id 70) into ${dest}; nothing was changed`,
    );
  });

  it('a cancel while the downloaded backup is verified stops the verification at once', async () => {
    const controller = new AbortController();
    const dest = join(mkdtempSync(join(tmpdir(), 'gr-dl-')), 'in');
    const name = 'dhash_production_20261207T120000Z.zip';
    const started = { at: 0 };
    const error = await downloadBackup({
      artifact: run7Artifact,
      github: github(),
      destDir: dest,
      signal: controller.signal,
      downloader: {
        // The download lands a 4 GiB backup (sparse: no disk; its whole hash takes ~3 s here).
        downloadArtifact: (_id, { path }) => {
          const fd = openSync(join(path, name), 'w');
          ftruncateSync(fd, 4 * 1024 ** 3);
          closeSync(fd);
          writeFileSync(join(path, `${name}.sha256`), `${'0'.repeat(64)}  ${name}\n`);
          setTimeout(() => {
            started.at = performance.now();
            controller.abort();
          }, 50);
          return Promise.resolve({});
        },
      },
    }).catch((e: unknown) => e);
    expect(performance.now() - started.at).toBeLessThan(1000);
    expect(error).toBeInstanceOf(BackupFetchCancelledError);
    expect((error as Error).message).toBe(
      `cancelled while verifying the downloaded backup ${join(dest, name)}; nothing was changed`,
    );
  });
});

describe('uploadBackupArtifact', () => {
  it('refuses without the runner token, saying why (composite run: steps never get it)', async () => {
    await expect(
      uploadBackupArtifact({
        backupPath: '/tmp/x.zip',
        environment: 'production',
        env: { GITHUB_RUN_ID: '5', GITHUB_RUN_ATTEMPT: '1' },
      }),
    ).rejects.toThrow(/ACTIONS_RUNTIME_TOKEN is not set .* never to a composite's run: step/);
  });
  it('uploads the zip and .sha256 stored, under the run’s name', async () => {
    const calls: unknown[] = [];
    const r = await uploadBackupArtifact({
      backupPath: '/b/dhash_production_x.zip',
      environment: 'production',
      env: { GITHUB_RUN_ID: '5', GITHUB_RUN_ATTEMPT: '2' },
      client: {
        uploadArtifact: async (...args) => {
          calls.push(args);
          return { id: 77 };
        },
      },
    });
    expect(r).toEqual({ name: 'guarded-rollout-backup-production-run5-attempt2', id: 77 });
    expect(calls).toEqual([
      [
        'guarded-rollout-backup-production-run5-attempt2',
        ['/b/dhash_production_x.zip', '/b/dhash_production_x.zip.sha256'],
        '/b',
        { compressionLevel: 0 },
      ],
    ]);
  });
});
