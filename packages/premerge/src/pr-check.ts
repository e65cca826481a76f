// pr-check end to end, shared by the action and the CLI: gather the PR from GitHub, read the
// premerge evidence by content, resolve the Ops/SRE and operator sets, evaluate every rule, and
// complete our app's one check run on the head. Every evaluation ends in a conclusion: an API
// error after retries ends the check as `failure` naming the request, never leaving an earlier
// success in place.
import { CheckFailedError, ConfigError, UsageError } from '@guarded-rollout/config';
import { readEvidenceBundle, DEFAULT_BUNDLE_CAPS, type BundleCaps } from './evidence-bundle.js';
import {
  GITHUB_ACTIONS_APP_ID,
  completeCheckRun,
  createGitHubClient,
  downloadArtifact,
  fetchPull,
  fetchPullSnapshot,
  listRunArtifacts,
  resolveMembership,
  type ClientTuning,
  type GitHubClient,
  type RepoRef,
} from './github.js';
import type { PrCheckPolicy } from './policy.js';
import { CHECK_RUN_NAME, checkConclusion, renderEvaluation, resultTitle } from './report.js';
import { evaluatePull, type PremergeEvidence, type PremergeRun, type PrEvaluation } from './rules.js';

export const EVIDENCE_BUNDLE = 'premerge_artifacts';

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
  /** The app whose check runs are ours (default: GitHub Actions, what GITHUB_TOKEN writes as). */
  appId?: number;
  detailsUrl?: string;
  /** Head SHA from the event, used only to report a failure when the PR itself cannot be read. */
  headShaHint?: string;
  now?: () => Date;
  tuning?: ClientTuning;
  bundleCaps?: BundleCaps;
}

export interface PrCheckOutcome {
  evaluation: PrEvaluation;
  headSha: string;
  markdown: string;
  checkRun: { id: number; created: boolean; superseded: number[] } | undefined;
  /** Configuration errors (unknown team, unreadable roster): the CLI exits 2 on these. */
  configErrors: string[];
  /** A newer evaluation of the same PR started in this process; this one wrote nothing. */
  superseded?: boolean;
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

// In-process serialisation: evaluations of one PR run one at a time, and one still waiting when a
// newer one arrives is dropped (the newer reads fresher data). Separate processes are serialised
// by the workflow's `concurrency:` group; completeCheckRun settles any duplicate they create.
const queues = new Map<string, { tail: Promise<unknown>; latest: number }>();

async function serialised<T>(key: string, work: () => Promise<T>): Promise<T | undefined> {
  const queue = queues.get(key) ?? { tail: Promise.resolve(), latest: 0 };
  queues.set(key, queue);
  const ticket = ++queue.latest;
  const previous = queue.tail;
  let release!: () => void;
  queue.tail = new Promise<void>((resolve) => (release = resolve));
  try {
    await previous.catch(() => undefined);
    if (ticket !== queue.latest) return undefined;
    return await work();
  } finally {
    release();
    if (queue.latest === ticket) queues.delete(key);
  }
}

async function readEvidence(
  client: GitHubClient,
  ref: RepoRef,
  run: PremergeRun | undefined,
  caps: BundleCaps,
): Promise<PremergeEvidence> {
  if (!run || run.status !== 'completed') return { run, bundle: undefined };
  const artifacts = await listRunArtifacts(client, ref, run.id, EVIDENCE_BUNDLE);
  const live = artifacts.filter((a) => a.name === EVIDENCE_BUNDLE);
  if (live.length === 0)
    return { run, bundle: undefined, problem: `no ${EVIDENCE_BUNDLE} artifact uploaded` };
  if (live.length > 1)
    return {
      run,
      bundle: undefined,
      problem: `${live.length} artifacts named ${EVIDENCE_BUNDLE}; expected one`,
    };
  const artifact = live[0]!;
  if (artifact.expired)
    return { run, bundle: undefined, problem: `artifact ${EVIDENCE_BUNDLE} has expired; re-run premerge` };
  if (artifact.sizeBytes > caps.maxBundleBytes)
    return {
      run,
      bundle: undefined,
      problem: `artifact ${EVIDENCE_BUNDLE} is ${artifact.sizeBytes} bytes, more than the cap of ${caps.maxBundleBytes}`,
    };
  const zip = await downloadArtifact(client, ref, artifact.id);
  try {
    return { run, bundle: await readEvidenceBundle(zip, caps) };
  } catch (error) {
    return { run, bundle: undefined, problem: (error as Error).message };
  }
}

export async function runPrCheck(options: PrCheckOptions): Promise<PrCheckOutcome> {
  const ref = parseRepo(options.repo);
  if (!options.token)
    throw new ConfigError('no GitHub token: set GITHUB_TOKEN (CLI) or the "token" input (action)', {
      field: 'token',
    });
  const outcome = await serialised(`${ref.owner}/${ref.repo}#${options.pull}`.toLowerCase(), () =>
    evaluateAndReport(options, ref),
  );
  if (outcome) return outcome;
  const evaluation: PrEvaluation = { result: 'pending', rules: [], missing: [] };
  return {
    evaluation,
    headSha: options.headShaHint ?? '',
    markdown: 'superseded by a newer evaluation of this pull request\n',
    checkRun: undefined,
    configErrors: [],
    superseded: true,
  };
}

/** Ends the PR's check run as failed with `reason`, without evaluating (e.g. the roster is unreadable). */
export async function reportCheckFailure(options: {
  repo: string;
  pull: number;
  token: string;
  apiUrl?: string;
  checkName?: string;
  appId?: number;
  headShaHint?: string;
  reason: string;
  tuning?: ClientTuning;
}): Promise<void> {
  const ref = parseRepo(options.repo);
  const client = createGitHubClient(options.token, options.apiUrl, options.tuning);
  let headSha = options.headShaHint;
  try {
    headSha = (await fetchPull(client, ref, options.pull)).headSha;
  } catch (error) {
    if (!headSha) throw error;
  }
  await completeCheckRun(
    client,
    ref,
    headSha,
    {
      name: options.checkName ?? CHECK_RUN_NAME,
      appId: options.appId ?? GITHUB_ACTIONS_APP_ID,
      externalId: externalIdOf(ref, options.pull),
    },
    {
      conclusion: 'failure',
      title: '❌ pr-check configuration error',
      summary: `pr-check could not evaluate PR #${options.pull}: ${options.reason}\n`,
    },
    new Date(),
  );
}

const externalIdOf = (ref: RepoRef, pull: number): string =>
  `guarded-rollout-pr-check:${ref.owner}/${ref.repo}#${pull}`.toLowerCase();

async function evaluateAndReport(options: PrCheckOptions, ref: RepoRef): Promise<PrCheckOutcome> {
  const now = options.now ?? (() => new Date());
  const client = createGitHubClient(options.token, options.apiUrl, options.tuning);
  const teamClient = options.teamToken
    ? createGitHubClient(options.teamToken, options.apiUrl, options.tuning)
    : undefined;
  const { policy } = options;
  const identity = {
    name: options.checkName ?? CHECK_RUN_NAME,
    appId: options.appId ?? GITHUB_ACTIONS_APP_ID,
    externalId: externalIdOf(ref, options.pull),
  };
  const write = async (
    headSha: string,
    conclusion: 'success' | 'failure' | 'action_required',
    title: string,
    summary: string,
  ): Promise<PrCheckOutcome['checkRun']> =>
    options.postCheckRun
      ? completeCheckRun(
          client,
          ref,
          headSha,
          identity,
          { conclusion, title, summary, ...(options.detailsUrl ? { detailsUrl: options.detailsUrl } : {}) },
          now(),
        )
      : undefined;

  let headSha = options.headShaHint;
  try {
    const pull = await fetchPull(client, ref, options.pull);
    headSha = pull.headSha;
    // Teams are listed while the PR's reviews and runs are read; an operator's review, or a
    // /signoff on the newest page of comments, spares reading the rest.
    const membershipPromise = resolveMembership(teamClient, policy);
    const [{ snapshot, premerge }, membership] = await Promise.all([
      fetchPullSnapshot(client, ref, options.pull, pull, policy, {
        roster: membershipPromise.then((m) => m.roster),
      }),
      membershipPromise,
    ]);
    headSha = snapshot.headSha;
    snapshot.evidence = policy.rules.evidence
      ? await readEvidence(client, ref, premerge, options.bundleCaps ?? DEFAULT_BUNDLE_CAPS)
      : undefined;
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
    const markdown = renderEvaluation(evaluation, { pull: options.pull, headSha });
    const checkRun = await write(
      headSha,
      checkConclusion(evaluation.result),
      resultTitle(evaluation.result),
      markdown,
    );
    return { evaluation, headSha, markdown, checkRun, configErrors: membership.errors };
  } catch (error) {
    // Whatever went wrong, the head's check must not keep an earlier conclusion.
    if (headSha && options.postCheckRun) {
      const reason = (error as Error).message;
      try {
        await write(
          headSha,
          'failure',
          '❌ pr-check could not evaluate this pull request',
          `pr-check could not evaluate PR #${options.pull} at \`${headSha.slice(0, 7)}\`:\n\n${reason}\n\nThe next event (edit, review, comment, push) evaluates again.\n`,
        );
      } catch (writeError) {
        throw new CheckFailedError(
          `${reason}; and the check run could not be marked failed: ${(writeError as Error).message}`,
          {
            cause: error,
          },
        );
      }
    }
    throw error;
  }
}
