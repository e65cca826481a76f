// Benchmark of pr-check (`node bench/pr-check.mjs`):
// 1. GitHub API requests and wall time per evaluation of a busy PR (150 reviews, 300 comments all
//    newer than the push, team rosters, evidence bundle) against the OpenAPI-validated fake, versus
//    a naive client that pages everything with GitHub's default per_page=30.
// 2. Time to judge adversarial PR bodies of up to 65,536 characters (GitHub's limit) with the line
//    scanner, versus micromark + mdast (GFM) on the same body in a child process (10 s cap).
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import {
  ArtifactBlobs,
  CheckRunStore,
  installArtifactRoutes,
  installCheckRunRoutes,
  installPullRoutes,
  installTeamMemberRoutes,
  startFakeGitHub,
} from '../packages/fake-github/src/index.js';
import {
  MAX_BODY_CHARS,
  createGitHubClient,
  defaultPolicy,
  evaluateChecklist,
  runPrCheck,
} from '../packages/premerge/src/index.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fill } from '../packages/premerge/__tests__/fill.js';
import { premergeBundle } from '../packages/premerge/__tests__/premerge-bundle.js';

// Run from the repository root (bench/pr-check.mjs does).
const root = process.cwd();
const SEED = readFileSync(join(root, 'packages/premerge/__tests__/fixtures/seed-pr-template.md'), 'utf8');
const seedBody = (): string => fill(SEED);
const HEAD = 'e'.repeat(40);
const PUSHED = Date.parse('2026-11-23T10:00:00Z');
const at = (minutes: number): string =>
  new Date(PUSHED + minutes * 60_000).toISOString().replace(/\.000Z$/, 'Z');
const RUNS = 9;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

type SignoffBy = 'comment' | 'review' | 'none';

async function measureRequests(signoff: SignoffBy) {
  const fake = await startFakeGitHub();
  fake.token = 'bench-token';
  const blobs = await new ArtifactBlobs().start();
  const gh = installPullRoutes(fake);
  const checks = installCheckRunRoutes(fake, new CheckRunStore());
  installTeamMemberRoutes(fake, gh);
  installArtifactRoutes(fake, {
    listArtifacts: () =>
      [...gh.artifacts.entries()].flatMap(([runId, list]) =>
        list.map((a) => ({
          id: a.id as number,
          name: a.name as string,
          sizeInBytes: a.size_in_bytes as number,
          createdAt: '2026-11-23T10:30:00Z',
          expiresAt: '2027-02-21T10:30:00Z',
          runId,
          headSha: HEAD,
          headBranch: 'feature',
        })),
      ),
    downloadUrl: (id) => blobs.signedUrl(id),
  });
  gh.setTeam('acme', 'sre', ['sre-sam', ...Array.from({ length: 30 }, (_, i) => `sre-${i}`)]);
  gh.setTeam('acme', 'ops', ['ops-olga', ...Array.from({ length: 30 }, (_, i) => `ops-${i}`)]);
  gh.addPull({ number: 1, body: seedBody(), author: 'author', headSha: HEAD, labels: ['deploy'] });
  const run = gh.addWorkflowRun({ headSha: HEAD, createdAt: at(0), artifacts: ['premerge_artifacts'] });
  const zip = await premergeBundle({ commit: HEAD });
  for (const a of gh.artifacts.get(run.id as number)!) {
    a.size_in_bytes = zip.length;
    blobs.zips.set(a.id as number, zip);
  }
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
    user: signoff === 'review' ? 'ops-olga' : 'dev-dora',
    state: 'APPROVED',
    commitId: HEAD,
    submittedAt: at(5),
  });
  // All 300 comments are newer than the push, so `since` cannot drop any.
  for (let i = 0; i < 299; i++)
    gh.addComment(1, { user: `commenter-${i % 50}`, body: `comment ${i}`, createdAt: at(10 + i / 10) });
  gh.addComment(1, {
    user: signoff === 'comment' ? 'ops-olga' : 'commenter-1',
    body: signoff === 'comment' ? '/signoff' : 'lgtm',
    createdAt: at(50),
  });
  const policy = defaultPolicy();
  policy.roster = { sre: ['@acme/sre'], operators: ['@acme/ops'] };

  const counts: number[] = [];
  const times: number[] = [];
  let result = '';
  for (let i = 0; i < RUNS; i++) {
    const before = fake.count();
    const started = performance.now();
    const outcome = await runPrCheck({
      repo: 'acme/dhash',
      pull: 1,
      token: 'bench-token',
      teamToken: 'bench-token',
      apiUrl: fake.url,
      policy,
      postCheckRun: true,
    });
    times.push(performance.now() - started);
    counts.push(fake.count() - before);
    result = outcome.evaluation.result;
  }

  // Reference: everything paged with GitHub's defaults, per-user team lookups, no `since`.
  const client = createGitHubClient('bench-token', fake.url);
  const ref = { owner: 'acme', repo: 'dhash' };
  const before = fake.count();
  const started = performance.now();
  await client.request('GET /repos/{owner}/{repo}/pulls/{pull_number}', { ...ref, pull_number: 1 });
  await client.paginate('GET /repos/{owner}/{repo}/pulls/{pull_number}/reviews', { ...ref, pull_number: 1 });
  await client.paginate('GET /repos/{owner}/{repo}/issues/{issue_number}/comments', {
    ...ref,
    issue_number: 1,
  });
  const runs = await client.request('GET /repos/{owner}/{repo}/actions/runs', { ...ref, head_sha: HEAD });
  const artifacts = await client.request('GET /repos/{owner}/{repo}/actions/runs/{run_id}/artifacts', {
    ...ref,
    run_id: Number(runs.data.workflow_runs[0]!.id),
  });
  await client.request('GET /repos/{owner}/{repo}/actions/artifacts/{artifact_id}/{archive_format}', {
    ...ref,
    artifact_id: Number(artifacts.data.artifacts[0]!.id),
    archive_format: 'zip',
  });
  await client.paginate('GET /orgs/{org}/teams/{team_slug}/members', { org: 'acme', team_slug: 'sre' });
  await client.paginate('GET /orgs/{org}/teams/{team_slug}/members', { org: 'acme', team_slug: 'ops' });
  const listed = await client.request('GET /repos/{owner}/{repo}/commits/{ref}/check-runs', {
    ...ref,
    ref: HEAD,
  });
  await client.request('PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}', {
    ...ref,
    check_run_id: Number(listed.data.check_runs[0]!.id),
    status: 'completed',
    conclusion: 'success',
  });
  const naiveMs = performance.now() - started;
  const naive = fake.count() - before;
  const violations = fake.violations.length;
  const oneRun = checks.on(HEAD).length === 1;
  await blobs.stop();
  await fake.stop();
  return {
    signoff,
    result,
    first: counts[0]!,
    repeat: median(counts.slice(1)),
    ms: median(times),
    naive,
    naiveMs,
    violations,
    oneRun,
  };
}

const limit = MAX_BODY_CHARS;
const pad = (s: string): string => s.slice(0, limit);
const bodies: [string, string][] = [
  ['seed template, correctly filled', seedBody()],
  ['65,528 nested quotes before a box', `${'>'.repeat(limit - 8)} - [x] a`],
  ['64 KB of _* (emphasis runs)', '_*'.repeat(limit / 2)],
  ['64 KB of **a__ (unclosed emphasis)', pad('**a__'.repeat(limit / 5 + 1))],
  ['64 KB of [( (unclosed links)', pad(`- [x] ${'[('.repeat(limit / 2)}`)],
  ['8,192 boxes (64 KB)', '- [x] a\n'.repeat(limit / 8)],
  [
    '4,000 nested list levels',
    pad(Array.from({ length: 4000 }, (_, i) => `${' '.repeat(Math.min(i, 12))}- [x] a`).join('\n')),
  ],
  ['64 KB heading of #s', pad(`# ${'# '.repeat(limit / 2)}`)],
  ['64 KB of <!-- (unclosed comments)', '<!--'.repeat(limit / 4)],
  ['50,000 boxes (400 KB): refused', '- [x] a\n'.repeat(50_000)],
];
const policy = defaultPolicy();
const reference = join(root, 'bench/pr-check-markdown-reference.js');
const bodyRows = bodies.map(([name, body]) => {
  const times: number[] = [];
  let outcome = '';
  for (let i = 0; i < 5; i++) {
    const started = performance.now();
    const { rules } = evaluateChecklist(body, policy, true);
    times.push(performance.now() - started);
    outcome = rules.some((r) => r.status === 'fail')
      ? rules[0]!.reason.includes('GitHub allows')
        ? 'refused'
        : 'fail'
      : 'pass';
  }
  const ref = spawnSync(process.execPath, ['--stack-size=984', reference], {
    input: body,
    timeout: 10_000,
    encoding: 'utf8',
  });
  let refText: string;
  if (ref.error || ref.signal) refText = '> 10 s (killed)';
  else {
    try {
      const parsed = JSON.parse(ref.stdout.trim()) as { ms?: number; error?: string };
      refText = parsed.ms !== undefined ? `${parsed.ms.toFixed(1)} ms` : `threw: ${parsed.error}`;
    } catch {
      refText = `exit ${ref.status}`;
    }
  }
  return { name, chars: body.length, ms: median(times), max: Math.max(...times), outcome, refText };
});

const requestRows = [];
for (const signoff of ['comment', 'review', 'none'] as const)
  requestRows.push(await measureRequests(signoff));

console.log(
  '### Requests per evaluation: 150 reviews, 300 comments (all after the push), team rosters, evidence bundle\n',
);
console.log(
  '| sign-off | result | requests (first evaluation) | requests (repeat) | median ms | naive client requests | naive ms | fake violations |',
);
console.log('|---|---|---|---|---|---|---|---|');
for (const r of requestRows)
  console.log(
    `| ${r.signoff} | ${r.result} | ${r.first} | ${r.repeat} | ${r.ms.toFixed(0)} | ${r.naive} | ${r.naiveMs.toFixed(0)} | ${r.violations} |`,
  );
console.log('\n### Judging a PR body (checklist rules, median of 5) vs micromark + mdast GFM parse alone\n');
console.log('| body | chars | ours median ms | ours max ms | verdict | micromark + mdast |');
console.log('|---|---|---|---|---|---|');
for (const r of bodyRows)
  console.log(
    `| ${r.name} | ${r.chars} | ${r.ms.toFixed(1)} | ${r.max.toFixed(1)} | ${r.outcome} | ${r.refText} |`,
  );
const worstBody = Math.max(...bodyRows.map((r) => r.max));
const worstRequests = Math.max(...requestRows.filter((r) => r.signoff !== 'none').map((r) => r.first));
const ok =
  worstBody <= 1000 && worstRequests <= 12 && requestRows.every((r) => r.violations === 0 && r.oneRun);
console.log(
  `\npeak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB; worst body ${worstBody.toFixed(1)} ms (budget 1000); worst requests with a sign-off ${worstRequests} (budget 12)`,
);
console.log(ok ? 'budget met' : 'BUDGET MISSED');
process.exitCode = ok ? 0 : 1;
