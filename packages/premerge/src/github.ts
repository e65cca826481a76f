// The GitHub edge of pr-check: gathers a PullSnapshot with few requests (per_page=100, comments
// only since the latest push and only when no review already carries the sign-off, one list per
// roster team), reads the premerge evidence bundle, and writes our app's one check run per head.
// Every request goes through @octokit/plugin-retry and @octokit/plugin-throttling.
import { Octokit as OctokitCore } from '@octokit/core';
import { paginateRest } from '@octokit/plugin-paginate-rest';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import {
  CheckFailedError,
  ConfigError,
  deadlineFetch,
  GITHUB_REQUEST_TIMEOUT_MS,
  NoAnswerError,
} from '@guarded-rollout/config';
import { parseMember, type PrCheckPolicy } from './policy.js';
import {
  evaluateSignoff,
  type IssueComment,
  type PremergeRun,
  type PullSnapshot,
  type Review,
  type RosterMembership,
} from './rules.js';

const Octokit = OctokitCore.plugin(paginateRest, retry, throttling);
export type GitHubClient = InstanceType<typeof Octokit>;

export interface ClientTuning {
  /** Retries of a 5xx / network error (plugin-retry; default 3). */
  retries?: number;
  /** Base of the retry back-off in ms (plugin-retry waits retryCount² × this; default 1000). */
  retryBaseMs?: number;
  /** Base unit of a Retry-After in ms (plugin-throttling; default 1000; tests shrink it). */
  rateLimitBaseMs?: number;
  /** How often a rate-limited request is retried before it fails (default 2). */
  rateLimitRetries?: number;
  /** Longest Retry-After / reset wait accepted, in seconds (default 60). */
  maxRateLimitWaitSeconds?: number;
  /** Longest one request may take, its answer read (default 30 s); then it fails, or is retried
   *  like a 5xx. A hung API must not keep the check pending until the job's timeout. */
  requestTimeoutMs?: number;
}

let clientCount = 0;

export function createGitHubClient(token: string, apiUrl?: string, tuning: ClientTuning = {}): GitHubClient {
  const limitRetries = tuning.rateLimitRetries ?? 2;
  // Wait out a short limit; a long one (a primary limit resets hourly) fails now with the request
  // named, because a job killed by its timeout would leave the check without a conclusion.
  const onLimit = (after: number, _options: unknown, _octokit: unknown, retryCount: number): boolean =>
    retryCount < limitRetries && after <= (tuning.maxRateLimitWaitSeconds ?? 60);
  return new Octokit({
    auth: token,
    baseUrl: (apiUrl || 'https://api.github.com').replace(/\/+$/, ''),
    userAgent: 'guarded-rollout-pr-check',
    // Octokit takes no per-request timeout: one deadline per request, its answer read.
    request: { fetch: deadlineFetch(tuning.requestTimeoutMs ?? GITHUB_REQUEST_TIMEOUT_MS) },
    retry: { retries: tuning.retries ?? 3, retryAfterBaseValue: tuning.retryBaseMs ?? 1000 },
    throttle: {
      // The plugin's limiters are module-wide and keyed by id: one key per client keeps its
      // one-second spacing of writes inside an evaluation, not across unrelated evaluations.
      id: `pr-check-${++clientCount}`,
      onRateLimit: onLimit,
      onSecondaryRateLimit: onLimit,
      retryAfterBaseValue: tuning.rateLimitBaseMs ?? 1000,
      // A Retry-After-less secondary limit waits this many units (GitHub asks for at least 60 s).
      fallbackSecondaryRateRetryAfter: 60,
    },
  });
}

export interface RepoRef {
  owner: string;
  repo: string;
}

interface HttpError {
  status?: number;
  message?: string;
  request?: { method?: string; url?: string };
}

/** "GET /repos/…/reviews answered 500 "boom"" — names the request so a reader knows what failed. */
export function describeHttp(error: unknown): string {
  const e = error as HttpError;
  const where =
    e.request?.method && e.request.url ? `${e.request.method} ${new URL(e.request.url).pathname} ` : '';
  // Octokit reports a request that got no answer as status 500: GitHub sent none.
  if ((error as { cause?: unknown }).cause instanceof NoAnswerError)
    return `${where}got ${(error as { cause: NoAnswerError }).cause.message}`;
  return `${where}answered ${e.status ?? 'no status'} ${JSON.stringify(e.message ?? String(error))}`;
}

/** An API failure after retries: the check is ended `failure` with this message. */
export class GitHubApiError extends CheckFailedError {}

function apiFailure(what: string, error: unknown): never {
  if (error instanceof ConfigError || error instanceof CheckFailedError) throw error;
  throw new GitHubApiError(`GitHub API error while ${what}: ${describeHttp(error)} (after retries)`, {
    cause: error,
  });
}

export async function fetchPull(
  client: GitHubClient,
  ref: RepoRef,
  number: number,
): Promise<{ headSha: string; author: string; body: string | null; labels: string[] }> {
  try {
    const pull = (
      await client.request('GET /repos/{owner}/{repo}/pulls/{pull_number}', { ...ref, pull_number: number })
    ).data;
    return {
      headSha: pull.head.sha,
      author: pull.user.login,
      body: pull.body,
      labels: pull.labels.map((l) => l.name),
    };
  } catch (error) {
    const status = (error as HttpError).status;
    if (status === 404)
      throw new ConfigError(
        `pull request ${ref.owner}/${ref.repo}#${number} not found (or the token cannot read it)`,
        { field: 'pr' },
      );
    if (status === 401)
      throw new ConfigError(
        'GitHub rejected the token (401 Bad credentials); set GITHUB_TOKEN to a token that can read pull requests',
        { field: 'token' },
      );
    return apiFailure(`reading pull request #${number}`, error);
  }
}

/** The open PR whose head is this commit (from `headRepo` when given), or undefined. */
export async function findPullByHead(
  client: GitHubClient,
  ref: RepoRef,
  headSha: string,
  headRepo: string | undefined,
): Promise<number | undefined> {
  const pulls = await client
    .paginate('GET /repos/{owner}/{repo}/pulls', { ...ref, state: 'open', per_page: 100 })
    .catch((error: unknown) => apiFailure('listing open pull requests', error));
  const found = pulls.find(
    (p) =>
      p.head.sha === headSha &&
      (!headRepo || p.head.repo?.full_name?.toLowerCase() === headRepo.toLowerCase()),
  );
  return found?.number;
}

export interface PremergeArtifact {
  id: number;
  name: string;
  expired: boolean;
  sizeBytes: number;
}

export type PullInfo = Awaited<ReturnType<typeof fetchPull>>;

/** The rest of a PR once it is read (evidence is read separately). */
export async function fetchPullSnapshot(
  client: GitHubClient,
  ref: RepoRef,
  number: number,
  pull: PullInfo,
  policy: PrCheckPolicy,
  options: {
    /** Who is in the sets (resolved meanwhile): lets a review or the newest comments settle the
     *  sign-off without reading every comment. */
    roster?: Promise<RosterMembership>;
  } = {},
): Promise<{ snapshot: PullSnapshot; premerge: PremergeRun | undefined }> {
  const headSha = pull.headSha;
  const [reviewData, runs] = await Promise.all([
    client
      .paginate('GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews', {
        ...ref,
        pull_number: number,
        per_page: 100,
      })
      .catch((error: unknown) => apiFailure(`listing the reviews of #${number}`, error)),
    client
      .request('GET /repos/{owner}/{repo}/actions/runs', {
        ...ref,
        head_sha: headSha,
        event: 'pull_request',
        per_page: 100,
      })
      .catch((error: unknown) => apiFailure(`listing the workflow runs of ${headSha.slice(0, 7)}`, error)),
  ]);
  const reviews: Review[] = reviewData.map((r) => ({
    id: Number(r.id),
    user: r.user?.login ?? 'ghost',
    state: r.state,
    commitId: r.commit_id,
    submittedAt: r.submitted_at ?? null,
  }));

  // The first pull_request run GitHub created for this head dates the push with server time, which
  // a committer cannot forge (commit dates can be anything).
  const allRuns = runs.data.workflow_runs;
  const pushedAt = allRuns.length ? allRuns.map((r) => r.created_at).sort()[0] : undefined;
  // Found by workflow file path and event, never by a display name anyone can choose.
  const wantedPath = premergePath(policy.premergeWorkflow);
  const premergeRun = allRuns
    .filter(
      (r) => r.path.split('@')[0] === wantedPath && r.event === 'pull_request' && r.head_sha === headSha,
    )
    .sort((a, b) => b.run_number - a.run_number || b.run_attempt! - a.run_attempt!)[0];
  const premerge: PremergeRun | undefined = premergeRun && {
    id: Number(premergeRun.id),
    runNumber: premergeRun.run_number,
    status: premergeRun.status,
    conclusion: premergeRun.conclusion,
    createdAt: premergeRun.created_at,
    htmlUrl: premergeRun.html_url,
  };

  const snapshot: PullSnapshot = {
    number,
    author: pull.author,
    headSha,
    body: pull.body,
    labels: pull.labels,
    reviews,
    comments: [],
    pushedAt,
    evidence: undefined,
  };
  if (policy.rules.signoff) {
    const roster = await options.roster;
    if (!roster || evaluateSignoff(snapshot, policy, roster).status !== 'pass') {
      const qualifies = roster
        ? (comment: IssueComment): boolean =>
            evaluateSignoff({ ...snapshot, reviews: [], comments: [comment] }, policy, roster).status ===
            'pass'
        : undefined;
      snapshot.comments = await fetchSignoffComments(client, ref, number, pushedAt, qualifies);
    }
  }
  return { snapshot, premerge };
}

/**
 * Issue comments since the latest push (`since` lets GitHub drop older ones), newest page first:
 * the sign-off is usually among the latest comments, so once a qualifying one is found the older
 * pages are not read. Without `qualifies` every page is read.
 */
async function fetchSignoffComments(
  client: GitHubClient,
  ref: RepoRef,
  number: number,
  since: string | undefined,
  qualifies: ((comment: IssueComment) => boolean) | undefined,
): Promise<IssueComment[]> {
  const page = async (n: number) => {
    try {
      return await client.request('GET /repos/{owner}/{repo}/issues/{issue_number}/comments', {
        ...ref,
        issue_number: number,
        per_page: 100,
        page: n,
        ...(since ? { since } : {}),
      });
    } catch (error) {
      return apiFailure(`listing the comments of #${number}`, error);
    }
  };
  const toComment = (c: {
    id: number | bigint;
    user: { login: string } | null;
    body?: string;
    created_at: string;
  }): IssueComment => ({
    id: Number(c.id),
    user: c.user?.login ?? 'ghost',
    body: c.body ?? '',
    createdAt: c.created_at,
  });
  const first = await page(1);
  const pages = new Map<number, IssueComment[]>([[1, first.data.map(toComment)]]);
  const last = Number(/[?&]page=(\d+)[^>]*>;\s*rel="last"/.exec(first.headers.link ?? '')?.[1] ?? 1);
  // Bounded: GitHub caps a PR's comments (2,500 per issue), i.e. 25 pages of 100.
  for (let n = Math.min(last, 50); n >= 2; n--) {
    if (qualifies && [...pages.values()].some((list) => list.some(qualifies))) break;
    pages.set(n, (await page(n)).data.map(toComment));
  }
  return [...pages.entries()].sort((a, b) => a[0] - b[0]).flatMap(([, list]) => list);
}

/** `premerge.yml` → `.github/workflows/premerge.yml`; a full path is kept. */
export function premergePath(workflow: string): string {
  return workflow.includes('/') ? workflow.replace(/^\.?\//, '') : `.github/workflows/${workflow}`;
}

/** The run's artifacts with this name (normally exactly one). */
export async function listRunArtifacts(
  client: GitHubClient,
  ref: RepoRef,
  runId: number,
  name: string,
): Promise<PremergeArtifact[]> {
  try {
    const { data } = await client.request('GET /repos/{owner}/{repo}/actions/runs/{run_id}/artifacts', {
      ...ref,
      run_id: runId,
      name,
      per_page: 100,
    });
    return data.artifacts.map((a) => ({
      id: Number(a.id),
      name: a.name,
      expired: a.expired,
      sizeBytes: a.size_in_bytes,
    }));
  } catch (error) {
    return apiFailure(`listing the artifacts of run ${runId}`, error);
  }
}

/** Downloads an artifact's zip (GitHub answers 302 to a short-lived storage URL). */
export async function downloadArtifact(
  client: GitHubClient,
  ref: RepoRef,
  artifactId: number,
): Promise<Buffer> {
  try {
    const { data } = await client.request(
      'GET /repos/{owner}/{repo}/actions/artifacts/{artifact_id}/{archive_format}',
      { ...ref, artifact_id: artifactId, archive_format: 'zip' },
    );
    return Buffer.from(data as ArrayBuffer);
  } catch (error) {
    if ((error as HttpError).status === 410)
      throw new CheckFailedError(`artifact ${artifactId} has expired (410 Gone); re-run premerge`);
    return apiFailure(`downloading artifact ${artifactId}`, error);
  }
}

export interface MembershipResult {
  roster: RosterMembership;
  /** Teams whose membership could not be read: pr-check fails closed on these (CLI exit 2). */
  errors: string[];
}

const PERMISSION_HINT =
  'the "team-token" (CLI: GUARDED_ROLLOUT_TEAM_TOKEN; workflow secret PR_CHECK_TEAM_TOKEN) must be a GitHub App token with the organization permission "Members: read" (or a classic PAT with read:org); the workflow GITHUB_TOKEN never has it';

/**
 * Resolves the SRE and operator sets. Users listed by name need no request; every `org/team`
 * entry is listed once (GET /orgs/{org}/teams/{team}/members), so a wrong slug or a missing
 * permission is an error even before anyone approves — never "not a member".
 */
export async function resolveMembership(
  client: GitHubClient | undefined,
  policy: PrCheckPolicy,
): Promise<MembershipResult> {
  const errors: string[] = [];
  const teams = new Map<string, { org: string; team: string }>();
  for (const entry of [...policy.roster.sre, ...policy.roster.operators]) {
    const parsed = parseMember(entry);
    if (parsed.kind === 'team') teams.set(`${parsed.org}/${parsed.team}`.toLowerCase(), parsed);
  }
  const members = new Map<string, Set<string>>();
  await Promise.all(
    [...teams].map(async ([key, { org, team }]) => {
      if (!client) {
        errors.push(`cannot read team ${org}/${team}: no team token; ${PERMISSION_HINT}`);
        return;
      }
      try {
        const list = await client.paginate('GET /orgs/{org}/teams/{team_slug}/members', {
          org,
          team_slug: team,
          per_page: 100,
        });
        members.set(key, new Set(list.map((m) => m.login.toLowerCase())));
      } catch (error) {
        const status = (error as HttpError).status;
        if (status === 404)
          errors.push(
            `team ${org}/${team} not found (404): the slug is wrong, or the token cannot see it — ${PERMISSION_HINT}`,
          );
        else if (status === 403 || status === 401)
          errors.push(`cannot read team ${org}/${team} (${describeHttp(error)}): ${PERMISSION_HINT}`);
        else errors.push(`cannot read team ${org}/${team}: GitHub ${describeHttp(error)} (after retries)`);
      }
    }),
  );
  const resolveSet = (entries: string[]): Set<string> => {
    const set = new Set<string>();
    for (const entry of entries) {
      const parsed = parseMember(entry);
      if (parsed.kind === 'user') set.add(parsed.login);
      else
        for (const login of members.get(`${parsed.org}/${parsed.team}`.toLowerCase()) ?? []) set.add(login);
    }
    return set;
  };
  return {
    roster: { sre: resolveSet(policy.roster.sre), operators: resolveSet(policy.roster.operators) },
    errors: errors.sort(),
  };
}

// ---------------------------------------------------------------------------------------------
// The check run

/** The GitHub Actions app (what a workflow GITHUB_TOKEN writes check runs as) on github.com. */
export const GITHUB_ACTIONS_APP_ID = 15368;

export type CheckConclusion = 'success' | 'failure' | 'action_required' | 'neutral';

export interface CheckRunOutput {
  conclusion: CheckConclusion;
  title: string;
  summary: string;
  detailsUrl?: string;
}

export interface CheckRunIdentity {
  name: string;
  /** Our app: runs of the same name by another app are never touched. */
  appId: number;
  /** Marks runs written by pr-check for this PR. */
  externalId: string;
}

interface ListedRun {
  id: number;
  external_id: string | null;
  app: { id: number } | null;
  status: string;
  conclusion: string | null;
}

/**
 * Completes the one check run of our app on this head with a conclusion (creating it when there
 * is none). Always `status: completed`: an update that only says "in progress" would leave
 * GitHub showing the previous conclusion. Extra runs of ours (from evaluations in separate
 * processes racing to create) are completed `neutral` as superseded, the newest carries the verdict.
 */
export async function completeCheckRun(
  client: GitHubClient,
  ref: RepoRef,
  headSha: string,
  identity: CheckRunIdentity,
  output: CheckRunOutput,
  now: Date,
): Promise<{ id: number; created: boolean; superseded: number[] }> {
  const body = {
    status: 'completed' as const,
    conclusion: output.conclusion,
    completed_at: now.toISOString(),
    external_id: identity.externalId,
    ...(output.detailsUrl ? { details_url: output.detailsUrl } : {}),
    // GitHub caps the summary at 65,535 characters.
    output: { title: output.title, summary: output.summary.slice(0, 65_000) },
  };
  try {
    const listed = await client.request('GET /repos/{owner}/{repo}/commits/{ref}/check-runs', {
      ...ref,
      ref: headSha,
      check_name: identity.name,
      app_id: identity.appId,
      filter: 'all',
      per_page: 100,
    });
    const ours = (listed.data.check_runs as ListedRun[])
      .filter((c) => c.app?.id === identity.appId && c.external_id === identity.externalId)
      .map((c) => c.id)
      .sort((a, b) => b - a);
    const superseded: number[] = [];
    if (ours.length === 0) {
      const created = await client.request('POST /repos/{owner}/{repo}/check-runs', {
        ...ref,
        name: identity.name,
        head_sha: headSha,
        started_at: now.toISOString(),
        ...body,
      });
      return { id: Number(created.data.id), created: true, superseded };
    }
    const [newest, ...older] = ours as [number, ...number[]];
    await client.request('PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}', {
      ...ref,
      check_run_id: newest,
      ...body,
    });
    for (const id of older) {
      const previous = (listed.data.check_runs as ListedRun[]).find((c) => c.id === id);
      if (previous?.status === 'completed' && previous.conclusion === 'neutral') continue;
      await client.request('PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}', {
        ...ref,
        check_run_id: id,
        status: 'completed',
        conclusion: 'neutral',
        completed_at: now.toISOString(),
        output: {
          title: 'superseded',
          summary: `Superseded by check run ${newest}, which carries the verdict.`,
        },
      });
      superseded.push(id);
    }
    return { id: newest, created: false, superseded };
  } catch (error) {
    const status = (error as HttpError).status;
    if (status === 403) {
      throw new CheckFailedError(
        `cannot write the "${identity.name}" check run (${describeHttp(error)}): the job needs "permissions: checks: write", and check runs can only be written with a GitHub App or workflow token (not a personal access token)`,
        { cause: error },
      );
    }
    throw new GitHubApiError(
      `cannot write the "${identity.name}" check run: GitHub ${describeHttp(error)} (after retries)`,
      { cause: error },
    );
  }
}
