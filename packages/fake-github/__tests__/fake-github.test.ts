import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { exampleResponse, paginate, startFakeGitHub, type FakeGitHub } from '../src/index.js';

describe('fake GitHub API', () => {
  let fake: FakeGitHub;
  const deployments: unknown[] = [];
  beforeAll(async () => {
    fake = await startFakeGitHub({
      'repos/create-deployment': (req) => {
        const d = {
          ...(exampleResponse('repos/create-deployment', 201) as object),
          id: deployments.length + 1,
          ref: (req.body as { ref: string }).ref,
        };
        deployments.push(d);
        return { status: 201, body: d };
      },
      'repos/list-deployments': (req, f) => paginate(req, f, deployments),
    });
    fake.token = 'test-token';
  });
  afterAll(() => fake.stop());

  const call = (method: string, path: string, body?: unknown, token = 'test-token') =>
    fetch(`${fake.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  it('serves a documented operation with a schema-valid response and records it', async () => {
    const res = await call('POST', '/repos/o/r/deployments', { ref: 'main', environment: 'production' });
    expect(res.status).toBe(201);
    expect(((await res.json()) as { ref: string }).ref).toBe('main');
    expect(fake.count('repos/create-deployment')).toBe(1);
    expect(fake.violations).toEqual([]);
  });

  it('flags a request body that GitHub would reject', async () => {
    const before = fake.violations.length;
    await call('POST', '/repos/o/r/deployments', { environment: 'production' });
    expect(fake.violations.slice(before).join('\n')).toMatch(/repos\/create-deployment request: .*ref/);
    fake.violations.length = before;
  });

  it('flags paths that are not GitHub operations and operations without a handler', async () => {
    const before = fake.violations.length;
    expect((await call('GET', '/not/a/github/route/at/all/x')).status).toBe(404);
    expect((await call('GET', '/repos/o/r/pulls/1')).status).toBe(501);
    expect(fake.violations.slice(before)).toHaveLength(2);
    fake.violations.length = before;
  });

  it('requires the token when one is set', async () => {
    expect((await call('GET', '/repos/o/r/deployments', undefined, 'wrong')).status).toBe(401);
  });

  it('paginates with Link headers', async () => {
    for (let i = 0; i < 4; i++) await call('POST', '/repos/o/r/deployments', { ref: `v${i}` });
    const res = await call('GET', '/repos/o/r/deployments?per_page=2');
    expect(res.headers.get('link')).toContain('rel="next"');
    expect(((await res.json()) as unknown[]).length).toBe(2);
    expect(fake.violations).toEqual([]);
  });
});
