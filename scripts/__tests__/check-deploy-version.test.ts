// The version rule on a real repository: a clone of an "origin" with a default branch, tags, an
// unmerged branch and a pull-request ref that only exists on the remote.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { runCompositeRunStep } from '@guarded-rollout/runner-harness';

// Runner semantics (signals, /proc, bash, dash) are Linux's, as on ubuntu-latest; other OSes skip.
const describeOnLinux = process.platform === 'linux' ? describe : describe.skip;

const script = fileURLToPath(new URL('../../actions/check-version/check-deploy-version.sh', import.meta.url));
const env = {
  ...process.env,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_AUTHOR_NAME: 't',
  GIT_AUTHOR_EMAIL: 't@example.invalid',
  GIT_COMMITTER_NAME: 't',
  GIT_COMMITTER_EMAIL: 't@example.invalid',
  GITHUB_OUTPUT: '',
};
const git = (cwd: string, ...args: string[]): string =>
  execFileSync('git', args, { cwd, env, encoding: 'utf8' }).trim();
let root: string;
let clone: string;
const c: Record<string, string> = {};

beforeAll(() => {
  if (process.platform !== 'linux') return;
  root = mkdtempSync(join(tmpdir(), 'gr-version-rule-'));
  const origin = join(root, 'origin');
  git(root, 'init', '-q', '-b', 'main', origin);
  const commit = (name: string): string => {
    writeFileSync(join(origin, 'file'), name);
    git(origin, 'add', 'file');
    git(origin, 'commit', '-q', '-m', name);
    return git(origin, 'rev-parse', 'HEAD');
  };
  c.c1 = commit('c1');
  git(origin, 'tag', 'v1.0.0');
  c.c2 = commit('c2');
  git(origin, 'checkout', '-q', '-b', 'feature');
  c.c3 = commit('c3');
  git(origin, 'tag', '-a', 'v9.0.0-rc1', '-m', 'rc');
  git(origin, 'checkout', '-q', '-b', 'pr', 'main');
  c.c4 = commit('c4');
  git(origin, 'update-ref', 'refs/pull/7/head', c.c4);
  git(origin, 'checkout', '-q', 'main');
  git(origin, 'branch', '-q', '-D', 'pr');
  clone = join(root, 'release');
  git(root, 'clone', '-q', '--no-checkout', origin, clone);
}, 60_000);
afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

const run = (...args: string[]) => {
  const r = spawnSync('bash', [script, '--repo', clone, '--default-branch', 'main', ...args], {
    env,
    encoding: 'utf8',
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

describeOnLinux('check-deploy-version.sh', () => {
  it.each([
    ['v1.0.0', [], 0, 'tag', 'c1'],
    ['refs/tags/v1.0.0', [], 0, 'tag', 'c1'],
    ['v9.0.0-rc1', [], 0, 'tag', 'c3'],
    ['<c1>', [], 0, 'commit', 'c1'],
    ['<c2:7>', [], 0, 'commit', 'c2'],
    ['main', [], 0, 'commit', 'c2'],
    ['feature', [], 1, 'neither a tag nor reachable from the default branch', 'c3'],
    ['<c3>', [], 1, 'neither a tag nor reachable from the default branch', 'c3'],
    ['<c3>', ['--allow-unreachable'], 0, 'unreachable', 'c3'],
    ['refs/pull/7/head', [], 1, 'does not name a tag or commit in this repository', ''],
    ['refs/pull/7/head', ['--allow-unreachable'], 0, 'unreachable', 'c4'],
    ['nope', [], 1, 'does not name a tag or commit in this repository', ''],
    ['--upload-pack=touch', [], 2, 'is not a git ref name or commit SHA', ''],
    ['main..feature', [], 2, 'is not a git ref name or commit SHA', ''],
    ['main@{1}', [], 2, 'is not a git ref name or commit SHA', ''],
    ['', [], 2, 'input "version": empty', ''],
  ] as const)('%s %j → exit %i (%s)', (version, extra, code, expected, commitKey) => {
    const v = version.replace(/<(c\d)(?::(\d+))?>/, (_, k: string, n?: string) =>
      c[k]!.slice(0, n ? Number(n) : 40),
    );
    const r = run('--version', v, ...extra);
    expect(r.code).toBe(code);
    if (code === 0) {
      expect(r.out).toContain(`commit=${c[commitKey]}\nkind=${expected}\n`);
    } else {
      expect(r.out + r.err).toContain(expected);
      expect(r.out + r.err).toMatch(/::error::/);
      if (code === 1) expect(r.out).toContain('valid: a tag (e.g. v1.4.2), or a commit SHA or branch');
    }
    if (expected === 'unreachable') expect(r.out).toMatch(/::warning::deploying .* not reachable from main/);
  });

  it('checks the resolved commit out with --checkout, and writes GITHUB_OUTPUT', () => {
    const output = join(root, 'out');
    writeFileSync(output, '');
    const r = spawnSync(
      'bash',
      [script, '--repo', clone, '--default-branch', 'main', '--version', 'v1.0.0', '--checkout'],
      {
        env: { ...env, GITHUB_OUTPUT: output },
        encoding: 'utf8',
      },
    );
    expect(r.status).toBe(0);
    expect(git(clone, 'rev-parse', 'HEAD')).toBe(c.c1);
    expect(execFileSync('cat', [output], { encoding: 'utf8' })).toBe(`commit=${c.c1}\nkind=tag\n`);
  });

  it('names a missing default branch', () => {
    const r = spawnSync(
      'bash',
      [script, '--repo', clone, '--default-branch', 'trunk', '--version', 'v1.0.0'],
      { env, encoding: 'utf8' },
    );
    expect(r.status).toBe(2);
    expect(r.stdout).toContain("default branch 'trunk' not found");
  });
});

describeOnLinux('actions/check-version (the composite, run as the runner runs its run: step)', () => {
  const action = parse(
    readFileSync(fileURLToPath(new URL('../../actions/check-version/action.yml', import.meta.url)), 'utf8'),
  ) as {
    runs: { steps: { run: string; env: Record<string, string> }[] };
  };
  const step = action.runs.steps[0]!;
  // What the runner passes: the step's env: with the inputs' expressions evaluated.
  const envFor = (inputs: Record<string, string>): Record<string, string> => ({
    VERSION: inputs.version ?? '',
    DEFAULT_BRANCH: inputs['default-branch'] ?? 'main',
    REPOSITORY_PATH: inputs['repository-path'] ?? '.',
    ALLOW_UNREACHABLE: inputs['allow-unreachable'] ?? 'false',
    CHECKOUT: inputs.checkout ?? 'false',
    SCRIPT: fileURLToPath(new URL('../../actions/check-version/check-deploy-version.sh', import.meta.url)),
  });
  it('takes its inputs only through env: and sets commit/kind outputs', async () => {
    expect(Object.keys(step.env).sort()).toEqual([
      'ALLOW_UNREACHABLE',
      'CHECKOUT',
      'DEFAULT_BRANCH',
      'REPOSITORY_PATH',
      'SCRIPT',
      'VERSION',
    ]);
    const ok = await runCompositeRunStep(step.run, { workspace: clone, env: envFor({ version: 'v1.0.0' }) })
      .result;
    expect(ok.code).toBe(0);
    expect(ok.outputs).toEqual({ commit: c.c1, kind: 'tag' });
    // A hostile version string stays data: refused, nothing executed.
    const hostile = await runCompositeRunStep(step.run, {
      workspace: clone,
      env: envFor({ version: '$(touch pwned)' }),
    }).result;
    expect(hostile.code).toBe(2);
    expect(existsSync(join(clone, 'pwned'))).toBe(false);
  });
});
