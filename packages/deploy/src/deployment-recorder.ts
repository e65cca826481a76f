// Records a deploy as a GitHub Deployment with statuses (in_progress → success | failure | error).
// The deploy logic talks to the DeploymentRecorder interface; GitHubDeploymentRecorder is the edge,
// built on @octokit/core with the throttling plugin so rate limits are waited out instead of losing
// a status; a 5xx or an unanswered attempt is retried by `retrying` (bounded, pauses included).
// GitHub's commit-status gate stays on unless the caller names the contexts: its 409 is final
// (never retried) and surfaces as CommitStatusGateError.
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { Octokit } from '@octokit/core';
import { throttling } from '@octokit/plugin-throttling';
import Bottleneck from 'bottleneck';
import { ConfigError, deadlineFetch, GITHUB_REQUEST_TIMEOUT_MS } from '@guarded-rollout/config';

export type DeploymentState = 'in_progress' | 'success' | 'failure' | 'error' | 'inactive';

export interface DeploymentRequest {
  environment: string;
  ref: string;
  description: string;
  payload: Record<string, unknown>;
  production: boolean;
  /** Commit-status contexts GitHub must see green first; undefined = every context (GitHub's
   *  default), [] switches the gate off. */
  requiredContexts?: string[];
}

/** The environment's current deployment: its latest status is `success`. */
export interface ActiveDeployment {
  id: number;
  ref: string;
  version: string | undefined;
}

/** GitHub refused the deployment (409): the commit's required status checks are not green. */
export class CommitStatusGateError extends Error {
  constructor(
    readonly ref: string,
    readonly contexts: { context: string; state: string }[],
    githubMessage: string,
  ) {
    super(
      `GitHub refused to deploy ${ref}: ${
        contexts.length
          ? `commit status checks not successful: ${contexts.map((c) => `${c.context} (${c.state})`).join(', ')}`
          : githubMessage
      }. Fix them, or name the contexts that must pass (input "required-contexts")`,
    );
    this.name = 'CommitStatusGateError';
  }
}

/** Reads GitHub's 409 body: errors[].contexts[] = {context, state}. */
export function commitStatusGateError(ref: string, error: unknown): CommitStatusGateError | undefined {
  const e = error as { status?: number; response?: { data?: unknown }; message?: string };
  if (e?.status !== 409) return undefined;
  const data = (e.response?.data ?? {}) as { message?: string; errors?: { contexts?: unknown }[] };
  const contexts: { context: string; state: string }[] = [];
  for (const item of data.errors ?? []) {
    if (!Array.isArray(item.contexts)) continue;
    for (const c of item.contexts as { context?: unknown; state?: unknown }[])
      contexts.push({ context: String(c.context), state: String(c.state) });
  }
  return new CommitStatusGateError(ref, contexts, data.message ?? e.message ?? 'HTTP 409');
}

export interface DeploymentStatusUpdate {
  state: DeploymentState;
  description: string;
  logUrl?: string;
  environmentUrl?: string;
}

export interface DeploymentRecorder {
  /** Creates the deployment and returns its id. */
  create(request: DeploymentRequest): Promise<number>;
  status(deploymentId: number, update: DeploymentStatusUpdate): Promise<void>;
  /** The environment's active deployment, when the recorder can read it. */
  active?(environment: string): Promise<ActiveDeployment | undefined>;
}

export interface GitHubTarget {
  token: string;
  /** "owner/name" */
  repository: string;
  /** REST API root; GITHUB_API_URL on runners, https://api.github.com otherwise. */
  apiUrl?: string;
  /** Seconds → ms multiplier for Retry-After; tests shrink it. */
  retryAfterBaseValue?: number;
  /** Gap between writes; GitHub asks for at least a second between content-creating requests. */
  minWriteIntervalMs?: number;
  /** Bound on one request including its retries (default none); a hung API must not hold a deploy. */
  requestTimeoutMs?: number;
  /** Bound on each attempt, its answer read (default 30 s); a timed-out attempt is retried like
   *  a 5xx. Without it a GitHub API that accepts and never answers held a deploy forever. */
  attemptTimeoutMs?: number;
  /** Base of the retry back-off of a 5xx or unanswered attempt, in ms (default 1000; tests shrink it). */
  retryBaseMs?: number;
  log?: (message: string) => void;
}

const ThrottledOctokit = Octokit.plugin(throttling);

/** Retries of a 5xx or an unanswered attempt (see `retrying`). */
const RETRIES = 3;

/** The payload key of the token that identifies one create request (see create). */
export const REQUEST_TOKEN = 'guarded_rollout_request';

// GitHub cuts descriptions at 140 characters and answers 422 beyond.
const clip = (text: string): string => (text.length > 140 ? `${text.slice(0, 139)}…` : text);

export class GitHubDeploymentRecorder implements DeploymentRecorder {
  private readonly octokit: InstanceType<typeof ThrottledOctokit>;
  private readonly owner: string;
  private readonly repo: string;
  private readonly requestTimeoutMs: number | undefined;
  private readonly retryBaseMs: number;
  private readonly log: (message: string) => void;

  constructor(target: GitHubTarget) {
    const [owner, repo, ...rest] = target.repository.split('/');
    if (!owner || !repo || rest.length) {
      throw new ConfigError(`repository ${JSON.stringify(target.repository)} is not of the form owner/name`, {
        field: 'repository',
      });
    }
    this.owner = owner;
    this.repo = repo;
    this.requestTimeoutMs = target.requestTimeoutMs;
    this.retryBaseMs = target.retryBaseMs ?? 1000;
    const log = target.log ?? (() => undefined);
    this.log = log;
    this.octokit = new ThrottledOctokit({
      auth: target.token,
      baseUrl: (target.apiUrl ?? 'https://api.github.com').replace(/\/+$/, ''),
      // Octokit takes no per-attempt timeout: one deadline per attempt, its answer read.
      request: { fetch: deadlineFetch(target.attemptTimeoutMs ?? GITHUB_REQUEST_TIMEOUT_MS) },
      log: { debug: () => undefined, info: () => undefined, warn: log, error: log },
      throttle: {
        ...(target.retryAfterBaseValue === undefined
          ? {}
          : { retryAfterBaseValue: target.retryAfterBaseValue }),
        ...(target.minWriteIntervalMs === undefined
          ? {}
          : {
              write: new Bottleneck.Group({
                id: `guarded-rollout-write-${target.minWriteIntervalMs}`,
                maxConcurrent: 1,
                minTime: target.minWriteIntervalMs,
              }),
            }),
        onRateLimit: (
          retryAfter: number,
          options: { method: string; url: string },
          _o: unknown,
          retryCount: number,
        ) => {
          log(`GitHub rate limit on ${options.method} ${options.url}; retrying in ${retryAfter}s`);
          return retryCount < 2;
        },
        onSecondaryRateLimit: (
          retryAfter: number,
          options: { method: string; url: string },
          _o: unknown,
          retryCount: number,
        ) => {
          log(`GitHub secondary rate limit on ${options.method} ${options.url}; retrying in ${retryAfter}s`);
          return retryCount < 3;
        },
      },
    });
  }

  private bounded(): { request?: { signal: AbortSignal } } {
    return this.requestTimeoutMs ? { request: { signal: AbortSignal.timeout(this.requestTimeoutMs) } } : {};
  }

  /**
   * Runs `send` with up to RETRIES retries of a 5xx or an unanswered attempt (not of a 4xx such
   * as the commit-status gate's 409: GitHub's answer), pausing (n+1)² × retryBaseMs between them.
   * requestTimeoutMs bounds all of it, pauses included (why not @octokit/plugin-retry: its pauses
   * ignore a request's signal; a 500 ms bound took 2.0 s). `beforeRetry` may end the loop with a
   * result found otherwise.
   */
  private async retrying<T>(
    send: (request: { signal?: AbortSignal }) => Promise<T>,
    beforeRetry?: (error: unknown, signal: AbortSignal | undefined) => Promise<T | undefined>,
  ): Promise<T> {
    const signal = this.bounded().request?.signal;
    for (let attempt = 0; ; attempt++) {
      try {
        return await send(signal ? { signal } : {});
      } catch (error) {
        const status = (error as { status?: number }).status ?? 0;
        if (status < 500 || attempt >= RETRIES || signal?.aborted) throw error;
        const found = await beforeRetry?.(error, signal);
        if (found !== undefined) return found;
        try {
          await delay((attempt + 1) ** 2 * this.retryBaseMs, undefined, signal ? { signal } : {});
        } catch {
          throw error; // the bound ran out while waiting: the last attempt's failure is the answer
        }
      }
    }
  }

  /**
   * Creates the deployment. Not retried blindly: an attempt whose answer was lost (no answer in
   * time, a 5xx, a reset connection) may still have created it, and a second POST would leave
   * that first deployment "pending" on the environment's page for good. Every request carries a
   * token of its own in the payload; before each retry the environment's newest deployments are
   * searched for it, and a deployment found is the one used.
   */
  async create(request: DeploymentRequest): Promise<number> {
    const token = randomUUID();
    const payload = { ...request.payload, [REQUEST_TOKEN]: token };
    try {
      return await this.retrying(
        async (bound) => {
          const response = await this.octokit.request('POST /repos/{owner}/{repo}/deployments', {
            owner: this.owner,
            repo: this.repo,
            ref: request.ref,
            environment: request.environment,
            description: clip(request.description),
            payload,
            production_environment: request.production,
            // GitHub must not merge the default branch into the ref behind our back.
            auto_merge: false,
            // Omitted: GitHub checks every commit status context (its own gate stays on).
            ...(request.requiredContexts ? { required_contexts: request.requiredContexts } : {}),
            request: bound,
          });
          if (response.status !== 201 || !('id' in response.data)) {
            throw new Error(
              `GitHub did not create the deployment (HTTP ${response.status}: ${JSON.stringify(response.data)})`,
            );
          }
          return Number(response.data.id);
        },
        async (error, signal) => {
          const id = await this.findCreated(request, token, signal);
          if (id !== undefined)
            this.log(
              `GitHub created deployment ${id} on an attempt whose answer was lost (${(error as Error).message}); using it, not creating another`,
            );
          return id;
        },
      );
    } catch (error) {
      throw commitStatusGateError(request.ref, error) ?? error;
    }
  }

  /** The deployment of the environment and ref whose payload carries `token`, among the newest
   *  30; undefined when there is none or GitHub cannot be read either (then the POST is retried). */
  private async findCreated(
    request: DeploymentRequest,
    token: string,
    signal: AbortSignal | undefined,
  ): Promise<number | undefined> {
    try {
      const list = await this.octokit.request('GET /repos/{owner}/{repo}/deployments', {
        owner: this.owner,
        repo: this.repo,
        environment: request.environment,
        ref: request.ref,
        per_page: 30,
        // Once, inside the create's bound: the lookup sits in its retry loop.
        ...(signal ? { request: { signal } } : {}),
      });
      const found = list.data.find(
        (d) =>
          typeof d.payload === 'object' &&
          d.payload !== null &&
          (d.payload as Record<string, unknown>)[REQUEST_TOKEN] === token,
      );
      return found ? Number(found.id) : undefined;
    } catch {
      return undefined;
    }
  }

  async status(deploymentId: number, update: DeploymentStatusUpdate): Promise<void> {
    // A repeated status is harmless (the latest one counts): retried without a lookup.
    await this.retrying((bound) =>
      this.octokit.request('POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses', {
        owner: this.owner,
        repo: this.repo,
        deployment_id: deploymentId,
        state: update.state,
        description: clip(update.description),
        ...(update.logUrl ? { log_url: update.logUrl } : {}),
        ...(update.environmentUrl ? { environment_url: update.environmentUrl } : {}),
        // Only a successful deploy retires the previous ones; a failed one must not hide them.
        auto_inactive: update.state === 'success',
        request: bound,
      }),
    );
  }

  async active(environment: string): Promise<ActiveDeployment | undefined> {
    const list = await this.retrying((bound) =>
      this.octokit.request('GET /repos/{owner}/{repo}/deployments', {
        owner: this.owner,
        repo: this.repo,
        environment,
        per_page: 30,
        request: bound,
      }),
    );
    for (const d of list.data) {
      const statuses = await this.retrying((bound) =>
        this.octokit.request('GET /repos/{owner}/{repo}/deployments/{deployment_id}/statuses', {
          owner: this.owner,
          repo: this.repo,
          deployment_id: Number(d.id),
          per_page: 1,
          request: bound,
        }),
      );
      const latest = statuses.data[0]?.state;
      if (latest === 'success') {
        const payload = (typeof d.payload === 'object' && d.payload ? d.payload : {}) as Record<
          string,
          unknown
        >;
        return {
          id: Number(d.id),
          ref: d.sha || d.ref,
          version: typeof payload.version === 'string' ? payload.version : undefined,
        };
      }
    }
    return undefined;
  }
}

/** Reads the GitHub target from the environment the way runners set it, or undefined when incomplete. */
export function githubTargetFromEnv(
  env: NodeJS.ProcessEnv,
  token = env.GITHUB_TOKEN,
): GitHubTarget | undefined {
  if (!token || !env.GITHUB_REPOSITORY) return undefined;
  return { token, repository: env.GITHUB_REPOSITORY, apiUrl: env.GITHUB_API_URL || undefined };
}

export interface RestoredRelease {
  environment: string;
  /** The restored release's commit. */
  ref: string;
  version?: string;
  /** Why it was restored ("automatic rollback: quality gate violated"). */
  reason: string;
  restoredFrom?: string;
  /** The deployment the rollback replaced, when known. */
  rollbackOf?: number;
  logUrl?: string;
  environmentUrl?: string;
}

/** After a verified restore (automatic or manual), records the restored release as a new
 *  Deployment with `success`, so it is the environment's active deployment again (GitHub marks
 *  the older successful ones inactive). Returns its id. */
export async function recordRestoredRelease(
  recorder: DeploymentRecorder,
  release: RestoredRelease,
): Promise<number> {
  const urls = {
    ...(release.logUrl ? { logUrl: release.logUrl } : {}),
    ...(release.environmentUrl ? { environmentUrl: release.environmentUrl } : {}),
  };
  const id = await recorder.create({
    environment: release.environment,
    ref: release.ref,
    production: release.environment === 'production',
    description: `${release.reason}: ${release.version ?? release.ref} restored`,
    payload: {
      version: release.version ?? null,
      type: 'rollback',
      rollback_of: release.rollbackOf ?? null,
      restored_from: release.restoredFrom ?? null,
    },
    // The restored release was live before; a newer red check must not block recording it.
    requiredContexts: [],
  });
  await recorder.status(id, { state: 'in_progress', description: 'restoring the previous release', ...urls });
  await recorder.status(id, {
    state: 'success',
    description: `restored ${release.version ?? release.ref}; health verified`,
    ...urls,
  });
  return id;
}
