import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { startHungGitHub, type FakeGitHub, type PullsState } from '@guarded-rollout/fake-github';
import { defaultPolicy, type PrCheckPolicy } from '../src/policy.js';
import { runPrCheck, type PrCheckOutcome } from '../src/pr-check.js';
import { CHECK_RUN_NAME } from '../src/report.js';
import { completeBody, untick } from './bodies.js';
import { premergeBundle } from './premerge-bundle.js';
import { startWorld, TOKEN, type World } from './pr-check-world.js';

const HEAD = 'a'.repeat(40);
const OLD = 'b'.repeat(40);
const PUSHED = '2026-11-23T10:00:00Z';
const at = (minutes: number): string =>
  new Date(Date.parse(PUSHED) + minutes * 60_000).toISOString().replace(/\.000Z$/, 'Z');

let world: World;
let fake: FakeGitHub;
let gh: PullsState;
let good: Buffer;
beforeAll(async () => {
  world = await startWorld();
  fake = world.fake;
  good = await premergeBundle({ commit: HEAD });
});
afterAll(() => world.stop());
beforeEach(() => {
  world.reset();
  gh = world.gh;
  gh.addPull({ number: 7, body: completeBody(), author: 'author', headSha: HEAD, labels: ['deploy'] });
  world.seedPremerge(HEAD, good, { createdAt: PUSHED });
});
afterEach(() => {
  expect(fake.violations).toEqual([]);
  expect(world.blobs.leakedAuthorization).toBe(0);
});
const runsOn = (sha: string) => world.checks.on(sha, CHECK_RUN_NAME);

function policy(change: (p: PrCheckPolicy) => void = () => {}): PrCheckPolicy {
  const p = defaultPolicy();
  p.roster = { sre: ['sre-sam'], operators: ['ops-olga'] };
  change(p);
  return p;
}

async function check(
  p: PrCheckPolicy = policy(),
  extra: { teamToken?: string; postCheckRun?: boolean } = {},
): Promise<PrCheckOutcome> {
  return runPrCheck({
    repo: 'acme/dhash',
    pull: 7,
    token: TOKEN,
    apiUrl: fake.url,
    policy: p,
    postCheckRun: extra.postCheckRun ?? true,
    now: () => new Date('2026-11-23T12:00:00Z'),
    tuning: { retryBaseMs: 1, rateLimitBaseMs: 1 },
    ...(extra.teamToken ? { teamToken: extra.teamToken } : {}),
  });
}

const rule = (o: PrCheckOutcome, id: string) => o.evaluation.rules.find((r) => r.id === id)!;
const approve = (user: string, minutes: number, commitId = HEAD) =>
  gh.addReview(7, { user, state: 'APPROVED', commitId, submittedAt: at(minutes) });

describe('pr-check approvals', () => {
  it('succeeds with two approvals on the head (one Ops/SRE) and an operator approval, and writes one check run', async () => {
    approve('sre-sam', 5);
    approve('dev-dan', 6);
    approve('ops-olga', 7);
    const outcome = await check();
    expect(outcome.evaluation.result).toBe('success');
    expect(outcome.evaluation.missing).toEqual([]);
    const runs = runsOn(HEAD);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ status: 'completed', conclusion: 'success' });
    expect(String((runs[0]!.output as { summary: string }).summary)).toContain('| ✅ | Approvals');
    // A sign-off settled by a review needs no comment request.
    expect(fake.count('issues/list-comments')).toBe(0);
  });

  it('is idempotent: re-running updates the same check run', async () => {
    approve('sre-sam', 5);
    await check();
    approve('dev-dan', 6);
    const second = await check();
    expect(runsOn(HEAD)).toHaveLength(1);
    expect(second.checkRun).toMatchObject({ created: false, id: runsOn(HEAD)[0]!.id });
    expect(fake.count('checks/create')).toBe(1);
    expect(fake.count('checks/update')).toBe(1);
  });

  it('completes as action_required (never green, never a bare in_progress) while it waits for approvals', async () => {
    approve('sre-sam', 5);
    const outcome = await check();
    expect(outcome.evaluation.result).toBe('pending');
    expect(rule(outcome, 'approvals')).toMatchObject({ status: 'pending' });
    expect(rule(outcome, 'approvals').reason).toMatch(/1 of 2 approvals/);
    expect(runsOn(HEAD)[0]).toMatchObject({ status: 'completed', conclusion: 'action_required' });
  });

  it('ignores the author approving their own PR', async () => {
    approve('author', 5);
    approve('sre-sam', 6);
    approve('ops-olga', 7);
    const outcome = await check();
    expect(rule(outcome, 'approvals').reason).toMatch(/2 approvals/);
    approve('AUTHOR', 8);
    expect(rule(await check(), 'approvals').reason).toMatch(/2 approvals .*@ops-olga, @sre-sam\)/);
  });

  it('does not count an approval that was later dismissed', async () => {
    approve('sre-sam', 5);
    approve('dev-dan', 6);
    gh.addReview(7, { user: 'dev-dan', state: 'DISMISSED', commitId: HEAD, submittedAt: at(8) });
    expect(rule(await check(), 'approvals')).toMatchObject({ status: 'pending' });
  });

  it('does not count approvals given before the latest push (stale)', async () => {
    approve('sre-sam', -30, OLD);
    approve('dev-dan', -20, OLD);
    approve('ops-olga', -10, OLD);
    const outcome = await check();
    expect(outcome.evaluation.result).toBe('pending');
    expect(rule(outcome, 'approvals').reason).toMatch(/0 of 2 .*stale \(approved @sre-sam on bbbbbbb/);
    expect(rule(outcome, 'signoff').status).toBe('pending');
    // With the head-only rule off, old approvals count (the operator sign-off still needs the head).
    const lenient = await check(policy((p) => (p.approvalsOnHeadOnly = false)));
    expect(rule(lenient, 'approvals').status).toBe('pass');
  });

  it('keeps an approval when the reviewer later only comments', async () => {
    approve('sre-sam', 5);
    approve('dev-dan', 6);
    gh.addReview(7, { user: 'dev-dan', state: 'COMMENTED', commitId: HEAD, submittedAt: at(9), body: 'nit' });
    expect(rule(await check(), 'approvals').status).toBe('pass');
  });

  it('blocks on outstanding changes requested, and unblocks when the same reviewer approves', async () => {
    approve('sre-sam', 5);
    approve('dev-dan', 6);
    gh.addReview(7, { user: 'qa-quinn', state: 'CHANGES_REQUESTED', commitId: OLD, submittedAt: at(-40) });
    const blocked = await check();
    expect(blocked.evaluation.result).toBe('failure');
    expect(rule(blocked, 'approvals').reason).toMatch(/changes requested by @qa-quinn/);
    expect(runsOn(HEAD)[0]).toMatchObject({ status: 'completed', conclusion: 'failure' });
    approve('qa-quinn', 10);
    expect(rule(await check(), 'approvals')).toMatchObject({ status: 'pass' });
  });

  it('reads 150 reviews across pages with per_page=100', async () => {
    for (let i = 0; i < 147; i++)
      gh.addReview(7, { user: `reviewer-${i % 20}`, state: 'COMMENTED', commitId: HEAD, submittedAt: at(1) });
    approve('sre-sam', 20);
    approve('dev-dan', 21);
    approve('ops-olga', 22);
    const outcome = await check();
    expect(outcome.evaluation.result).toBe('success');
    expect(fake.count('pulls/list-reviews')).toBe(2);
    expect(fake.requests.filter((r) => r.operationId === 'pulls/list-reviews').length).toBe(2);
  });

  it('waits for an Ops/SRE approver when the approvers are not in the set', async () => {
    approve('dev-dan', 5);
    approve('dev-dora', 6);
    const outcome = await check();
    expect(rule(outcome, 'approvals').status).toBe('pass');
    expect(rule(outcome, 'sre-approval').reason).toMatch(/@dev-dan, @dev-dora approved but are not in it/);
  });

  it('resolves org/team rosters with the team token', async () => {
    gh.setTeam('acme', 'sre', ['sre-sam']);
    gh.setTeam('acme', 'ops', ['ops-olga']);
    approve('sre-sam', 5);
    approve('ops-olga', 6);
    const outcome = await check(
      policy((p) => (p.roster = { sre: ['@acme/sre'], operators: ['acme/ops'] })),
      { teamToken: TOKEN },
    );
    expect(outcome.evaluation.result).toBe('success');
    expect(fake.count('teams/list-members-in-org')).toBe(2);
  });

  it('fails closed, naming the missing permission, when team membership cannot be read (403)', async () => {
    gh.setTeam('acme', 'sre', ['sre-sam']);
    gh.teamAccess = 'forbidden';
    approve('sre-sam', 5);
    approve('dev-dan', 6);
    approve('ops-olga', 7);
    const outcome = await check(
      policy((p) => (p.roster.sre = ['acme/sre'])),
      { teamToken: TOKEN },
    );
    expect(outcome.evaluation.result).toBe('failure');
    expect(rule(outcome, 'roster').reason).toMatch(/team acme\/sre .*403.*"Members: read".*read:org/);
    expect(outcome.configErrors).toHaveLength(1);
  });

  it('fails closed when teams are configured but no team token is given', async () => {
    approve('sre-sam', 5);
    const outcome = await check(policy((p) => (p.roster.sre = ['acme/sre'])));
    expect(rule(outcome, 'roster').reason).toMatch(/no team token.*team-token.*"Members: read"/);
    expect(fake.count('teams/list-members-in-org')).toBe(0);
  });

  it('fails a team that does not exist (404), naming it and the permission, instead of waiting forever', async () => {
    gh.setTeam('acme', 'sre', ['sre-sam']);
    approve('sre-sam', 5);
    approve('ops-olga', 6);
    const outcome = await check(
      policy((p) => (p.roster.sre = ['acme/sre-typo'])),
      { teamToken: TOKEN },
    );
    expect(outcome.evaluation.result).toBe('failure');
    expect(rule(outcome, 'roster').reason).toMatch(/team acme\/sre-typo not found \(404\).*"Members: read"/);
    expect(runsOn(HEAD)[0]).toMatchObject({ conclusion: 'failure' });
  });
});

describe('pr-check operator sign-off', () => {
  beforeEach(() => {
    approve('sre-sam', 5);
    approve('dev-dan', 6);
  });

  it('accepts /signoff from an operator after the latest push', async () => {
    gh.addComment(7, { user: 'ops-olga', body: '/signoff\nartifacts reviewed', createdAt: at(30) });
    const outcome = await check();
    expect(rule(outcome, 'signoff')).toMatchObject({ status: 'pass' });
    expect(outcome.evaluation.result).toBe('success');
  });

  it('ignores /signoff posted before the latest push, or by someone outside the operator set', async () => {
    gh.addComment(7, { user: 'ops-olga', body: '/signoff', createdAt: at(-5) });
    gh.addComment(7, { user: 'dev-dan', body: '/signoff', createdAt: at(40) });
    gh.addComment(7, { user: 'ops-olga', body: 'I will /signoff later', createdAt: at(41) });
    const outcome = await check();
    expect(rule(outcome, 'signoff').status).toBe('pending');
    expect(rule(outcome, 'signoff').reason).toMatch(/@dev-dan is not in the operator set/);
  });

  it('reads 300 comments newest page first and stops at the sign-off', async () => {
    for (let i = 0; i < 299; i++)
      gh.addComment(7, { user: `commenter-${i % 9}`, body: `comment ${i}`, createdAt: at(10 + i / 10) });
    gh.addComment(7, { user: 'ops-olga', body: '/signoff', createdAt: at(60) });
    expect(rule(await check(), 'signoff').status).toBe('pass');
    expect(fake.count('issues/list-comments')).toBe(2);
    gh.comments.get(7)!.pop();
    fake.requests.length = 0;
    expect(rule(await check(), 'signoff').status).toBe('pending');
    expect(fake.count('issues/list-comments')).toBe(3);
  });

  it('tells the operator their comment predates the push', async () => {
    gh.addComment(7, { user: 'ops-olga', body: '/signoff', createdAt: at(-5) });
    // Comment edited after the push: GitHub returns it for `since`, but created_at still predates it.
    gh.comments.get(7)![0]!.updated_at = at(50);
    expect(rule(await check(), 'signoff').reason).toMatch(/\/signoff by @ops-olga predates the latest push/);
  });
});

describe('pr-check evidence (by content)', () => {
  beforeEach(() => {
    approve('sre-sam', 5);
    approve('ops-olga', 6);
    gh.workflowRuns.length = 0;
  });

  it("passes with the bundle of the head's premerge run, downloaded through the 302", async () => {
    world.seedPremerge(HEAD, good, { createdAt: PUSHED });
    const outcome = await check();
    expect(rule(outcome, 'evidence')).toMatchObject({ status: 'pass' });
    expect(fake.count('actions/download-artifact')).toBe(1);
    expect(world.blobs.downloads).toBe(1);
    expect(fake.count()).toBeLessThanOrEqual(8);
  });

  it.each([
    [
      'a missing log',
      { omit: ['migrate-dryrun.log'] },
      /"migrate-dryrun.log" ticked but no migrate-dryrun.log in the premerge_artifacts bundle/,
    ],
    ['a failing log', { failing: ['deploy-dryrun.log'] }, /deploy-dryrun.log result is fail: step failed/],
    [
      'a log of another commit',
      { commits: { 'backup-dryrun.log': OLD } },
      /backup-dryrun.log is evidence of commit bbbbbbb, not the head aaaaaaa/,
    ],
    [
      'a log naming no commit',
      { commits: { 'rollback-dryrun.log': undefined } },
      /rollback-dryrun.log names no commit/,
    ],
    [
      'logs of another environment',
      { environment: 'production' },
      /written for environment production, the PR names staging/,
    ],
    [
      'a corrupt backup',
      { corruptBackup: true },
      /"Backups" ticked but backups\/dhash_staging_\w+\.zip: checksum mismatch for backups\/dhash_staging_\w+\.zip/,
    ],
    ['no backups', { omit: ['backups'] }, /no backups\/\*\.zip in the premerge_artifacts bundle/],
  ])('fails %s, naming the box and what it lacks', async (_name, extra, reason) => {
    world.seedPremerge(HEAD, await premergeBundle({ commit: HEAD, ...extra }), { createdAt: PUSHED });
    const outcome = await check();
    expect(outcome.evaluation.result).toBe('failure');
    expect(rule(outcome, 'evidence').reason).toMatch(reason);
  });

  it('ignores runs of other workflow files, other events and display names that only look like premerge', async () => {
    world.seedPremerge(HEAD, good, {
      createdAt: PUSHED,
      path: '.github/workflows/evil.yml',
      name: 'premerge.yml',
    });
    world.seedPremerge(HEAD, good, { createdAt: at(1), event: 'workflow_dispatch' });
    const outcome = await check();
    expect(rule(outcome, 'evidence').reason).toMatch(
      /no premerge.yml run \(event pull_request\) for head aaaaaaa/,
    );
    expect(fake.count('actions/download-artifact')).toBe(0);
  });

  it('uses the latest premerge run of the head', async () => {
    world.seedPremerge(HEAD, good, { createdAt: PUSHED });
    world.seedPremerge(HEAD, good, { createdAt: at(2), conclusion: 'failure' });
    expect(rule(await check(), 'evidence').reason).toMatch(/concluded failure/);
  });

  it('waits while the premerge run is still going', async () => {
    gh.addWorkflowRun({ headSha: HEAD, createdAt: PUSHED, status: 'in_progress', conclusion: null });
    expect(rule(await check(), 'evidence')).toMatchObject({ status: 'pending' });
    expect(fake.count('actions/list-workflow-run-artifacts')).toBe(0);
  });

  it('fails an expired or unreadable bundle', async () => {
    const id = world.seedPremerge(HEAD, Buffer.from('not a zip at all'), { createdAt: PUSHED });
    expect(rule(await check(), 'evidence').reason).toMatch(/bundle is not a readable zip/);
    for (const a of gh.artifacts.get(id)!) a.expired = true;
    expect(rule(await check(), 'evidence').reason).toMatch(/has expired/);
  });

  it('fails when the PR names no single environment', async () => {
    world.seedPremerge(HEAD, good, { createdAt: PUSHED });
    gh.setBody(
      7,
      completeBody().replace('**Environment:** staging', '**Environment:** production / staging'),
    );
    expect(rule(await check(), 'evidence').reason).toMatch(/does not name one environment/);
  });

  it('checks the optional monitor_logs box only when ticked', async () => {
    world.seedPremerge(HEAD, await premergeBundle({ commit: HEAD, omit: ['monitor_logs'] }), {
      createdAt: PUSHED,
    });
    expect(rule(await check(), 'evidence').status).toBe('pass');
    gh.setBody(7, completeBody({ monitorLogs: true }));
    expect((await check()).evaluation.missing).toContain(
      'evidence: monitor_logs/ (no monitor_logs/ in the premerge_artifacts bundle)',
    );
  });
});

describe('pr-check re-evaluation', () => {
  it('turns the same check run red when a box is unticked after being ticked', async () => {
    approve('sre-sam', 5);
    approve('ops-olga', 6);
    expect((await check()).evaluation.result).toBe('success');
    gh.setBody(7, untick(completeBody(), 'rollback-dryrun.log'));
    const edited = await check();
    expect(edited.evaluation.missing).toEqual(['checklist: rollback-dryrun.log']);
    expect(edited.evaluation.result).toBe('failure');
    expect(runsOn(HEAD)).toHaveLength(1);
    expect(runsOn(HEAD)[0]).toMatchObject({ status: 'completed', conclusion: 'failure' });
  });

  it('starts a fresh check run on a new head and leaves the old one alone', async () => {
    approve('sre-sam', 5);
    approve('ops-olga', 6);
    await check();
    gh.push(7, OLD);
    world.seedPremerge(OLD, await premergeBundle({ commit: OLD }), { createdAt: at(60) });
    const pushed = await check();
    expect(pushed.evaluation.result).toBe('pending');
    expect(runsOn(OLD)).toHaveLength(1);
    expect(runsOn(HEAD)[0]).toMatchObject({ conclusion: 'success' });
  });
});

describe('pr-check bad input', () => {
  it('names a PR that does not exist', async () => {
    await expect(
      runPrCheck({
        repo: 'acme/dhash',
        pull: 999,
        token: TOKEN,
        apiUrl: fake.url,
        policy: policy(),
        postCheckRun: false,
      }),
    ).rejects.toThrow(/acme\/dhash#999 not found/);
  });
  it('names a bad token', async () => {
    await expect(
      runPrCheck({
        repo: 'acme/dhash',
        pull: 7,
        token: 'wrong',
        apiUrl: fake.url,
        policy: policy(),
        postCheckRun: false,
      }),
    ).rejects.toThrow(/401 Bad credentials/);
  });
  it('names a GitHub API that does not answer, at the request timeout (not the job timeout)', async () => {
    const { fake: hung, asked } = await startHungGitHub('pulls/get');
    try {
      const started = Date.now();
      await expect(
        runPrCheck({
          repo: 'acme/dhash',
          pull: 7,
          token: TOKEN,
          apiUrl: hung.url,
          policy: policy(),
          postCheckRun: false,
          tuning: { retries: 1, retryBaseMs: 1, requestTimeoutMs: 200 },
        }),
      ).rejects.toThrow(
        `GET /repos/acme/dhash/pulls/7 got no answer from ${new URL(hung.url).host} within 200ms`,
      );
      expect(asked()).toBe(2); // retried once, like a 5xx
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await hung.stop();
    }
  });
  it('fails a PR whose body is empty', async () => {
    gh.setBody(7, null);
    const outcome = await check();
    expect(rule(outcome, 'checklist').reason).toMatch(/PR body is empty/);
    expect(outcome.evaluation.result).toBe('failure');
  });
});
