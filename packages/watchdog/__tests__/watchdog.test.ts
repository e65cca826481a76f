// The watchdog against the OpenAPI-validated fake GitHub: real HTTP on 127.0.0.1, GitHub's own
// request/response shapes. Minimal deployments handlers live here (the shared fake gains its own
// deployments routes elsewhere); they keep deployments and statuses in memory, newest first.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { exampleResponse, paginate, startFakeGitHub, type FakeGitHub } from '@guarded-rollout/fake-github';
import { renderWatchdogReport, runWatchdog, type WatchdogOptions } from '../src/index.js';

/** The error a sweep fails with (the test fails if it resolves). */
async function failure(promise: Promise<unknown>): Promise<Error & { exitCode: number }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { exitCode: number };
  }
  throw new Error('expected the watchdog to fail');
}

interface Stored {
  deployment: Record<string, unknown> & { id: number; environment: string; created_at: string };
  statuses: Array<Record<string, unknown> & { state: string; created_at: string }>;
}

const TOKEN = 'ghs_watchdogTestToken123';
const now = new Date('2026-11-23T12:00:00Z');
let store: Stored[] = [];
let failStatusFor: number | undefined;

function addDeployment(
  id: number,
  environment: string,
  createdAt: string,
  states: Array<[string, string]>,
): void {
  const deployment = {
    ...(exampleResponse('repos/get-deployment', 200) as Record<string, unknown>),
    id,
    ref: `v1.${id}`,
    environment,
    created_at: createdAt,
    updated_at: createdAt,
  };
  const statuses = states
    .map(([state, at], i) => ({
      ...(exampleResponse('repos/get-deployment-status', 200) as Record<string, unknown>),
      id: id * 100 + i,
      state,
      created_at: at,
      updated_at: at,
      environment,
    }))
    .reverse(); // GitHub lists statuses newest first
  store.push({ deployment, statuses });
}

let fake: FakeGitHub;
beforeAll(async () => {
  fake = await startFakeGitHub({
    'repos/list-deployments': (req, f) => {
      const env = req.query.get('environment');
      const items = store
        .map((s) => s.deployment)
        .filter((d) => !env || d.environment === env)
        .sort((a, b) => b.created_at.localeCompare(a.created_at));
      return paginate(req, f, items);
    },
    'repos/list-deployment-statuses': (req, f) => {
      const found = store.find((s) => String(s.deployment.id) === req.params.deployment_id);
      if (!found) return { status: 404, body: { message: 'Not Found' } };
      return paginate(req, f, found.statuses);
    },
    'repos/create-deployment-status': (req) => {
      const found = store.find((s) => String(s.deployment.id) === req.params.deployment_id);
      if (!found) return { status: 404, body: { message: 'Not Found' } };
      if (failStatusFor === found.deployment.id)
        return { status: 403, body: { message: 'Resource not accessible by integration' } };
      const body = req.body as { state: string; description?: string; log_url?: string };
      const status = {
        ...(exampleResponse('repos/create-deployment-status', 201) as Record<string, unknown>),
        state: body.state,
        description: body.description ?? '',
        ...(body.log_url ? { log_url: body.log_url } : {}),
        created_at: now.toISOString(),
      };
      found.statuses.unshift(status);
      return { status: 201, body: status };
    },
  });
  fake.token = TOKEN;
});
afterAll(() => fake.stop());
afterEach(() => {
  const violations = fake.violations.splice(0);
  expect(violations).toEqual([]);
  store = [];
  failStatusFor = undefined;
  fake.requests.length = 0;
});

const options = (over: Partial<WatchdogOptions> = {}): WatchdogOptions => ({
  repository: 'acme/dhash',
  token: TOKEN,
  apiUrl: fake.url,
  environments: [],
  staleAfter: '90m',
  lookback: '7d',
  dryRun: false,
  now: () => now,
  ...over,
});

function seedTypicalHistory(): void {
  // Lost runner: started deploying at 09:00 and was never heard of again.
  addDeployment(1, 'production', '2026-11-23T09:00:00Z', [['in_progress', '2026-11-23T09:01:00Z']]);
  // Finished normally.
  addDeployment(2, 'production', '2026-11-23T07:00:00Z', [
    ['in_progress', '2026-11-23T07:01:00Z'],
    ['success', '2026-11-23T08:05:00Z'],
  ]);
  // Still inside its monitor window.
  addDeployment(3, 'staging', '2026-11-23T11:20:00Z', [['in_progress', '2026-11-23T11:21:00Z']]);
  // Killed before its first status.
  addDeployment(4, 'staging', '2026-11-23T06:00:00Z', []);
  // Stuck, but older than the lookback: out of scope.
  addDeployment(5, 'production', '2026-11-01T06:00:00Z', [['in_progress', '2026-11-01T06:01:00Z']]);
}

describe('runWatchdog', () => {
  it('marks deployments left in progress past the window as error, and only those', async () => {
    seedTypicalHistory();
    const report = await runWatchdog(options({ logUrl: 'https://github.com/acme/dhash/actions/runs/9' }));
    expect(report.checked).toBe(4);
    expect(report.stale.map((s) => [s.id, s.state, s.marked])).toEqual([
      [1, 'in_progress', true],
      [4, 'pending', true],
    ]);
    const first = store.find((s) => s.deployment.id === 1)!.statuses[0]!;
    expect(first.state).toBe('error');
    expect(first.description).toBe(
      'watchdog: still in_progress with no update since 2026-11-23T09:01:00Z (> 1h30m); runner lost or job killed',
    );
    expect(first.log_url).toBe('https://github.com/acme/dhash/actions/runs/9');
    expect(store.find((s) => s.deployment.id === 3)!.statuses[0]!.state).toBe('in_progress');
    expect(fake.count('repos/create-deployment-status')).toBe(2);
  });

  it('is idempotent: a second sweep finds nothing left to mark', async () => {
    seedTypicalHistory();
    await runWatchdog(options());
    const again = await runWatchdog(options());
    expect(again.stale).toEqual([]);
    expect(renderWatchdogReport(again)).toContain('No stuck deployments.');
  });

  it('in dry-run reports without writing anything', async () => {
    seedTypicalHistory();
    const report = await runWatchdog(options({ dryRun: true }));
    expect(report.stale.map((s) => [s.id, s.marked])).toEqual([
      [1, false],
      [4, false],
    ]);
    expect(fake.count('repos/create-deployment-status')).toBe(0);
    expect(renderWatchdogReport(report)).toContain('dry-run: not marked');
  });

  it('filters by environment', async () => {
    seedTypicalHistory();
    const report = await runWatchdog(options({ environments: ['staging'], dryRun: true }));
    expect(report.checked).toBe(2);
    expect(report.stale.map((s) => s.id)).toEqual([4]);
  });

  it('follows pagination across pages of 100 deployments', async () => {
    for (let i = 1; i <= 150; i++) {
      const at = new Date(now.getTime() - i * 60_000).toISOString();
      addDeployment(1000 + i, 'staging', at, [['success', at]]);
    }
    addDeployment(1, 'production', '2026-11-23T09:00:00Z', [['in_progress', '2026-11-23T09:01:00Z']]);
    const report = await runWatchdog(options({ dryRun: true }));
    expect(report.checked).toBe(151);
    expect(report.stale.map((s) => s.id)).toEqual([1]);
    expect(fake.count('repos/list-deployments')).toBe(2);
  });

  it('keeps going when one deployment cannot be marked, and says so', async () => {
    seedTypicalHistory();
    failStatusFor = 1;
    const report = await runWatchdog(options());
    expect(report.stale.map((s) => [s.id, s.marked])).toEqual([
      [1, false],
      [4, true],
    ]);
    expect(report.stale[0]!.error).toBe(
      'GitHub API POST /repos/acme/dhash/deployments/1/statuses answered 403: Resource not accessible by integration',
    );
    expect(renderWatchdogReport(report)).toContain('NOT marked: GitHub API POST');
  });

  it("fails with exit code 1 and GitHub's message on bad credentials, without echoing the token", async () => {
    const error = await failure(runWatchdog(options({ token: 'wrong-token' })));
    expect(error.message).toBe('GitHub API GET /repos/acme/dhash/deployments answered 401: Bad credentials');
    expect(error.exitCode).toBe(1);
    expect(error.message).not.toContain('wrong-token');
  });

  it.each([
    [{ staleAfter: '90' }, 'stale-after: "90" is not a duration'],
    [{ lookback: 'a week' }, 'lookback: "a week" is not a duration'],
    [{ lookback: '1h' }, 'lookback: "1h" must be longer than stale-after "90m"'],
    [{ repository: 'not a repo' }, 'repository: "not a repo" is not OWNER/REPO'],
    [{ token: '' }, 'no GitHub token: set GITHUB_TOKEN'],
  ])('refuses bad input %j with exit code 2', async (over, message) => {
    const error = await failure(runWatchdog(options(over as Partial<WatchdogOptions>)));
    expect(error.message).toContain(message);
    expect(error.exitCode).toBe(2);
    expect(fake.count()).toBe(0);
  });
});
