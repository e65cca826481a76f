// Records a deploy as a GitHub Deployment with statuses (in_progress → success | failure | error).
// The deploy logic talks to the DeploymentRecorder interface; GitHubDeploymentRecorder is the edge,
// built on @octokit/core with the throttling and retry plugins so secondary rate limits are waited
// out instead of losing a status.
import { Octokit } from '@octokit/core';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import Bottleneck from 'bottleneck';
import { ConfigError } from '@guarded-rollout/config';

export type DeploymentState = 'in_progress' | 'success' | 'failure' | 'error' | 'inactive';

export interface DeploymentRequest {
  environment: string;
  ref: string;
  description: string;
  payload: Record<string, unknown>;
  production: boolean;
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
  log?: (message: string) => void;
}

const ThrottledOctokit = Octokit.plugin(throttling, retry);

// GitHub cuts descriptions at 140 characters and answers 422 beyond.
const clip = (text: string): string => (text.length > 140 ? `${text.slice(0, 139)}…` : text);

export class GitHubDeploymentRecorder implements DeploymentRecorder {
  private readonly octokit: InstanceType<typeof ThrottledOctokit>;
  private readonly owner: string;
  private readonly repo: string;

  constructor(target: GitHubTarget) {
    const [owner, repo, ...rest] = target.repository.split('/');
    if (!owner || !repo || rest.length) {
      throw new ConfigError(`repository ${JSON.stringify(target.repository)} is not of the form owner/name`, {
        field: 'repository',
      });
    }
    this.owner = owner;
    this.repo = repo;
    const log = target.log ?? (() => undefined);
    this.octokit = new ThrottledOctokit({
      auth: target.token,
      baseUrl: (target.apiUrl ?? 'https://api.github.com').replace(/\/+$/, ''),
      log: { debug: () => undefined, info: () => undefined, warn: log, error: log },
      retry: { retries: 3 },
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

  async create(request: DeploymentRequest): Promise<number> {
    const response = await this.octokit.request('POST /repos/{owner}/{repo}/deployments', {
      owner: this.owner,
      repo: this.repo,
      ref: request.ref,
      environment: request.environment,
      description: clip(request.description),
      payload: request.payload,
      production_environment: request.production,
      // The guarded workflow has already gated this ref; GitHub must not re-check commit
      // statuses or merge the default branch into it behind our back.
      auto_merge: false,
      required_contexts: [],
    });
    if (response.status !== 201 || !('id' in response.data)) {
      throw new Error(
        `GitHub did not create the deployment (HTTP ${response.status}: ${JSON.stringify(response.data)})`,
      );
    }
    return Number(response.data.id);
  }

  async status(deploymentId: number, update: DeploymentStatusUpdate): Promise<void> {
    await this.octokit.request('POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses', {
      owner: this.owner,
      repo: this.repo,
      deployment_id: deploymentId,
      state: update.state,
      description: clip(update.description),
      ...(update.logUrl ? { log_url: update.logUrl } : {}),
      ...(update.environmentUrl ? { environment_url: update.environmentUrl } : {}),
      // Only a successful deploy retires the previous ones; a failed one must not hide them.
      auto_inactive: update.state === 'success',
    });
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
