// The committed bundle against the fake GitHub API, started as the runner starts it.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { completeBody, TEMPLATE } from '../../../packages/premerge/__tests__/bodies.js';
import { premergeBundle } from '../../../packages/premerge/__tests__/premerge-bundle.js';
import { startWorld, TOKEN, type World } from '../../../packages/premerge/__tests__/pr-check-world.js';
import { cleanupBundleRuns, runBundle } from './run-bundle.js';

const HEAD = 'd'.repeat(40);
const FORK_HEAD = 'e'.repeat(40);
let world: World;

beforeAll(async () => {
  world = await startWorld();
  const { gh } = world;
  gh.addPull({ number: 3, body: completeBody(), author: 'author', headSha: HEAD, labels: ['deploy'] });
  gh.addPull({ number: 4, body: TEMPLATE, author: 'author', headSha: HEAD });
  world.seedPremerge(HEAD, await premergeBundle({ commit: HEAD }));
  for (const user of ['sre-sam', 'dev-dan', 'ops-olga'])
    gh.addReview(3, { user, state: 'APPROVED', commitId: HEAD, submittedAt: '2026-11-23T10:10:00Z' });
});
afterAll(async () => {
  await world.stop();
  cleanupBundleRuns();
});
afterEach(() => expect(world.fake.violations).toEqual([]));

const ROSTER = 'roster:\n  sre: [sre-sam]\n  operators: [ops-olga]\n';
const run = (inputs: Record<string, string>, event: { name: string; payload: unknown }, roster = ROSTER) =>
  runBundle({
    apiUrl: world.fake.url,
    inputs: { token: TOKEN, config: '.github/guarded-rollout.yml', ...inputs },
    event,
    files: { '.github/guarded-rollout.yml': roster },
  });

describe('pr-check action bundle', () => {
  it('passes a complete deploy PR from a pull_request_target event and completes the check run', async () => {
    const result = await run(
      {},
      { name: 'pull_request_target', payload: { pull_request: { number: 3, head: { sha: HEAD } } } },
    );
    expect(
      result.stdout
        .split('\n')
        .filter((l) => !l.startsWith('::add-mask::'))
        .join('\n'),
    ).not.toContain(TOKEN);
    expect(result.code).toBe(0);
    expect(result.outputs.result).toBe('success');
    expect(JSON.parse(result.outputs.missing!)).toEqual([]);
    const runs = world.checks.on(HEAD, 'guarded-rollout / pr-check');
    expect(result.outputs['check-run-id']).toBe(String(runs[0]!.id));
    expect(runs[0]).toMatchObject({
      conclusion: 'success',
      details_url: 'https://github.com/acme/dhash/actions/runs/4242',
    });
    expect(result.summary).toMatch(/\| ✅ \| Deploy operator sign-off/);
  });

  it('fails the untouched template from an issue_comment on the PR, naming what is missing', async () => {
    const result = await run(
      {},
      { name: 'issue_comment', payload: { issue: { number: 4, pull_request: { url: 'x' } } } },
    );
    expect(result.code).toBe(1);
    expect(result.outputs.result).toBe('failure');
    expect(JSON.parse(result.outputs.missing!)).toContain('checklist: deploy-dryrun.log');
    expect(result.stdout).toMatch(/^::error::pr-check failed: checklist: Backups/m);
  });

  it('finds a fork PR by its head commit on a workflow_run that lists no pull request', async () => {
    world.gh.addPull({ number: 5, body: TEMPLATE, author: 'forker', headSha: FORK_HEAD });
    const result = await run(
      {},
      {
        name: 'workflow_run',
        payload: {
          workflow_run: {
            head_sha: FORK_HEAD,
            pull_requests: [],
            head_repository: { full_name: 'octocat/Hello-World' },
          },
        },
      },
    );
    expect(result.outputs.result).toBe('failure');
    expect(world.checks.on(FORK_HEAD)).toHaveLength(1);
  });

  it('ends the check failed, naming the file, when the roster cannot be read (no stale green)', async () => {
    const event = {
      name: 'pull_request_target',
      payload: { pull_request: { number: 3, head: { sha: HEAD } } },
    };
    expect((await run({}, event)).outputs.result).toBe('success');
    const result = await run({}, event, 'roster: [unclosed\n');
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^::error::.*guarded-rollout.yml.*not valid YAML/m);
    const runs = world.checks
      .on(HEAD, 'guarded-rollout / pr-check')
      .filter((r) => r.external_id === 'guarded-rollout-pr-check:acme/dhash#3');
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ conclusion: 'failure' });
    expect(String((runs[0]!.output as { summary: string }).summary)).toMatch(
      /roster \/ policy cannot be read/,
    );
  });

  it('skips an issue_comment on a plain issue', async () => {
    const result = await run({}, { name: 'issue_comment', payload: { issue: { number: 99 } } });
    expect(result.code).toBe(0);
    expect(result.outputs.result).toBe('skipped');
  });

  it('refuses a bad pr or app-id input with one clear error', async () => {
    const bad = await run({ pr: 'seven' }, { name: 'workflow_dispatch', payload: {} });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^::error::input "pr": "seven" is not a pull request number/m);
    const app = await run({ 'app-id': 'actions' }, { name: 'workflow_dispatch', payload: {} });
    expect(app.stdout).toMatch(/^::error::.*input "app-id": "actions" is not a GitHub App id/m);
  });
});
