import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import {
  installPullRoutes,
  PullsState,
  startFakeGitHub,
  type FakeGitHub,
} from '@guarded-rollout/fake-github';
import { defaultPolicy, type PrCheckPolicy } from '../src/policy.js';
import { runPrCheck, type PrCheckOutcome } from '../src/pr-check.js';
import { CHECK_RUN_NAME } from '../src/report.js';
import { completeBody, untick } from './bodies.js';

const HEAD = 'a'.repeat(40);
const OLD = 'b'.repeat(40);
const ALL_ARTIFACTS = [
  'backups',
  'deploy-dryrun',
  'migrate-dryrun',
  'backup-dryrun',
  'rollback-dryrun',
  'postdeploy-smoketests',
  'test_logging',
  'premerge_artifacts',
];
const PUSHED = '2026-11-23T10:00:00Z';
const at = (minutes: number): string =>
  new Date(Date.parse(PUSHED) + minutes * 60_000).toISOString().replace(/\.000Z$/, 'Z');

let fake: FakeGitHub;
let gh: PullsState;
beforeAll(async () => {
  fake = await startFakeGitHub();
  fake.token = 'ghs_test_token';
});
afterAll(() => fake.stop());
beforeEach(() => {
  gh = installPullRoutes(fake, new PullsState());
  fake.requests.length = 0;
  fake.violations.length = 0;
  gh.addPull({ number: 7, body: completeBody(), author: 'author', headSha: HEAD, labels: ['deploy'] });
  gh.addWorkflowRun({ headSha: HEAD, createdAt: PUSHED, artifacts: ALL_ARTIFACTS });
});
afterEach(() => expect(fake.violations).toEqual([]));

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
    token: 'ghs_test_token',
    apiUrl: fake.url,
    policy: p,
    postCheckRun: extra.postCheckRun ?? true,
    now: () => new Date('2026-11-23T12:00:00Z'),
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
    const runs = gh.checkRunsFor(HEAD, CHECK_RUN_NAME);
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
    expect(gh.checkRunsFor(HEAD, CHECK_RUN_NAME)).toHaveLength(1);
    expect(second.checkRun).toMatchObject({ created: false, id: gh.checkRunsFor(HEAD)[0]!.id });
    expect(fake.count('checks/create')).toBe(1);
    expect(fake.count('checks/update')).toBe(1);
  });

  it('stays in_progress while it only waits for approvals', async () => {
    approve('sre-sam', 5);
    const outcome = await check();
    expect(outcome.evaluation.result).toBe('pending');
    expect(rule(outcome, 'approvals')).toMatchObject({ status: 'pending' });
    expect(rule(outcome, 'approvals').reason).toMatch(/1 of 2 approvals/);
    expect(gh.checkRunsFor(HEAD)[0]).toMatchObject({ status: 'in_progress', conclusion: null });
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
    expect(gh.checkRunsFor(HEAD)[0]).toMatchObject({ status: 'completed', conclusion: 'failure' });
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
      { teamToken: 'ghs_test_token' },
    );
    expect(outcome.evaluation.result).toBe('success');
    expect(fake.count('teams/get-membership-for-user-in-org')).toBeGreaterThan(0);
  });

  it('fails closed, naming the missing permission, when team membership cannot be read (403)', async () => {
    gh.setTeam('acme', 'sre', ['sre-sam']);
    gh.teamAccess = 'forbidden';
    approve('sre-sam', 5);
    approve('dev-dan', 6);
    approve('ops-olga', 7);
    const outcome = await check(
      policy((p) => (p.roster.sre = ['acme/sre'])),
      { teamToken: 'ghs_test_token' },
    );
    expect(outcome.evaluation.result).toBe('failure');
    expect(rule(outcome, 'roster').reason).toMatch(/team acme\/sre .*403.*"Members: read".*read:org/);
  });

  it('fails closed when teams are configured but no team token is given', async () => {
    approve('sre-sam', 5);
    const outcome = await check(policy((p) => (p.roster.sre = ['acme/sre'])));
    expect(rule(outcome, 'roster').reason).toMatch(/no token for team lookups.*team-token/);
    expect(fake.count('teams/get-membership-for-user-in-org')).toBe(0);
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

  it('tells the operator their comment predates the push', async () => {
    gh.addComment(7, { user: 'ops-olga', body: '/signoff', createdAt: at(-5) });
    // Comment edited after the push: GitHub returns it for `since`, but created_at still predates it.
    gh.comments.get(7)![0]!.updated_at = at(50);
    expect(rule(await check(), 'signoff').reason).toMatch(/\/signoff by @ops-olga predates the latest push/);
  });
});

describe('pr-check evidence', () => {
  beforeEach(() => {
    approve('sre-sam', 5);
    approve('ops-olga', 6);
  });

  it('fails a ticked artifact box with no artifact as "ticked but not found"', async () => {
    gh.workflowRuns.length = 0;
    gh.addWorkflowRun({
      headSha: HEAD,
      createdAt: PUSHED,
      artifacts: ALL_ARTIFACTS.filter((a) => a !== 'migrate-dryrun'),
    });
    const outcome = await check();
    expect(outcome.evaluation.result).toBe('failure');
    expect(outcome.evaluation.missing).toContain('evidence: migrate-dryrun.log (ticked but not found)');
  });

  it('uses the latest premerge run of the head and ignores other workflows', async () => {
    gh.addWorkflowRun({
      headSha: HEAD,
      createdAt: at(1),
      path: '.github/workflows/lint.yml',
      name: 'lint',
      artifacts: [],
    });
    gh.addWorkflowRun({ headSha: HEAD, createdAt: at(2), conclusion: 'failure', artifacts: ALL_ARTIFACTS });
    const outcome = await check();
    expect(rule(outcome, 'evidence').reason).toMatch(/concluded failure/);
  });

  it('waits while the premerge run is still going', async () => {
    gh.workflowRuns.length = 0;
    gh.addWorkflowRun({ headSha: HEAD, createdAt: PUSHED, status: 'in_progress', conclusion: null });
    expect(rule(await check(), 'evidence')).toMatchObject({ status: 'pending' });
    expect(fake.count('actions/list-workflow-run-artifacts')).toBe(0);
  });

  it('fails ticked boxes when there is no premerge run for the head at all', async () => {
    gh.workflowRuns.length = 0;
    const outcome = await check();
    expect(rule(outcome, 'evidence').reason).toMatch(/no run of premerge.yml for head aaaaaaa/);
  });

  it('checks the optional monitor_logs box only when ticked', async () => {
    gh.setBody(7, completeBody({ monitorLogs: true }));
    expect((await check()).evaluation.missing).toContain('evidence: monitor_logs/ (ticked but not found)');
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
    expect(gh.checkRunsFor(HEAD)).toHaveLength(1);
    expect(gh.checkRunsFor(HEAD)[0]).toMatchObject({ status: 'completed', conclusion: 'failure' });
  });

  it('starts a fresh check run on a new head and leaves the old one alone', async () => {
    approve('sre-sam', 5);
    approve('ops-olga', 6);
    await check();
    gh.push(7, OLD);
    gh.addWorkflowRun({ headSha: OLD, createdAt: at(60), artifacts: ALL_ARTIFACTS });
    const pushed = await check();
    expect(pushed.evaluation.result).toBe('pending');
    expect(gh.checkRunsFor(OLD)).toHaveLength(1);
    expect(gh.checkRunsFor(HEAD)[0]).toMatchObject({ conclusion: 'success' });
  });
});

describe('pr-check bad input', () => {
  it('names a PR that does not exist', async () => {
    await expect(
      runPrCheck({
        repo: 'acme/dhash',
        pull: 999,
        token: 'ghs_test_token',
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
  it('fails a PR whose body is empty', async () => {
    gh.setBody(7, null);
    const outcome = await check();
    expect(rule(outcome, 'checklist').reason).toMatch(/PR body is empty/);
    expect(outcome.evaluation.result).toBe('failure');
  });
});
