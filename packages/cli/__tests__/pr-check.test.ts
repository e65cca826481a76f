import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import {
  installPullRoutes,
  PullsState,
  startFakeGitHub,
  type FakeGitHub,
} from '@guarded-rollout/fake-github';
import { completeBody, TEMPLATE } from '../../premerge/__tests__/bodies.js';
import { cli } from './run-cli.js';

const HEAD = 'c'.repeat(40);
let fake: FakeGitHub;
let gh: PullsState;
let repoDir: string;

beforeAll(async () => {
  fake = await startFakeGitHub();
  fake.token = 'ghs_cli_token';
  gh = installPullRoutes(fake);
  gh.addPull({ number: 12, body: completeBody(), author: 'author', headSha: HEAD });
  gh.addWorkflowRun({
    headSha: HEAD,
    createdAt: '2026-11-23T10:00:00Z',
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
  gh.addReview(12, {
    user: 'sre-sam',
    state: 'APPROVED',
    commitId: HEAD,
    submittedAt: '2026-11-23T10:05:00Z',
  });
  repoDir = mkdtempSync(join(tmpdir(), 'pr-check-repo-'));
  mkdirSync(join(repoDir, '.github'));
  writeFileSync(
    join(repoDir, '.github/guarded-rollout.yml'),
    'roster:\n  sre: [sre-sam]\n  operators: [ops-olga]\n',
  );
});
afterAll(async () => {
  await fake.stop();
  rmSync(repoDir, { recursive: true, force: true });
});
afterEach(() => expect(fake.violations).toEqual([]));

const env = () => ({ GITHUB_TOKEN: 'ghs_cli_token', GITHUB_API_URL: fake.url });

describe('guarded-rollout pr-check', () => {
  it('reads the roster from .github/guarded-rollout.yml and exits 1 while waiting for approvals', async () => {
    const run = await cli(['pr-check', '--repo', 'acme/dhash', '--pr', '12'], { cwd: repoDir, env: env() });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/acme\/dhash#12 at ccccccc: pending/);
    expect(run.stdout).toMatch(/approvals: 1 more approval/);
    expect(gh.checkRuns).toHaveLength(0); // read-only without --post-check-run
  });

  it('exits 0 when everything is in place, and posts the check run when asked', async () => {
    gh.addReview(12, {
      user: 'ops-olga',
      state: 'APPROVED',
      commitId: HEAD,
      submittedAt: '2026-11-23T10:06:00Z',
    });
    const run = await cli(['pr-check', '--repo', 'acme/dhash', '--pr', '12', '--post-check-run', '--json'], {
      cwd: repoDir,
      env: env(),
    });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      result: 'success',
      missing: [],
      checkRun: { created: true },
    });
    expect(gh.checkRunsFor(HEAD)).toHaveLength(1);
  });

  it.each([
    [['--pr', 'abc'], /--pr "abc" is not a pull request number/],
    [['--pr', '0'], /--pr "0" is not a pull request number/],
    [['--pr', '-3'], /--pr "-3" is not a pull request number/],
    [['--pr', '1.5'], /--pr "1.5" is not a pull request number/],
  ])('rejects a bad --pr (%j) with exit 2', async (args, error) => {
    const run = await cli(['pr-check', '--repo', 'acme/dhash', ...args], { cwd: repoDir, env: env() });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(error);
  });

  it('rejects a bad --repo, a missing token and a malformed roster file with exit 2', async () => {
    expect(
      (await cli(['pr-check', '--repo', 'dhash', '--pr', '12'], { cwd: repoDir, env: env() })).stderr,
    ).toMatch(/--repo "dhash" is not of the form OWNER\/REPO/);
    const noToken = await cli(['pr-check', '--repo', 'acme/dhash', '--pr', '12'], {
      cwd: repoDir,
      env: { GITHUB_API_URL: fake.url },
    });
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toMatch(/no GitHub token: set GITHUB_TOKEN/);
    writeFileSync(
      join(repoDir, 'bad.yml'),
      'roster:\n  sre: sre-sam\npr-check:\n  required-approvals: two\n',
    );
    const bad = await cli(['pr-check', '--repo', 'acme/dhash', '--pr', '12', '--config', 'bad.yml'], {
      cwd: repoDir,
      env: env(),
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/bad\.yml: 2 problems/);
    expect(bad.stderr).toMatch(/roster\.sre: "sre-sam" is not of type array/);
    expect(bad.stderr).toMatch(/pr-check\.required-approvals: "two" is not of type integer/);
  });

  it('names a PR that does not exist', async () => {
    const run = await cli(['pr-check', '--repo', 'acme/dhash', '--pr', '404'], { cwd: repoDir, env: env() });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/acme\/dhash#404 not found/);
  });

  it('checks a description offline with --body-file (no GitHub, no token)', async () => {
    writeFileSync(join(repoDir, 'PR.md'), completeBody());
    writeFileSync(join(repoDir, 'TEMPLATE.md'), TEMPLATE);
    const before = fake.count();
    const good = await cli(['pr-check', '--body-file', 'PR.md', '--deploy'], { cwd: repoDir, env: {} });
    expect(good.code).toBe(0);
    expect(good.stdout).toMatch(/PR\.md: success/);
    const bad = await cli(['pr-check', '--body-file', 'TEMPLATE.md', '--json'], { cwd: repoDir, env: {} });
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout).missing).toContain('checklist: exactly one risk level');
    expect(fake.count()).toBe(before);
    const missing = await cli(['pr-check', '--body-file', 'nope.md'], { cwd: repoDir, env: {} });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/nope\.md: cannot read the PR description \(ENOENT\)/);
  });

  it('asks for --repo and --pr when neither they nor --body-file are given', async () => {
    const run = await cli(['pr-check'], { cwd: repoDir, env: env() });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/needs --repo OWNER\/REPO and --pr N/);
  });
});
