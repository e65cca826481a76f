// `guarded-rollout watchdog` in-process against the fake GitHub: exit codes and what an operator sees.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { exampleResponse, paginate, startFakeGitHub, type FakeGitHub } from '@guarded-rollout/fake-github';
import { cli } from './run-cli.js';

const TOKEN = 'ghs_cliWatchdogToken';
let fake: FakeGitHub;
let states: string[] = [];

beforeAll(async () => {
  const deployment = {
    ...(exampleResponse('repos/get-deployment', 200) as Record<string, unknown>),
    id: 7,
    ref: 'v2.0.0',
    environment: 'production',
    created_at: '2026-11-23T08:00:00Z',
  };
  fake = await startFakeGitHub({
    'repos/list-deployments': (req, f) => paginate(req, f, [deployment]),
    'repos/list-deployment-statuses': (req, f) =>
      paginate(
        req,
        f,
        states.map((state) => ({
          ...(exampleResponse('repos/get-deployment-status', 200) as Record<string, unknown>),
          state,
          created_at: '2026-11-23T08:01:00Z',
        })),
      ),
    'repos/create-deployment-status': (req) => {
      states.unshift((req.body as { state: string }).state);
      return { status: 201, body: exampleResponse('repos/create-deployment-status', 201) };
    },
  });
  fake.token = TOKEN;
});
afterAll(() => fake.stop());

const env = () => ({ GITHUB_TOKEN: TOKEN, GITHUB_API_URL: fake.url, GITHUB_REPOSITORY: 'acme/dhash' });

describe('guarded-rollout watchdog', () => {
  it('exits 1 and names the stuck deployment it marked error', async () => {
    states = ['in_progress'];
    const run = await cli(['watchdog', '--env', 'production'], { env: env() });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(
      '| 7 | production | v2.0.0 | in_progress | 2026-11-23T08:01:00Z | 3h59m | marked error |',
    );
    expect(states[0]).toBe('error');
  });

  it('exits 0 when nothing is stuck, and prints JSON with --json', async () => {
    states = ['success'];
    const run = await cli(['watchdog', '--json'], { env: env() });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ repository: 'acme/dhash', checked: 1, stale: [] });
  });

  it('exits 2 on a bad duration, naming the flag', async () => {
    const run = await cli(['watchdog', '--stale-after', 'soon'], { env: env() });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('stale-after: "soon" is not a duration');
  });

  it('exits 2 without a repository', async () => {
    const run = await cli(['watchdog'], { env: { GITHUB_TOKEN: TOKEN } });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('give --repo OWNER/REPO');
  });

  it('never prints the token', async () => {
    states = ['in_progress'];
    const run = await cli(['watchdog', '--dry-run', '--json'], { env: env() });
    expect(`${run.stdout}${run.stderr}`).not.toContain(TOKEN);
    expect(fake.violations).toEqual([]);
  });
});
