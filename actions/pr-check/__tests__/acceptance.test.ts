// Issue 12's acceptance: this repository's own pr-check.yml (its inputs, its sparse checkout's
// roster) and premerge.yml (its evidence stamping and bundle name), a PR filled from the seed
// template, against the fake GitHub API held to GitHub's OpenAPI description. The bundle is
// started as the runner starts it; fault and concurrency cases call the same runPrCheck in-process
// with short retry back-offs.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { loadPolicyFile, runPrCheck, type PrCheckOutcome } from '@guarded-rollout/premerge';
import { seedBody, untick } from '../../../packages/premerge/__tests__/bodies.js';
import { premergeBundle, type BundleOptions } from '../../../packages/premerge/__tests__/premerge-bundle.js';
import { startWorld, TOKEN, type World } from '../../../packages/premerge/__tests__/pr-check-world.js';
import { cleanupBundleRuns, runBundle, type BundleRun } from './run-bundle.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const read = (path: string): string => readFileSync(`${root}${path}`, 'utf8');
const NAME = 'guarded-rollout / pr-check';
const HEAD = '1'.repeat(40);
const OLD = '2'.repeat(40);
const PUSHED = '2026-11-23T10:00:00Z';
const at = (minutes: number): string =>
  new Date(Date.parse(PUSHED) + minutes * 60_000).toISOString().replace(/\.000Z$/, 'Z');

interface Step {
  uses?: string;
  with?: Record<string, string>;
  env?: Record<string, string>;
  run?: string;
}
type Workflow = { jobs: Record<string, { steps: Step[] }> };
const prCheckYml = parse(read('.github/workflows/pr-check.yml')) as Workflow;
const premergeYml = parse(read('.github/workflows/premerge.yml')) as Workflow;
const steps = prCheckYml.jobs['pr-check']!.steps;
const checkout = steps.find((s) => s.uses?.startsWith('actions/checkout@'))!;
const actionStep = steps.find((s) => s.uses === './actions/pr-check')!;

/** The action's inputs as the runner would pass them from pr-check.yml's `with:`. */
function workflowInputs(): Record<string, string> {
  const values: Record<string, string> = {
    'github.token': TOKEN,
    'secrets.PR_CHECK_TEAM_TOKEN': TOKEN,
  };
  return Object.fromEntries(
    Object.entries(actionStep.with ?? {}).map(([key, value]) => [
      key,
      String(value).replace(/\$\{\{\s*([^}]+?)\s*\}\}/g, (_m, expr: string) => {
        if (!(expr in values)) throw new Error(`pr-check.yml passes ${expr}, which this test cannot resolve`);
        return values[expr]!;
      }),
    ]),
  );
}

/** The workspace after the sparse checkout: only the listed files of the default branch. */
function sparseWorkspace(): Record<string, string> {
  const files: Record<string, string> = {};
  for (const path of String(checkout.with!['sparse-checkout']).trim().split('\n')) {
    if (path.endsWith('.yml')) files[path] = read(path);
  }
  return files;
}

let world: World;
let good: Buffer;
const roster = loadPolicyFile(`${root}.github/guarded-rollout.yml`).roster;
const teamOf = (entry: string) => entry.replace(/^@/, '').split('/') as [string, string];

beforeAll(async () => {
  world = await startWorld();
  good = await bundle({});
});
afterAll(async () => {
  await world.stop();
  cleanupBundleRuns();
});
beforeEach(() => {
  world.reset();
  const [sreOrg, sreTeam] = teamOf(roster.sre[0]!);
  const [opsOrg, opsTeam] = teamOf(roster.operators[0]!);
  world.gh.setTeam(sreOrg, sreTeam, ['sre-sam']);
  world.gh.setTeam(opsOrg, opsTeam, ['ops-olga']);
  world.gh.addPull({ number: 12, body: seedBody(), author: 'author', headSha: HEAD, labels: ['deploy'] });
  world.gh.addWorkflowRun({ headSha: HEAD, createdAt: PUSHED, path: '.github/workflows/ci.yml', name: 'ci' });
  world.seedPremerge(HEAD, good, { createdAt: at(1) });
});
afterEach(() => {
  expect(world.fake.violations).toEqual([]);
  expect(world.blobs.leakedAuthorization).toBe(0);
});

/** The bundle premerge.yml uploads, stamped the way its evidence step stamps it. */
function bundle(extra: Partial<BundleOptions>): Promise<Buffer> {
  return premergeBundle({ commit: HEAD, viaEnv: true, ...extra });
}

function approveAll(commitId = HEAD): void {
  world.gh.addReview(12, { user: 'sre-sam', state: 'APPROVED', commitId, submittedAt: at(20) });
  world.gh.addReview(12, { user: 'dev-dan', state: 'APPROVED', commitId, submittedAt: at(21) });
  world.gh.addComment(12, { user: 'ops-olga', body: '/signoff\nartifacts reviewed', createdAt: at(30) });
}

function evaluate(event: { name: string; payload: unknown } = prEvent()): Promise<BundleRun> {
  return runBundle({ apiUrl: world.fake.url, inputs: workflowInputs(), event, files: sparseWorkspace() });
}
const prEvent = () => ({
  name: 'pull_request_target',
  payload: { pull_request: { number: 12, head: { sha: HEAD } } },
});
const verdict = () => world.checks.verdict(HEAD, NAME);
const summary = () => String((world.checks.on(HEAD, NAME).at(-1)!.output as { summary: string }).summary);

function inProcess(extra: { tuning?: object } = {}): Promise<PrCheckOutcome> {
  return runPrCheck({
    repo: 'acme/dhash',
    pull: 12,
    token: TOKEN,
    teamToken: TOKEN,
    apiUrl: world.fake.url,
    policy: loadPolicyFile(`${root}.github/guarded-rollout.yml`),
    postCheckRun: true,
    tuning: { retryBaseMs: 1, rateLimitBaseMs: 1, ...extra.tuning },
  });
}

describe('the workflows as shipped', () => {
  it("pr-check.yml checks out only the default branch's action and roster, and both exist", () => {
    expect(checkout.with!.ref).toBe('${{ github.event.repository.default_branch }}');
    expect(read('actions/pr-check/action.yml')).toMatch(/name: 'Guarded rollout: pr-check'/);
    expect(Object.keys(sparseWorkspace())).toEqual(['.github/guarded-rollout.yml']);
  });

  it('premerge.yml stamps the head commit into the evidence and uploads one premerge_artifacts bundle', () => {
    const evidence = premergeYml.jobs.evidence!.steps;
    expect(
      evidence.find((s) => s.env?.GUARDED_ROLLOUT_EVIDENCE_COMMIT)!.env!.GUARDED_ROLLOUT_EVIDENCE_COMMIT,
    ).toBe('${{ github.event.pull_request.head.sha }}');
    const upload = evidence.find((s) => s.uses?.startsWith('actions/upload-artifact@'))!;
    expect(upload.with).toMatchObject({ name: 'premerge_artifacts', path: 'premerge_artifacts/' });
  });
});

describe('a PR filled from the seed template', () => {
  it('succeeds, within 12 requests', async () => {
    approveAll();
    const run = await evaluate();
    expect(run.outputs.result).toBe('success');
    expect(run.code).toBe(0);
    expect(verdict()).toBe('success');
    expect(world.fake.count()).toBeLessThanOrEqual(12);
  });

  it.each<[string, () => Promise<void> | void, RegExp]>([
    [
      'one box unticked',
      () => world.gh.setBody(12, untick(seedBody(), 'Security & quality checks')),
      /checklist: Security & quality checks/,
    ],
    [
      'one artifact missing',
      async () =>
        void world.seedPremerge(HEAD, await bundle({ omit: ['rollback-dryrun.log'] }), { createdAt: at(2) }),
      /rollback-dryrun.log \(no rollback-dryrun.log in the premerge_artifacts bundle\)/,
    ],
    [
      'one artifact failing',
      async () =>
        void world.seedPremerge(HEAD, await bundle({ failing: ['postdeploy-smoketests.log'] }), {
          createdAt: at(2),
        }),
      /postdeploy-smoketests.log result is fail/,
    ],
  ])('fails with %s, naming it', async (_name, change, reason) => {
    approveAll();
    await change();
    const run = await evaluate();
    expect(run.outputs.result).toBe('failure');
    expect(run.outputs.missing).toMatch(reason);
    expect(verdict()).toBe('failure');
  });

  it('is not green with approvals only on an older commit, naming them stale', async () => {
    approveAll(OLD);
    const run = await evaluate();
    expect(run.outputs.result).toBe('pending');
    expect(verdict()).toBe('action_required');
    expect(summary()).toMatch(/stale \(approved @sre-sam on 2222222, @dev-dan on 2222222/);
  });

  it('fails while changes are requested, naming the reviewer', async () => {
    approveAll();
    world.gh.addReview(12, {
      user: 'qa-quinn',
      state: 'CHANGES_REQUESTED',
      commitId: HEAD,
      submittedAt: at(25),
    });
    const run = await evaluate();
    expect(run.outputs.result).toBe('failure');
    expect(run.outputs.missing).toMatch(/changes requested by @qa-quinn/);
  });

  it('is not green with a sign-off from before the latest push, saying so', async () => {
    world.gh.addReview(12, { user: 'sre-sam', state: 'APPROVED', commitId: HEAD, submittedAt: at(20) });
    world.gh.addReview(12, { user: 'dev-dan', state: 'APPROVED', commitId: HEAD, submittedAt: at(21) });
    world.gh.addComment(12, { user: 'ops-olga', body: '/signoff', createdAt: at(-30) });
    world.gh.comments.get(12)![0]!.updated_at = at(40); // edited later: listed by `since`, still too early
    const run = await evaluate();
    expect(run.outputs.result).toBe('pending');
    expect(verdict()).toBe('action_required');
    expect(summary()).toMatch(/\/signoff by @ops-olga predates the latest push/);
  });
});

describe('never stale', () => {
  it('green, then changes requested on the same head: the same check run is no longer green', async () => {
    approveAll();
    expect((await evaluate()).outputs.result).toBe('success');
    world.gh.addReview(12, {
      user: 'qa-quinn',
      state: 'CHANGES_REQUESTED',
      commitId: HEAD,
      submittedAt: at(50),
    });
    await evaluate({
      name: 'workflow_run',
      payload: { workflow_run: { head_sha: HEAD, pull_requests: [{ number: 12 }] } },
    });
    expect(world.checks.on(HEAD, NAME)).toHaveLength(1);
    expect(verdict()).toBe('failure');
  });

  it('a transient 500 is retried by the bundle and the verdict stands', async () => {
    approveAll();
    world.failNext('pulls/list-reviews', 1, { status: 500, body: { message: 'Server Error' } });
    const run = await evaluate();
    expect(run.outputs.result).toBe('success');
    expect(world.fake.requests.filter((r) => r.operationId === 'pulls/list-reviews').length).toBe(2);
  });

  it.each([
    [
      'a persistent 500',
      { status: 500, body: { message: 'Server Error' } },
      /GET \/repos\/acme\/dhash\/pulls\/12\/reviews answered 500/,
    ],
    [
      'a secondary rate limit',
      {
        status: 403,
        headers: { 'retry-after': '1' },
        body: {
          message:
            'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.',
          documentation_url: 'https://docs.github.com/rest',
        },
      },
      /answered 403 "You have exceeded a secondary rate limit/,
    ],
    [
      'a primary rate limit that resets in an hour (no waiting past the job timeout)',
      {
        status: 403,
        headers: {
          'x-ratelimit-limit': '5000',
          'x-ratelimit-remaining': '0',
          'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3600),
        },
        body: {
          message: 'API rate limit exceeded for installation ID 1.',
          documentation_url: 'https://docs.github.com/rest',
        },
      },
      /answered 403 "API rate limit exceeded/,
    ],
  ])('green, then %s during the re-evaluation: not green, naming the error', async (_name, fault, reason) => {
    approveAll();
    expect((await inProcess()).evaluation.result).toBe('success');
    expect(verdict()).toBe('success');
    world.gh.addReview(12, {
      user: 'qa-quinn',
      state: 'CHANGES_REQUESTED',
      commitId: HEAD,
      submittedAt: at(50),
    });
    world.failNext('pulls/list-reviews', 10, fault);
    await expect(inProcess()).rejects.toThrow(reason);
    expect(verdict()).toBe('failure');
    expect(summary()).toMatch(reason);
  });

  it('four concurrent evaluations leave one check run with the verdict', async () => {
    approveAll();
    const outcomes = await Promise.all([inProcess(), inProcess(), inProcess(), inProcess()]);
    expect(world.checks.on(HEAD, NAME)).toHaveLength(1);
    expect(verdict()).toBe('success');
    expect(outcomes.filter((o) => !o.superseded).length).toBeGreaterThanOrEqual(1);
  });

  it('four evaluations in separate processes: the newest run carries the verdict, older ones end neutral', async () => {
    approveAll();
    await Promise.all([evaluate(), evaluate(), evaluate(), evaluate()]);
    await evaluate();
    const runs = world.checks.on(HEAD, NAME);
    expect(runs.length).toBeLessThanOrEqual(4);
    expect(runs.slice(0, -1).every((r) => r.conclusion === 'neutral')).toBe(true);
    expect(verdict()).toBe('success');
  });

  it("leaves another app's check run of the same name alone", async () => {
    world.checks.seed({ headSha: HEAD, name: NAME, appId: 999, conclusion: 'success' });
    const run = await evaluate();
    expect(run.outputs.result).toBe('pending');
    expect(world.checks.on(HEAD, NAME, 999)[0]).toMatchObject({ conclusion: 'success' });
    expect(verdict()).toBe('action_required');
  });

  it('a roster team that does not exist fails the check, naming the team and "Members: read"', async () => {
    world.gh.teams.clear();
    approveAll();
    const run = await evaluate();
    expect(run.outputs.result).toBe('failure');
    expect(summary()).toMatch(/team guarded-rollout\/sre not found \(404\).*"Members: read"/);
  });

  it('judges the worst 64 KB body quickly and refuses a longer one with a message', async () => {
    world.gh.setBody(12, `${seedBody()}\n${'_*'.repeat((65_536 - seedBody().length - 2) / 2 - 1)}`);
    const started = Date.now();
    const run = await evaluate();
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(run.outputs.result).not.toBe('');
    world.gh.setBody(12, `${seedBody()}\n${'- [x] a\n'.repeat(50_000)}`);
    expect((await evaluate()).outputs.missing).toMatch(/PR body too long/);
    expect(summary()).toMatch(/GitHub allows 65536/);
  });
});
