// pr-check end to end, shared by the action and the CLI: gather the PR from GitHub, resolve who is
// Ops/SRE and operator, evaluate every rule, and (optionally) write the one check run per head SHA.
import { ConfigError, UsageError } from '@guarded-rollout/config';
import { createGitHubClient, fetchPullSnapshot, resolveMembership, upsertCheckRun } from './github.js';
import type { PrCheckPolicy } from './policy.js';
import { CHECK_RUN_NAME, checkRunState, renderEvaluation, resultTitle } from './report.js';
import { evaluatePull, evaluateSignoff, membershipCandidates, type PrEvaluation } from './rules.js';

export interface PrCheckOptions {
  /** "owner/repo". */
  repo: string;
  pull: number;
  token: string;
  /** Token able to read org team membership (GitHub App with Members: read, or PAT with read:org). */
  teamToken?: string;
  apiUrl?: string;
  policy: PrCheckPolicy;
  /** Write the check run (needs checks: write); the CLI leaves it off unless asked. */
  postCheckRun: boolean;
  checkName?: string;
  detailsUrl?: string;
  now?: () => Date;
}

export interface PrCheckOutcome {
  evaluation: PrEvaluation;
  headSha: string;
  markdown: string;
  checkRun: { id: number; created: boolean } | undefined;
}

export function parseRepo(value: string): { owner: string; repo: string } {
  const match = /^([A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)\/([A-Za-z0-9._-]+)$/.exec(value.trim());
  if (!match)
    throw new UsageError(`--repo ${JSON.stringify(value)} is not of the form OWNER/REPO (e.g. acme/dhash)`);
  return { owner: match[1]!, repo: match[2]! };
}

export function parsePullNumber(value: string, label = '--pr'): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(
      `${label} ${JSON.stringify(value)} is not a pull request number (a whole number ≥ 1, e.g. 42)`,
    );
  }
  return n;
}

export async function runPrCheck(options: PrCheckOptions): Promise<PrCheckOutcome> {
  const ref = parseRepo(options.repo);
  if (!options.token)
    throw new ConfigError('no GitHub token: set GITHUB_TOKEN (CLI) or the "token" input (action)', {
      field: 'token',
    });
  const now = options.now ?? (() => new Date());
  const client = createGitHubClient(options.token, options.apiUrl);
  const teamClient = options.teamToken ? createGitHubClient(options.teamToken, options.apiUrl) : undefined;
  const { policy } = options;
  const hasTeams = (entries: string[]): boolean => entries.some((e) => e.includes('/'));

  // A review by an operator listed by name settles the sign-off without reading any comments.
  const signoffSatisfiedByReview = (snapshot: Parameters<typeof evaluateSignoff>[0]): boolean => {
    const named = new Set(
      policy.roster.operators.filter((e) => !e.includes('/')).map((e) => e.replace(/^@/, '').toLowerCase()),
    );
    return evaluateSignoff(snapshot, policy, { sre: new Set(), operators: named }).status === 'pass';
  };
  const snapshot = await fetchPullSnapshot(client, ref, options.pull, policy, { signoffSatisfiedByReview });
  const membership = await resolveMembership(
    hasTeams([...policy.roster.sre, ...policy.roster.operators]) ? teamClient : undefined,
    policy,
    membershipCandidates(snapshot, policy),
  );
  const evaluation = evaluatePull(snapshot, policy, membership.roster);
  if (membership.errors.length) {
    // Fail closed: an unreadable team must never look like "nobody approved" or "somebody did".
    evaluation.rules.unshift({
      id: 'roster',
      title: 'Team membership',
      status: 'fail',
      reason: membership.errors.join('; '),
      missing: membership.errors.map((e) => `roster: ${e}`),
    });
    evaluation.missing.unshift(...membership.errors.map((e) => `roster: ${e}`));
    evaluation.result = 'failure';
  }
  const markdown = renderEvaluation(evaluation, { pull: options.pull, headSha: snapshot.headSha });
  let checkRun: PrCheckOutcome['checkRun'];
  if (options.postCheckRun) {
    const state = checkRunState(evaluation.result);
    checkRun = await upsertCheckRun(
      client,
      ref,
      snapshot.headSha,
      options.checkName ?? CHECK_RUN_NAME,
      {
        ...state,
        title: resultTitle(evaluation.result),
        summary: markdown,
        ...(options.detailsUrl ? { detailsUrl: options.detailsUrl } : {}),
      },
      now(),
    );
  }
  return { evaluation, headSha: snapshot.headSha, markdown, checkRun };
}
