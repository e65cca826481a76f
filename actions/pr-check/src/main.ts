// Doorway of the pr-check action: work out which PR the event is about, assemble the policy,
// call the premerge package (the same call the CLI makes), set outputs and the job summary.
// The job fails only on `failure`; while waiting for people the check run says in_progress.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as core from '@actions/core';
import {
  inputBoolean,
  inputList,
  inputOptional,
  inputString,
  maskSecret,
  runAction,
} from '@guarded-rollout/action-io';
import { CheckFailedError, ConfigError } from '@guarded-rollout/config';
import {
  CHECK_RUN_NAME,
  GITHUB_ACTIONS_APP_ID,
  createGitHubClient,
  findPullByHead,
  evaluateBody,
  parsePullNumber,
  parseRepo,
  renderEvaluation,
  resolvePolicy,
  defaultPolicy,
  reportCheckFailure,
  runPrCheck,
  type PrCheckPolicy,
  type PrEvaluation,
} from '@guarded-rollout/premerge';

export interface PrCheckInputs {
  token: string;
  teamToken: string | undefined;
  repo: string;
  pull: EventPull | undefined;
  policy: PrCheckPolicy;
  /** Set when the roster/policy file cannot be read: the check is ended failed with it. */
  policyError: Error | undefined;
  appId: number;
  postCheckRun: boolean;
  checkName: string;
  body: string | undefined;
}

interface EventPayload {
  pull_request?: { number?: number; head?: { sha?: string } };
  issue?: { number?: number; pull_request?: unknown };
  workflow_run?: {
    head_sha?: string;
    pull_requests?: { number?: number }[];
    head_repository?: { full_name?: string };
  };
}

/** What an event says about its PR: the number, or (workflow_run from a fork) only the head. */
export interface EventPull {
  pull?: number;
  headSha?: string;
  /** The PR must be found by its head: GitHub lists no pull request on runs from forks. */
  lookup?: { headSha: string; headRepo: string | undefined };
}

/** The PR an event is about; undefined for an issue comment on a plain issue. */
export function pullFromEvent(eventName: string | undefined, payload: EventPayload): EventPull | undefined {
  if (payload.pull_request?.number)
    return {
      pull: payload.pull_request.number,
      ...(payload.pull_request.head?.sha ? { headSha: payload.pull_request.head.sha } : {}),
    };
  if (payload.issue?.number) return payload.issue.pull_request ? { pull: payload.issue.number } : undefined;
  if (eventName === 'workflow_run') {
    const run = payload.workflow_run;
    const number = run?.pull_requests?.[0]?.number;
    if (number) return { pull: number, ...(run?.head_sha ? { headSha: run.head_sha } : {}) };
    if (!run?.head_sha)
      throw new ConfigError('this workflow_run event carries no head_sha; pass the "pr" input', {
        field: 'pr',
      });
    return {
      headSha: run.head_sha,
      lookup: { headSha: run.head_sha, headRepo: run.head_repository?.full_name },
    };
  }
  return undefined;
}

function readEvent(): EventPayload {
  const path = process.env.GITHUB_EVENT_PATH;
  if (!path) return {};
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as EventPayload;
  } catch {
    return {};
  }
}

export function getInputs(): PrCheckInputs {
  const workspace = process.env.GITHUB_WORKSPACE ?? process.cwd();
  const token = inputString('token');
  const teamToken = inputOptional('team-token');
  maskSecret(token);
  maskSecret(teamToken);
  const body = inputOptional('body');
  const prInput = inputOptional('pr');
  const repo = inputOptional('repo') ?? process.env.GITHUB_REPOSITORY ?? '';
  const sre = inputList('sre');
  const operators = inputList('operators');
  const config = inputString('config', { fallback: '.github/guarded-rollout.yml' });
  // An unreadable roster still ends the PR's check (see run()); it must not leave an old green.
  let policy: PrCheckPolicy | undefined;
  let policyError: Error | undefined;
  try {
    policy = resolvePolicy({
      // The default file is optional; a file the workflow names explicitly must exist.
      ...(config === '.github/guarded-rollout.yml'
        ? { defaultFile: resolve(workspace, config) }
        : { file: resolve(workspace, config) }),
      ...(sre.length ? { sre } : {}),
      ...(operators.length ? { operators } : {}),
    });
  } catch (error) {
    if (body !== undefined) throw error;
    policyError = error as Error;
  }
  let pull: EventPull | undefined;
  if (body === undefined) {
    pull =
      prInput !== undefined
        ? { pull: parsePullNumber(prInput, 'input "pr":') }
        : pullFromEvent(process.env.GITHUB_EVENT_NAME, readEvent());
    if (!repo)
      throw new ConfigError('input "repo" is empty and GITHUB_REPOSITORY is not set', { field: 'repo' });
    parseRepo(repo);
    if (!token)
      throw new ConfigError(
        'input "token" is empty; pass ${{ github.token }} or a token with pull-requests: read and checks: write',
        { field: 'token' },
      );
  }
  return {
    token,
    teamToken,
    repo,
    pull,
    policy: policy ?? defaultPolicy(),
    policyError,
    postCheckRun: inputBoolean('post-check-run', true),
    appId: parseAppId(inputString('app-id', { fallback: String(GITHUB_ACTIONS_APP_ID) })),
    checkName: inputString('check-name', { fallback: CHECK_RUN_NAME }),
    body,
  };
}

function parseAppId(value: string): number {
  if (!/^\d{1,12}$/.test(value.trim()))
    throw new ConfigError(
      `input "app-id": ${JSON.stringify(value)} is not a GitHub App id (a whole number; ${GITHUB_ACTIONS_APP_ID} is GitHub Actions)`,
      { field: 'app-id' },
    );
  return Number(value);
}

async function publish(evaluation: PrEvaluation, markdown: string, checkRunId: string): Promise<void> {
  core.setOutput('result', evaluation.result);
  core.setOutput('missing', JSON.stringify(evaluation.missing));
  core.setOutput('check-run-id', checkRunId);
  await core.summary.addHeading('guarded-rollout / pr-check', 3).addRaw(markdown, true).write();
  if (evaluation.result === 'failure')
    throw new CheckFailedError(`pr-check failed: ${evaluation.missing.join('; ')}`);
  if (evaluation.result === 'pending') core.notice(`pr-check is waiting: ${evaluation.missing.join('; ')}`);
}

export async function run(): Promise<void> {
  await runAction(async () => {
    const inputs = getInputs();
    if (inputs.body !== undefined) {
      const evaluation = evaluateBody(inputs.body, inputs.policy, { deploy: false });
      await publish(
        evaluation,
        renderEvaluation(evaluation, { pull: 0, headSha: 'body' }).replace(
          /^\*\*PR #0\*\* at `body`/,
          '**PR description**',
        ),
        '',
      );
      return;
    }
    let pull = inputs.pull?.pull;
    if (inputs.pull?.lookup) {
      // A fork's premerge/relay run: find the open PR whose head is that commit.
      pull = await findPullByHead(
        createGitHubClient(inputs.token, process.env.GITHUB_API_URL),
        parseRepo(inputs.repo),
        inputs.pull.lookup.headSha,
        inputs.pull.lookup.headRepo,
      );
      if (pull === undefined) core.info(`no open pull request has head ${inputs.pull.lookup.headSha}`);
    }
    if (pull === undefined) {
      core.info(
        `event ${process.env.GITHUB_EVENT_NAME ?? '(none)'} is not about an open pull request; nothing to check`,
      );
      core.setOutput('result', 'skipped');
      core.setOutput('missing', '[]');
      core.setOutput('check-run-id', '');
      return;
    }
    const server = process.env.GITHUB_SERVER_URL;
    if (inputs.policyError) {
      await reportCheckFailure({
        repo: inputs.repo,
        pull,
        token: inputs.token,
        ...(process.env.GITHUB_API_URL ? { apiUrl: process.env.GITHUB_API_URL } : {}),
        checkName: inputs.checkName,
        appId: inputs.appId,
        ...(inputs.pull?.headSha ? { headShaHint: inputs.pull.headSha } : {}),
        reason: `the roster / policy cannot be read: ${inputs.policyError.message}`,
      });
      throw inputs.policyError;
    }
    const runId = process.env.GITHUB_RUN_ID;
    const outcome = await runPrCheck({
      repo: inputs.repo,
      pull,
      token: inputs.token,
      ...(inputs.teamToken ? { teamToken: inputs.teamToken } : {}),
      ...(process.env.GITHUB_API_URL ? { apiUrl: process.env.GITHUB_API_URL } : {}),
      policy: inputs.policy,
      postCheckRun: inputs.postCheckRun,
      checkName: inputs.checkName,
      appId: inputs.appId,
      ...(inputs.pull?.headSha ? { headShaHint: inputs.pull.headSha } : {}),
      ...(server && runId ? { detailsUrl: `${server}/${inputs.repo}/actions/runs/${runId}` } : {}),
    });
    if (outcome.superseded) {
      core.info('a newer evaluation of this pull request is running; it reports the verdict');
      core.setOutput('result', 'skipped');
      core.setOutput('missing', '[]');
      core.setOutput('check-run-id', '');
      return;
    }
    if (outcome.configErrors.length) core.error(`pr-check configuration: ${outcome.configErrors.join('; ')}`);
    await publish(outcome.evaluation, outcome.markdown, outcome.checkRun ? String(outcome.checkRun.id) : '');
  });
}
