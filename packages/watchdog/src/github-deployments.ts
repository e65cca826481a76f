// The watchdog's edge: the three GitHub Deployments REST calls it needs (list deployments, list a
// deployment's statuses, create a status), over fetch. Hand-written rather than Octokit because it
// is three endpoints and the CLI bundle stays small; pagination follows GitHub's Link header.
import { CheckFailedError, ConfigError } from '@guarded-rollout/config';

export interface GitHubDeploymentsClientOptions {
  repository: string; // owner/repo
  token: string;
  apiUrl?: string;
  fetch?: typeof fetch;
  /** Bound on pages read per list call (100 items each). */
  maxPages?: number;
}

export interface ApiDeployment {
  id: number;
  ref: string;
  environment: string;
  created_at: string;
}

export interface ApiDeploymentStatus {
  state: string;
  created_at: string;
  description?: string | null;
}

const REPOSITORY = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;

export class GitHubDeploymentsClient {
  private readonly base: string;
  private readonly fetch: typeof fetch;
  private readonly maxPages: number;

  constructor(private readonly options: GitHubDeploymentsClientOptions) {
    if (!REPOSITORY.test(options.repository))
      throw new ConfigError(`repository: "${options.repository}" is not OWNER/REPO`, { field: 'repository' });
    if (!options.token)
      throw new ConfigError('no GitHub token: set GITHUB_TOKEN (needs deployments: write)', {
        field: 'token',
      });
    this.base = (options.apiUrl ?? 'https://api.github.com').replace(/\/+$/, '');
    this.fetch = options.fetch ?? globalThis.fetch;
    this.maxPages = options.maxPages ?? 10;
  }

  private async request(
    method: string,
    url: string,
    body?: unknown,
  ): Promise<{ data: unknown; next?: string }> {
    let response: Response;
    try {
      response = await this.fetch(url, {
        method,
        headers: {
          accept: 'application/vnd.github+json',
          authorization: `Bearer ${this.options.token}`,
          'x-github-api-version': '2022-11-28',
          'user-agent': 'guarded-rollout-watchdog',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      throw new CheckFailedError(`GitHub API ${method} ${url} failed: ${(error as Error).message}`, {
        cause: error,
      });
    }
    const text = await response.text();
    if (!response.ok) {
      let message = text.slice(0, 200);
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? message;
      } catch {
        /* keep the raw text */
      }
      throw new CheckFailedError(
        `GitHub API ${method} ${new URL(url).pathname} answered ${response.status}: ${message}`,
      );
    }
    const next = /<([^>]+)>;\s*rel="next"/.exec(response.headers.get('link') ?? '')?.[1];
    return { data: text ? JSON.parse(text) : undefined, next };
  }

  private repoUrl(path: string): string {
    return `${this.base}/repos/${this.options.repository}${path}`;
  }

  /**
   * Deployments newest first, stopping at the first one created before `since` (GitHub lists them
   * newest first) or after `maxPages` pages.
   */
  async listDeployments(filter: { environment?: string; since: Date }): Promise<ApiDeployment[]> {
    const query = new URLSearchParams({ per_page: '100' });
    if (filter.environment) query.set('environment', filter.environment);
    let url: string | undefined = this.repoUrl(`/deployments?${query.toString()}`);
    const found: ApiDeployment[] = [];
    for (let page = 0; url && page < this.maxPages; page++) {
      const { data, next } = await this.request('GET', url);
      const items = data as ApiDeployment[];
      for (const d of items) {
        if (Date.parse(d.created_at) < filter.since.getTime()) return found;
        found.push(d);
      }
      url = next;
    }
    return found;
  }

  /** The newest status of a deployment, or undefined when it has none. */
  async latestStatus(deploymentId: number): Promise<ApiDeploymentStatus | undefined> {
    const { data } = await this.request(
      'GET',
      this.repoUrl(`/deployments/${deploymentId}/statuses?per_page=1`),
    );
    return (data as ApiDeploymentStatus[])[0];
  }

  async createStatus(
    deploymentId: number,
    status: { state: 'error'; description: string; log_url?: string },
  ): Promise<void> {
    await this.request('POST', this.repoUrl(`/deployments/${deploymentId}/statuses`), status);
  }
}
