import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { installPullRoutes, startFakeGitHub, type FakeGitHub, type PullsState } from '../src/index.js';

describe('fake GitHub pre-merge routes', () => {
  let fake: FakeGitHub;
  let gh: PullsState;
  const HEAD = 'f'.repeat(40);
  beforeAll(async () => {
    fake = await startFakeGitHub();
    gh = installPullRoutes(fake);
    gh.addPull({ number: 1, body: 'hi', author: 'me', headSha: HEAD, labels: ['deploy'] });
    for (let i = 0; i < 120; i++)
      gh.addReview(1, {
        user: `r${i}`,
        state: 'COMMENTED',
        commitId: HEAD,
        submittedAt: '2026-01-01T00:00:00Z',
      });
    gh.addComment(1, { user: 'a', body: 'old', createdAt: '2026-01-01T00:00:00Z' });
    gh.addComment(1, { user: 'b', body: 'new', createdAt: '2026-01-02T00:00:00Z' });
    gh.addWorkflowRun({
      headSha: HEAD,
      createdAt: '2026-01-01T00:00:00Z',
      artifacts: ['a', { name: 'b', expired: true }],
    });
  });
  afterAll(() => fake.stop());
  const get = async (path: string) => {
    const res = await fetch(`${fake.url}${path}`);
    return {
      status: res.status,
      link: res.headers.get('link'),
      body: (await res.json()) as Record<string, unknown> & unknown[],
    };
  };

  it('serves schema-valid pulls, pages of reviews, comments since a time, runs and artifacts', async () => {
    expect((await get('/repos/o/r/pulls/1')).body).toMatchObject({
      number: 1,
      head: { sha: HEAD },
      labels: [{ name: 'deploy' }],
    });
    const reviews = await get('/repos/o/r/pulls/1/reviews?per_page=100');
    expect(reviews.body).toHaveLength(100);
    expect(reviews.link).toContain('rel="next"');
    expect((await get('/repos/o/r/issues/1/comments?since=2026-01-01T12:00:00Z')).body).toHaveLength(1);
    const runs = await get(`/repos/o/r/actions/runs?head_sha=${HEAD}`);
    expect(runs.body).toMatchObject({ total_count: 1 });
    const runId = (runs.body as unknown as { workflow_runs: { id: number }[] }).workflow_runs[0]!.id;
    expect((await get(`/repos/o/r/actions/runs/${runId}/artifacts`)).body).toMatchObject({
      total_count: 2,
      artifacts: [
        { name: 'a', expired: false },
        { name: 'b', expired: true },
      ],
    });
    expect((await get('/repos/o/r/pulls/2')).status).toBe(404);
    expect(fake.violations).toEqual([]);
  });

  it('answers team membership as GitHub does for members, non-members and tokens without Members: read', async () => {
    gh.setTeam('acme', 'sre', ['Sam']);
    expect((await get('/orgs/acme/teams/sre/memberships/sam')).status).toBe(200);
    expect((await get('/orgs/acme/teams/sre/memberships/dan')).status).toBe(404);
    gh.teamAccess = 'forbidden';
    expect((await get('/orgs/acme/teams/sre/memberships/sam')).status).toBe(403);
    expect(fake.violations).toEqual([]);
  });
});
