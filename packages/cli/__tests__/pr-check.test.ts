import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { FakeGitHub, PullsState } from '@guarded-rollout/fake-github';
import { completeBody, TEMPLATE } from '../../premerge/__tests__/bodies.js';
import { premergeBundle } from '../../premerge/__tests__/premerge-bundle.js';
import { startWorld, TOKEN, type World } from '../../premerge/__tests__/pr-check-world.js';
import { cli } from './run-cli.js';

const HEAD = 'c'.repeat(40);
let world: World;
let fake: FakeGitHub;
let gh: PullsState;
let repoDir: string;

beforeAll(async () => {
  world = await startWorld();
  fake = world.fake;
  gh = world.gh;
  gh.addPull({ number: 12, body: completeBody(), author: 'author', headSha: HEAD });
  world.seedPremerge(HEAD, await premergeBundle({ commit: HEAD }));
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
  await world.stop();
  rmSync(repoDir, { recursive: true, force: true });
});
afterEach(() => expect(fake.violations).toEqual([]));

const env = () => ({ GITHUB_TOKEN: TOKEN, GITHUB_API_URL: fake.url });

describe('guarded-rollout pr-check', () => {
  it('reads the roster from .github/guarded-rollout.yml and exits 1 while waiting for approvals', async () => {
    const run = await cli(['pr-check', '--repo', 'acme/dhash', '--pr', '12'], { cwd: repoDir, env: env() });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/acme\/dhash#12 at ccccccc: pending/);
    expect(run.stdout).toMatch(/approvals: 1 more approval/);
    expect(world.checks.runs).toHaveLength(0); // read-only without --post-check-run
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
    expect(world.checks.on(HEAD)).toHaveLength(1);
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

  it('exits 2 naming the team and "Members: read" when a roster team does not exist', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pr-check-team-'));
    mkdirSync(join(dir, '.github'));
    writeFileSync(
      join(dir, '.github/guarded-rollout.yml'),
      'roster:\n  sre: [acme/no-such-team]\n  operators: [ops-olga]\n',
    );
    try {
      const run = await cli(['pr-check', '--repo', 'acme/dhash', '--pr', '12'], {
        cwd: dir,
        env: { ...env(), GUARDED_ROLLOUT_TEAM_TOKEN: TOKEN },
      });
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/team acme\/no-such-team not found \(404\).*"Members: read"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
