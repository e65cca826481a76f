// Durable backups across workflow runs. A runner's workspace does not outlive its job (checkout's
// clean deletes an ignored backups/), so the pre-deploy backup is uploaded as a workflow artifact
// named for environment, run and attempt; a rollback in another job or run finds it through the
// REST API, downloads it and verifies it like any backup before restoring. On self-hosted runners
// a persistent backup-dir outside the workspace does the same job without artifacts.
import { mkdirSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Octokit as OctokitCore } from '@octokit/core';
import { paginateRest } from '@octokit/plugin-paginate-rest';
import {
  assertEnvironmentName,
  RestoreCancelledError,
  verifyBackup,
  type VerifyResult,
} from '@guarded-rollout/archive';
import {
  CheckFailedError,
  ConfigError,
  deadlineFetch,
  GITHUB_REQUEST_TIMEOUT_MS,
  NoAnswerError,
  untilAborted,
} from '@guarded-rollout/config';

const PREFIX = 'guarded-rollout-backup-';
const Octokit = OctokitCore.plugin(paginateRest);

/** The artifact name of a run's backup: unique per run attempt, so "Re-run jobs" adds one. */
export function backupArtifactName(environment: string, runId: number, runAttempt: number): string {
  assertEnvironmentName(environment, 'environment');
  if (!Number.isSafeInteger(runId) || runId < 1)
    throw new ConfigError(`run id ${runId} is not a positive integer`, { field: 'run-id' });
  if (!Number.isSafeInteger(runAttempt) || runAttempt < 1)
    throw new ConfigError(`run attempt ${runAttempt} is not a positive integer`, { field: 'run-attempt' });
  return `${PREFIX}${environment}-run${runId}-attempt${runAttempt}`;
}

export interface BackupArtifactName {
  environment: string;
  runId: number;
  runAttempt: number;
}

export function parseBackupArtifactName(name: string): BackupArtifactName | undefined {
  const m = /^guarded-rollout-backup-([A-Za-z0-9.-]+)-run(\d+)-attempt(\d+)$/.exec(name);
  return m ? { environment: m[1]!, runId: Number(m[2]), runAttempt: Number(m[3]) } : undefined;
}

/** The part of @actions/artifact's client this package uses (a seam for tests and the CLI). */
export interface ArtifactUploader {
  uploadArtifact(
    name: string,
    files: string[],
    rootDirectory: string,
    options?: { retentionDays?: number; compressionLevel?: number },
  ): Promise<{ id?: number; size?: number }>;
}

export interface UploadBackupOptions {
  backupPath: string;
  sha256Path?: string;
  environment: string;
  /** Default: GITHUB_RUN_ID / GITHUB_RUN_ATTEMPT. */
  runId?: number;
  runAttempt?: number;
  /** Days the artifact is kept (0 or unset: the repository's default). */
  retentionDays?: number;
  /** Overrides the standard name (then "latest" and run lookups cannot find it). */
  name?: string;
  client?: ArtifactUploader;
  env?: NodeJS.ProcessEnv;
}

export interface UploadedBackup {
  name: string;
  id: number;
}

/**
 * Uploads the backup and its .sha256 (stored, not re-compressed) as the run's backup artifact.
 * Needs the runner's ACTIONS_RUNTIME_TOKEN, which only node (and docker) actions get.
 */
export async function uploadBackupArtifact(options: UploadBackupOptions): Promise<UploadedBackup> {
  const env = options.env ?? process.env;
  const runId = options.runId ?? Number(env.GITHUB_RUN_ID);
  const runAttempt = options.runAttempt ?? Number(env.GITHUB_RUN_ATTEMPT || 1);
  const name = options.name ?? backupArtifactName(options.environment, runId, runAttempt);
  if (!options.client && !env.ACTIONS_RUNTIME_TOKEN) {
    throw new CheckFailedError(
      `cannot upload backup artifact ${name}: ACTIONS_RUNTIME_TOKEN is not set (the runner gives it only to JavaScript and Docker actions, never to a composite's run: step)`,
    );
  }
  const client = options.client ?? new (await import('@actions/artifact')).DefaultArtifactClient();
  const sha256Path = options.sha256Path ?? `${options.backupPath}.sha256`;
  const uploaded = await client.uploadArtifact(
    name,
    [options.backupPath, sha256Path],
    dirname(options.backupPath),
    {
      ...(options.retentionDays ? { retentionDays: options.retentionDays } : {}),
      compressionLevel: 0,
    },
  );
  return { name, id: Number(uploaded.id ?? 0) };
}

export interface GitHubAccess {
  token: string;
  /** "owner/repo"; default GITHUB_REPOSITORY. */
  repository: string;
  /** Default GITHUB_API_URL or https://api.github.com. */
  apiUrl?: string;
  /** Longest one API request may take, its answer read (default 30 s): a hung API fails the
   *  lookup with one line instead of holding a rollback until the job's timeout. */
  requestTimeoutMs?: number;
}

/** A cancel (the runner's, Ctrl-C) while a backup artifact was looked up or downloaded. */
export class BackupFetchCancelledError extends Error {
  constructor(what: string) {
    super(`cancelled while ${what}; nothing was changed`);
    this.name = 'BackupFetchCancelledError';
  }
}

export interface FoundBackupArtifact extends BackupArtifactName {
  id: number;
  name: string;
  sizeInBytes: number;
  createdAt: string;
  digest?: string;
}

export interface FindBackupOptions {
  environment: string;
  /** The deploy run whose backup to restore; without it, the newest of the environment. */
  runId?: number;
  github: GitHubAccess;
  /** Bound on artifacts scanned for "latest" (newest first). Default 1000. */
  maxScanned?: number;
  /** A cancel: requests in flight end and BackupFetchCancelledError is thrown. */
  signal?: AbortSignal;
}

interface RestArtifact {
  id: number;
  name: string;
  size_in_bytes: number;
  created_at: string | null;
  expired: boolean;
  digest?: string | null;
  workflow_run?: { id?: number } | null;
}

function repoParts(repository: string): { owner: string; repo: string } {
  const m = /^([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+)$/.exec(repository);
  if (!m)
    throw new ConfigError(`repository ${JSON.stringify(repository)} is not "owner/name"`, {
      field: 'repository',
    });
  return { owner: m[1]!, repo: m[2]! };
}

/** Octokit whose every request (its answer read too) ends at the timeout or the cancel. */
function client(github: GitHubAccess, signal?: AbortSignal): InstanceType<typeof Octokit> {
  return new Octokit({
    auth: github.token,
    baseUrl: (github.apiUrl || 'https://api.github.com').replace(/\/+$/, ''),
    userAgent: 'guarded-rollout-backup-store',
    // Octokit takes no per-request timeout: one deadline per request (its answer read), which a
    // cancel also ends.
    request: { fetch: deadlineFetch(github.requestTimeoutMs ?? GITHUB_REQUEST_TIMEOUT_MS, signal) },
  });
}

function describeHttp(error: unknown): string {
  const e = error as { status?: number; message?: string; cause?: unknown };
  // Octokit reports a request that got no answer as status 500: GitHub sent none.
  if (e.cause instanceof NoAnswerError) return e.cause.message;
  return `${e.status ?? 'no status'} ${e.message ?? String(error)}`;
}

function newest(a: FoundBackupArtifact, b: FoundBackupArtifact): number {
  return (
    b.createdAt.localeCompare(a.createdAt) || b.runId - a.runId || b.runAttempt - a.runAttempt || b.id - a.id
  );
}

/** Finds the backup artifact of run N (its latest attempt) or the newest of an environment. */
export async function findBackupArtifact(options: FindBackupOptions): Promise<FoundBackupArtifact> {
  const environment = assertEnvironmentName(options.environment, 'environment');
  const { owner, repo } = repoParts(options.github.repository);
  const octokit = client(options.github, options.signal);
  const maxScanned = options.maxScanned ?? 1000;
  const found: FoundBackupArtifact[] = [];
  const otherEnvironments = new Set<string>();
  const consider = (a: RestArtifact): void => {
    const parsed = parseBackupArtifactName(a.name);
    if (!parsed || a.expired) return;
    if (options.runId !== undefined && parsed.runId !== options.runId) return;
    if (parsed.environment !== environment) {
      otherEnvironments.add(parsed.environment);
      return;
    }
    found.push({
      ...parsed,
      id: a.id,
      name: a.name,
      sizeInBytes: a.size_in_bytes,
      createdAt: a.created_at ?? '',
      ...(a.digest ? { digest: a.digest } : {}),
    });
  };
  const where =
    options.runId !== undefined
      ? `run ${options.runId} of ${owner}/${repo}`
      : `the newest ${maxScanned} artifacts of ${owner}/${repo}`;
  try {
    if (options.runId !== undefined) {
      const list = await octokit.paginate('GET /repos/{owner}/{repo}/actions/runs/{run_id}/artifacts', {
        owner,
        repo,
        run_id: options.runId,
        per_page: 100,
      });
      for (const a of list as RestArtifact[]) consider(a);
    } else {
      let scanned = 0;
      for await (const page of octokit.paginate.iterator('GET /repos/{owner}/{repo}/actions/artifacts', {
        owner,
        repo,
        per_page: 100,
      })) {
        for (const a of page.data as RestArtifact[]) consider(a);
        scanned += page.data.length;
        if (scanned >= maxScanned) break;
      }
    }
  } catch (error) {
    if (options.signal?.aborted) throw new BackupFetchCancelledError(`listing backup artifacts in ${where}`);
    throw new CheckFailedError(`listing backup artifacts in ${where} failed: ${describeHttp(error)}`);
  }
  found.sort(newest);
  if (!found[0]) {
    throw new CheckFailedError(
      `no backup artifact of environment "${environment}" in ${where} (expected a name like ${PREFIX}${environment}-run<id>-attempt<n>)${
        otherEnvironments.size
          ? `; environments with backup artifacts there: ${[...otherEnvironments].sort().join(', ')}`
          : ''
      }`,
    );
  }
  return found[0];
}

export interface DownloadBackupOptions {
  artifact: FoundBackupArtifact;
  github: GitHubAccess;
  /** Empty or new directory the zip and .sha256 are written to. */
  destDir: string;
  /** A cancel: the wait for the download ends and BackupFetchCancelledError is thrown. */
  signal?: AbortSignal;
  /** Seam for tests; default @actions/artifact's DefaultArtifactClient. */
  downloader?: {
    downloadArtifact(
      id: number,
      options: {
        path: string;
        findBy: { token: string; workflowRunId: number; repositoryOwner: string; repositoryName: string };
      },
    ): Promise<unknown>;
  };
}

export interface DownloadedBackup {
  backupPath: string;
  sha256Path: string;
  verified: VerifyResult;
  artifact: FoundBackupArtifact;
}

/** Downloads the artifact (REST 302 → blob) and verifies the backup in it like any backup. */
export async function downloadBackup(options: DownloadBackupOptions): Promise<DownloadedBackup> {
  const { owner, repo } = repoParts(options.github.repository);
  const dest = options.destDir;
  mkdirSync(dest, { recursive: true });
  if (readdirSync(dest).length)
    throw new ConfigError(`${dest}: download directory is not empty`, { field: 'destDir' });
  const downloader = options.downloader ?? new (await import('@actions/artifact')).DefaultArtifactClient();
  const a = options.artifact;
  const cancelled = (): BackupFetchCancelledError =>
    new BackupFetchCancelledError(`downloading backup artifact ${a.name} (id ${a.id}) into ${dest}`);
  if (options.signal?.aborted) throw cancelled();
  try {
    // @actions/artifact takes no signal: a cancel stops the wait (the process ends soon after).
    const downloaded = await untilAborted(
      downloader.downloadArtifact(a.id, {
        path: dest,
        findBy: {
          token: options.github.token,
          workflowRunId: a.runId,
          repositoryOwner: owner,
          repositoryName: repo,
        },
      }),
      options.signal,
    );
    if (options.signal?.aborted && downloaded === undefined) throw cancelled();
  } catch (error) {
    if (error instanceof BackupFetchCancelledError) throw error;
    throw new CheckFailedError(
      `downloading backup artifact ${a.name} (id ${a.id}) failed: ${(error as Error).message}`,
    );
  }
  const files = readdirSync(dest);
  const zips = files.filter((f) => f.endsWith('.zip'));
  if (zips.length !== 1 || !files.includes(`${zips[0]}.sha256`)) {
    throw new CheckFailedError(
      `backup artifact ${a.name} (id ${a.id}) holds ${JSON.stringify(files)}; expected one backup zip and its .sha256`,
    );
  }
  const backupPath = join(dest, zips[0]!);
  let verified;
  try {
    verified = await verifyBackup(backupPath, options.signal ? { signal: options.signal } : {});
  } catch (error) {
    if (error instanceof RestoreCancelledError)
      throw new BackupFetchCancelledError(`verifying the downloaded backup ${backupPath}`);
    throw error;
  }
  if (verified.manifest.environment !== a.environment) {
    throw new CheckFailedError(
      `backup artifact ${a.name}: ${basename(backupPath)} is a backup of "${verified.manifest.environment}", not "${a.environment}"`,
    );
  }
  return { backupPath, sha256Path: `${backupPath}.sha256`, verified, artifact: a };
}

/** Finds, downloads and verifies: "the backup of deploy run N" or "the latest of environment E". */
export async function fetchBackup(
  options: FindBackupOptions & { destDir: string; downloader?: DownloadBackupOptions['downloader'] },
): Promise<DownloadedBackup> {
  const artifact = await findBackupArtifact(options);
  return downloadBackup({
    artifact,
    github: options.github,
    destDir: options.destDir,
    ...(options.downloader ? { downloader: options.downloader } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

/** GitHub access from the runner's env (GITHUB_REPOSITORY, GITHUB_API_URL) and a token. */
export function githubAccessFromEnv(
  token: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): GitHubAccess {
  if (!token)
    throw new ConfigError('a GitHub token with actions:read is needed to find backup artifacts', {
      field: 'github-token',
    });
  const repository = env.GITHUB_REPOSITORY;
  if (!repository)
    throw new ConfigError(
      'GITHUB_REPOSITORY is not set (owner/name of the repository holding the artifacts)',
      { field: 'repository' },
    );
  return { token, repository, ...(env.GITHUB_API_URL ? { apiUrl: env.GITHUB_API_URL } : {}) };
}
