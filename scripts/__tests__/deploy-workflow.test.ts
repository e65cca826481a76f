// deploy.yml as shipped: the preflight's version step runs (through the runner harness, with the
// env the runner would give it) against a real "release" clone, and the deploy job takes its
// actions from the default branch and the release from exactly the commit preflight checked.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { runCompositeRunStep } from '@guarded-rollout/runner-harness';

// Runner semantics (bash, git) are Linux's, as on ubuntu-latest; other OSes skip.
const describeOnLinux = process.platform === 'linux' ? describe : describe.skip;

type Step = {
  id?: string;
  uses?: string;
  run?: string;
  env?: Record<string, string>;
  with?: Record<string, string>;
};
type Job = { steps: Step[]; needs?: string; environment?: unknown; outputs?: Record<string, string> };
const repo = fileURLToPath(new URL('../..', import.meta.url));
const wf = parse(readFileSync(join(repo, '.github/workflows/deploy.yml'), 'utf8')) as {
  jobs: Record<string, Job>;
};
const gitEnv = {
  ...process.env,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_NAME: 't',
  GIT_AUTHOR_EMAIL: 't@example.invalid',
  GIT_COMMITTER_NAME: 't',
  GIT_COMMITTER_EMAIL: 't@example.invalid',
};
const git = (cwd: string, ...args: string[]): string =>
  execFileSync('git', args, { cwd, env: gitEnv, encoding: 'utf8' }).trim();

let root: string;
let ws: string;
const commits: Record<string, string> = {};
beforeAll(() => {
  if (process.platform !== 'linux') return;
  root = mkdtempSync(join(tmpdir(), 'gr-deploy-wf-'));
  const origin = join(root, 'origin');
  git(root, 'init', '-q', '-b', 'main', origin);
  writeFileSync(join(origin, 'app'), '1');
  git(origin, 'add', 'app');
  git(origin, 'commit', '-q', '-m', 'one');
  git(origin, 'tag', 'v1.0.0');
  commits.tag = git(origin, 'rev-parse', 'HEAD');
  git(origin, 'checkout', '-q', '-b', 'feature');
  writeFileSync(join(origin, 'app'), '2');
  git(origin, 'commit', '-q', '-am', 'unmerged');
  commits.unmerged = git(origin, 'rev-parse', 'HEAD');
  git(origin, 'checkout', '-q', 'main');
  // The workspace the preflight job has: suite/ (default branch) and release/ (full clone).
  ws = join(root, 'ws');
  mkdirSync(join(ws, 'suite/actions'), { recursive: true });
  cpSync(join(repo, 'actions/check-version'), join(ws, 'suite/actions/check-version'), { recursive: true });
  git(ws, 'clone', '-q', origin, 'release');
}, 60_000);
afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

describeOnLinux('deploy.yml', () => {
  const versionStep = wf.jobs.preflight!.steps.find((s) => s.id === 'version')!;
  // The runner evaluates the step's env: expressions; these are the values it would pass.
  const run = (version: string, allow = 'false') =>
    runCompositeRunStep(versionStep.run!, {
      workspace: ws,
      env: { VERSION: version, DEFAULT_BRANCH: 'main', ALLOW_UNREACHABLE: allow },
    }).result;

  it('preflight passes a tag and hands its commit to the deploy job', async () => {
    const r = await run('v1.0.0');
    expect(r.code).toBe(0);
    expect(r.outputs).toEqual({ commit: commits.tag, kind: 'tag' });
    expect(wf.jobs.preflight!.outputs).toEqual({ commit: '${{ steps.version.outputs.commit }}' });
  });

  it.each([
    ['an unmerged branch', 'feature', 1, /neither a tag nor reachable from the default branch 'main'/],
    ['a pull-request ref', 'refs/pull/1/head', 1, /does not name a tag or commit/],
    ['a shell injection attempt', '$(touch pwned)', 2, /is not a git ref name or commit SHA/],
  ])('preflight refuses %s before any approval or secret', async (_what, version, code, message) => {
    const r = await run(version);
    expect(r.code).toBe(code);
    expect(r.stdout).toMatch(message);
    expect(wf.jobs.preflight!.environment).toBeUndefined();
  });

  it('allow-unreachable-version lets an unmerged commit through with a warning', async () => {
    const r = await run('feature', 'true');
    expect(r.code).toBe(0);
    expect(r.outputs).toEqual({ commit: commits.unmerged, kind: 'unreachable' });
    expect(r.commands.warnings.join('\n')).toMatch(
      /not reachable from main: allowed by allow-unreachable-version/,
    );
  });

  it('the deploy job runs the suite from the default branch and the release at the checked commit under release/', () => {
    const deploy = wf.jobs.deploy!;
    expect(deploy.needs).toBe('preflight');
    const checkouts = deploy.steps.filter((s) => s.uses?.startsWith('actions/checkout@'));
    expect(checkouts.map((s) => [s.with?.ref, s.with?.path])).toEqual([
      ['${{ github.event.repository.default_branch }}', undefined],
      ['${{ needs.preflight.outputs.commit }}', 'release'],
    ]);
    const guarded = deploy.steps.find((s) => s.uses === './actions/guarded-deploy')!;
    expect(guarded.with).toMatchObject({
      ref: '${{ needs.preflight.outputs.commit }}',
      'gates-config': 'quality-gates-config.json',
      'rollout-config': 'guarded-rollout.config.json',
    });
  });
});
