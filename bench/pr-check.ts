// Benchmark: GitHub API requests and wall time per pr-check evaluation of a busy PR (150 reviews,
// 300 comments) against the local fake, versus a naive client that pages everything with GitHub's
// default per_page=30 and no `since` (the reference). Run with `node bench/pr-check.mjs`.
import { performance } from 'node:perf_hooks';
import { installPullRoutes, startFakeGitHub } from '../packages/fake-github/src/index.js';
import { createGitHubClient, defaultPolicy, runPrCheck } from '../packages/premerge/src/index.js';

const HEAD = 'e'.repeat(40);
const PUSHED = Date.parse('2026-11-23T10:00:00Z');
const at = (minutes: number): string =>
  new Date(PUSHED + minutes * 60_000).toISOString().replace(/\.000Z$/, 'Z');
const RUNS = 15;

function body(): string {
  const items = [
    'Backups',
    '`deploy-dryrun.log`',
    '`migrate-dryrun.log`',
    '`backup-dryrun.log`',
    '`rollback-dryrun.log`',
    '`postdeploy-smoketests.log`',
    '`test_logging.log`',
    '`premerge_artifacts/`',
    'Cross-platform validation',
    'Security & quality checks',
    'Integration tests',
    'Branch protection',
    'Quality gates',
    'Monitoring window',
    'Notification setup',
    'Environment variables',
    'Risk level: Low',
    'Ready for deployment: YES',
  ];
  return items.map((i) => `- [x] ${i}`).join('\n');
}

interface Scenario {
  name: string;
  operatorReview: boolean;
}

async function measure(scenario: Scenario): Promise<{
  scenario: string;
  ours: number;
  oursMs: number;
  naive: number;
  naiveMs: number;
  result: string;
  violations: number;
}> {
  const fake = await startFakeGitHub();
  fake.token = 'bench-token';
  const gh = installPullRoutes(fake);
  gh.addPull({ number: 1, body: body(), author: 'author', headSha: HEAD, labels: ['deploy'] });
  gh.addWorkflowRun({
    headSha: HEAD,
    createdAt: at(0),
    artifacts: [
      'backups',
      'deploy-dryrun',
      'migrate-dryrun',
      'backup-dryrun',
      'rollback-dryrun',
      'postdeploy-smoketests',
      'test_logging',
      'premerge_artifacts',
    ],
  });
  for (let i = 0; i < 147; i++)
    gh.addReview(1, {
      user: `reviewer-${i % 40}`,
      state: 'COMMENTED',
      commitId: HEAD,
      submittedAt: at(1 + i / 100),
    });
  gh.addReview(1, { user: 'sre-sam', state: 'APPROVED', commitId: HEAD, submittedAt: at(3) });
  gh.addReview(1, { user: 'dev-dan', state: 'APPROVED', commitId: HEAD, submittedAt: at(4) });
  gh.addReview(1, {
    user: scenario.operatorReview ? 'ops-olga' : 'dev-dora',
    state: 'APPROVED',
    commitId: HEAD,
    submittedAt: at(5),
  });
  // Worst case for comments: all 300 are newer than the push, so `since` cannot drop any.
  for (let i = 0; i < 299; i++)
    gh.addComment(1, { user: `commenter-${i % 50}`, body: `comment ${i}`, createdAt: at(10 + i / 10) });
  gh.addComment(1, { user: 'ops-olga', body: '/signoff', createdAt: at(50) });
  const policy = defaultPolicy();
  policy.roster = { sre: ['sre-sam'], operators: ['ops-olga'] };

  let ours = 0;
  let result = '';
  const oursTimes: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const before = fake.count();
    const started = performance.now();
    const outcome = await runPrCheck({
      repo: 'acme/dhash',
      pull: 1,
      token: 'bench-token',
      apiUrl: fake.url,
      policy,
      postCheckRun: true,
    });
    oursTimes.push(performance.now() - started);
    ours = fake.count() - before; // the last run: check run exists, so list + update
    result = outcome.evaluation.result;
  }

  // Reference: page through everything with GitHub's defaults, as a first implementation would.
  const client = createGitHubClient('bench-token', fake.url);
  let naive = 0;
  const naiveTimes: number[] = [];
  const ref = { owner: 'acme', repo: 'dhash' };
  for (let i = 0; i < RUNS; i++) {
    const before = fake.count();
    const started = performance.now();
    await client.request('GET /repos/{owner}/{repo}/pulls/{pull_number}', { ...ref, pull_number: 1 });
    await client.paginate('GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews', {
      ...ref,
      pull_number: 1,
    });
    await client.paginate('GET /repos/{owner}/{repo}/issues/{issue_number}/comments', {
      ...ref,
      issue_number: 1,
    });
    const runs = await client.request('GET /repos/{owner}/{repo}/actions/runs', { ...ref, head_sha: HEAD });
    await client.request('GET /repos/{owner}/{repo}/actions/runs/{run_id}/artifacts', {
      ...ref,
      run_id: Number(runs.data.workflow_runs[0]!.id),
    });
    const checks = await client.request('GET /repos/{owner}/{repo}/commits/{ref}/check-runs', {
      ...ref,
      ref: HEAD,
      check_name: 'guarded-rollout / pr-check',
    });
    await client.request('PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}', {
      ...ref,
      check_run_id: Number(checks.data.check_runs[0]!.id),
      status: 'in_progress',
    });
    naiveTimes.push(performance.now() - started);
    naive = fake.count() - before;
  }
  const violations = fake.violations.length;
  await fake.stop();
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return {
    scenario: scenario.name,
    ours,
    oursMs: median(oursTimes),
    naive,
    naiveMs: median(naiveTimes),
    result,
    violations,
  };
}

const rows = [];
for (const scenario of [
  { name: '150 reviews + 300 comments, sign-off by /signoff comment (worst case)', operatorReview: false },
  { name: '150 reviews + 300 comments, sign-off by operator review', operatorReview: true },
]) {
  rows.push(await measure(scenario));
}
const peakRssMb = (process.resourceUsage().maxRSS / 1024).toFixed(0);
const lines = [
  '| scenario | result | pr-check requests | pr-check median ms | naive requests (per_page=30) | naive median ms | requests ratio | fake violations |',
  '|---|---|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.scenario} | ${r.result} | ${r.ours} | ${r.oursMs.toFixed(1)} | ${r.naive} | ${r.naiveMs.toFixed(1)} | ${(r.ours / r.naive).toFixed(2)} | ${r.violations} |`,
  ),
];
console.log(lines.join('\n'));
console.log(
  `\n${RUNS} evaluations per scenario against the local fake on 127.0.0.1; peak RSS ${peakRssMb} MB (whole process, fake included).`,
);
const worst = rows[0]!;
const ok = rows.every((r) => r.ours <= 10 && r.oursMs < 1000 && r.violations === 0);
console.log(
  ok
    ? `budget met: ≤ 10 requests and < 1 s per evaluation (worst case ${worst.ours} requests, ${worst.oursMs.toFixed(0)} ms)`
    : 'BUDGET MISSED',
);
process.exitCode = ok ? 0 : 1;
