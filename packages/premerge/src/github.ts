// The GitHub edge of pr-check: gathers a PullSnapshot with as few requests as possible
// (per_page=100, comments only since the latest push and only when a review does not already
// carry the sign-off), resolves roster membership, and writes one check run per head SHA.
import { Octokit as OctokitCore } from '@octokit/core';
import { paginateRest } from '@octokit/plugin-paginate-rest';
import { CheckFailedError, ConfigError } from '@guarded-rollout/config';
import { parseMember, type PrCheckPolicy } from './policy.js';
import type {
  IssueComment,
  PremergeEvidence,
  PremergeRun,
  PullSnapshot,
  Review,
  RosterMembership,
} from './rules.js';

const Octokit = OctokitCore.plugin(paginateRest);
export type GitHubClient = InstanceType<typeof Octokit>;

export function createGitHubClient(token: string, apiUrl?: string): GitHubClient {
  return new Octokit({
    auth: token,
    baseUrl: (apiUrl || 'https://api.github.com').replace(/\/+$/, ''),
    userAgent: 'guarded-rollout-pr-check',
    // Failing fast is right for a status check: the next event re-evaluates.
    request: { retries: 0 },
  });
}

export interface RepoRef {
  owner: string;
  repo: string;
}

interface HttpError {
  status?: number;
  message?: string;
}

function describeHttp(error: unknown): string {
  const e = error as HttpError;
  return `${e.status ?? 'no status'} ${JSON.stringify(e.message ?? String(error))}`;
}

/** The pieces of a PR gathered before membership is resolved. */
export async function fetchPullSnapshot(
  client: GitHubClient,
  ref: RepoRef,
  number: number,
  policy: PrCheckPolicy,
  options: { signoffSatisfiedByReview?: (snapshot: PullSnapshot) => boolean } = {},
): Promise<PullSnapshot> {
  let pull;
  try {
    pull = (
      await client.request('GET /repos/{owner}/{repo}/pulls/{pull_number}', { ...ref, pull_number: number })
    ).data;
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
    throw new CheckFailedError(
      `cannot read pull request #${number}: GitHub answered ${describeHttp(error)}`,
      { cause: error },
    );
  }
  const headSha = pull.head.sha;
  const [reviewData, runs] = await Promise.all([
    client.paginate('GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews', {
      ...ref,
      pull_number: number,
      per_page: 100,
    }),
    client.request('GET /repos/{owner}/{repo}/actions/runs', { ...ref, head_sha: headSha, per_page: 100 }),
  ]);
  const reviews: Review[] = reviewData.map((r) => ({
    id: Number(r.id),
    user: r.user?.login ?? 'ghost',
    state: r.state,
    commitId: r.commit_id,
    submittedAt: r.submitted_at ?? null,
  }));

  // The first workflow run GitHub created for this head SHA dates the push with server time,
  // which a committer cannot forge (commit dates can be anything).
  const allRuns = runs.data.workflow_runs;
  const pushedAt = allRuns.length ? allRuns.map((r) => r.created_at).sort()[0] : undefined;
  const premerge = allRuns
    .filter(
      (r) =>
        r.path.split('@')[0]!.endsWith(`/${policy.premergeWorkflow}`) ||
        r.path === policy.premergeWorkflow ||
        r.name === policy.premergeWorkflow,
    )
    .sort((a, b) => b.run_number - a.run_number || Date.parse(b.created_at) - Date.parse(a.created_at))[0];
  let evidence: PremergeEvidence = { run: undefined, artifacts: [] };
  if (premerge) {
    const run: PremergeRun = {
      id: Number(premerge.id),
      runNumber: premerge.run_number,
      status: premerge.status,
      conclusion: premerge.conclusion,
      createdAt: premerge.created_at,
      htmlUrl: premerge.html_url,
    };
    // The route's paginated type is not in @octokit/plugin-paginate-rest's map; its items are artifacts.
    const artifacts = (
      run.status === 'completed'
        ? await client.paginate(
            'GET /repos/{owner}/{repo}/actions/runs/{run_id}/artifacts' as 'GET /repos/{owner}/{repo}/actions/artifacts',
            { ...ref, run_id: run.id, per_page: 100 } as never,
          )
        : []
    ) as { name: string; expired: boolean }[];
    evidence = { run, artifacts: artifacts.map((a) => ({ name: a.name, expired: a.expired })) };
  }

  const snapshot: PullSnapshot = {
    number,
    author: pull.user.login,
    headSha,
    body: pull.body,
    labels: pull.labels.map((l) => l.name),
    reviews,
    comments: [],
    pushedAt,
    evidence,
  };
  if (policy.rules.signoff && !options.signoffSatisfiedByReview?.(snapshot)) {
    // Only comments newer than the push can sign off; `since` lets GitHub drop the rest.
    const comments = await client.paginate('GET /repos/{owner}/{repo}/issues/{issue_number}/comments', {
      ...ref,
      issue_number: number,
      per_page: 100,
      ...(pushedAt ? { since: pushedAt } : {}),
    });
    snapshot.comments = comments.map((c): IssueComment => ({
      id: Number(c.id),
      user: c.user?.login ?? 'ghost',
      body: c.body ?? '',
      createdAt: c.created_at,
    }));
  }
  return snapshot;
}

export interface MembershipResult {
  roster: RosterMembership;
  /** Teams whose membership could not be read: pr-check fails closed on these. */
  errors: string[];
}

/**
 * Resolves which candidates belong to the SRE and operator sets. Users listed by name need no
 * request; `org/team` entries need GET /orgs/{org}/teams/{team}/memberships/{user}, which the
 * workflow GITHUB_TOKEN cannot call (it has no organization permissions).
 */
export async function resolveMembership(
  client: GitHubClient | undefined,
  policy: PrCheckPolicy,
  candidates: { sre: string[]; operators: string[] },
): Promise<MembershipResult> {
  const errors = new Set<string>();
  const cache = new Map<string, Promise<boolean>>();
  const inTeam = (org: string, team: string, user: string): Promise<boolean> => {
    const key = `${org}/${team}/${user}`.toLowerCase();
    let hit = cache.get(key);
    if (!hit) {
      hit = (async () => {
        if (!client) {
          errors.add(
            `cannot read membership of team ${org}/${team}: no token for team lookups; pass a GitHub App token with the organization permission "Members: read" (or a classic PAT with read:org) as the "team-token" input / GUARDED_ROLLOUT_TEAM_TOKEN, or list users instead of teams in .github/guarded-rollout.yml`,
          );
          return false;
        }
        try {
          const { data } = await client.request('GET /orgs/{org}/teams/{team_slug}/memberships/{username}', {
            org,
            team_slug: team,
            username: user,
          });
          return data.state === 'active';
        } catch (error) {
          const status = (error as HttpError).status;
          if (status === 404) return false; // GitHub's answer for "not a member"
          if (status === 403 || status === 401) {
            errors.add(
              `cannot read membership of team ${org}/${team} (GitHub answered ${describeHttp(error)}): the token lacks the organization permission "Members: read" (GitHub App) / the read:org scope (classic PAT). The workflow GITHUB_TOKEN never has it; pass such a token as the "team-token" input (CLI: GUARDED_ROLLOUT_TEAM_TOKEN) or list users instead of teams in .github/guarded-rollout.yml`,
            );
            return false;
          }
          errors.add(`cannot read membership of team ${org}/${team}: GitHub answered ${describeHttp(error)}`);
          return false;
        }
      })();
      cache.set(key, hit);
    }
    return hit;
  };
  const resolveSet = async (entries: string[], users: string[]): Promise<Set<string>> => {
    const members = new Set<string>();
    const parsed = entries.map(parseMember);
    const direct = new Set(parsed.flatMap((p) => (p.kind === 'user' ? [p.login] : [])));
    const teams = parsed.flatMap((p) => (p.kind === 'team' ? [p] : []));
    for (const user of users) {
      if (direct.has(user)) {
        members.add(user);
        continue;
      }
      for (const team of teams) {
        if (await inTeam(team.org, team.team, user)) {
          members.add(user);
          break;
        }
      }
    }
    return members;
  };
  const [sre, operators] = await Promise.all([
    resolveSet(policy.roster.sre, candidates.sre),
    resolveSet(policy.roster.operators, candidates.operators),
  ]);
  return { roster: { sre, operators }, errors: [...errors] };
}

export interface CheckRunOutput {
  status: 'in_progress' | 'completed';
  conclusion?: 'success' | 'failure';
  title: string;
  summary: string;
  detailsUrl?: string;
}

/** Creates or updates the one check run with this name on this head SHA; returns its id. */
export async function upsertCheckRun(
  client: GitHubClient,
  ref: RepoRef,
  headSha: string,
  name: string,
  output: CheckRunOutput,
  now: Date,
): Promise<{ id: number; created: boolean }> {
  const body = {
    status: output.status,
    ...(output.conclusion ? { conclusion: output.conclusion, completed_at: now.toISOString() } : {}),
    ...(output.detailsUrl ? { details_url: output.detailsUrl } : {}),
    // GitHub caps the summary at 65535 characters.
    output: { title: output.title, summary: output.summary.slice(0, 65_000) },
  };
  try {
    const existing = await client.request('GET /repos/{owner}/{repo}/commits/{ref}/check-runs', {
      ...ref,
      ref: headSha,
      check_name: name,
      filter: 'all',
      per_page: 100,
    });
    const current = existing.data.check_runs.map((c) => Number(c.id)).sort((a, b) => a - b)[0];
    if (current !== undefined) {
      await client.request('PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}', {
        ...ref,
        check_run_id: current,
        ...body,
      });
      return { id: current, created: false };
    }
    const created = await client.request('POST /repos/{owner}/{repo}/check-runs', {
      ...ref,
      name,
      head_sha: headSha,
      started_at: now.toISOString(),
      ...body,
    });
    return { id: Number(created.data.id), created: true };
  } catch (error) {
    const status = (error as HttpError).status;
    if (status === 403) {
      throw new CheckFailedError(
        `cannot write the "${name}" check run (GitHub answered ${describeHttp(error)}): the job needs "permissions: checks: write", and check runs can only be written with a GitHub App or workflow token (not a personal access token)`,
        { cause: error },
      );
    }
    throw new CheckFailedError(
      `cannot write the "${name}" check run: GitHub answered ${describeHttp(error)}`,
      { cause: error },
    );
  }
}
