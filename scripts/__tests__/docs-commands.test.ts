// Docs cannot rot: every shell block of the operator docs is run here, in order, in a scratch
// fixture (a service tree, the real sample DHash service under traffic, a fake GitHub, a git remote), and its
// exit code is asserted. A block is marked `<!-- docs-test [needs=a,b] [exit=N|any] -->`; an
// unmarked shell block fails the test. A block needing a feature that has not landed must fail with
// the CLI's "not available" message (listed in NOT_AVAILABLE), never be skipped.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  exampleResponse,
  paginate,
  startFakeGitHub,
  type FakeGitHub,
} from '../../packages/fake-github/src/index.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const DOCS = ['DEPLOYMENT_OPERATIONS_GUIDE.md', 'GUARDED_ROLLOUT_README.md', 'RELEASING.md'];

/**
 * Features the docs use whose CLI command is still the "not available" stub on this branch. Each is
 * verified to still be a stub (so an entry cannot outlive its feature); blocks needing one must
 * fail with "not available".
 */
const NOT_AVAILABLE: Record<string, string[]> = {};

interface DocBlock {
  doc: string;
  line: number;
  script: string;
  needs: string[];
  exit: number | 'any';
}

/** Shell blocks of a Markdown file with their docs-test markers. */
export function docBlocks(doc: string, text: string): { blocks: DocBlock[]; unmarked: string[] } {
  const lines = text.split('\n');
  const blocks: DocBlock[] = [];
  const unmarked: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^(\s*)```(bash|sh|shell|console)\s*$/.exec(lines[i]!);
    if (!fence) continue;
    const indent = fence[1]!.length;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !/^\s*```\s*$/.test(lines[j]!); j++) body.push(lines[j]!.slice(indent));
    // The marker is the nearest non-blank line above the fence.
    let k = i - 1;
    while (k >= 0 && lines[k]!.trim() === '') k--;
    const marker = k >= 0 ? /<!--\s*docs-test\b(.*?)-->/.exec(lines[k]!) : null;
    if (!marker) unmarked.push(`${doc}:${i + 1}`);
    else {
      const attrs = marker[1]!;
      const needs = /needs=([\w,-]+)/.exec(attrs)?.[1]?.split(',') ?? [];
      const exitText = /exit=(\d+|any)/.exec(attrs)?.[1] ?? '0';
      blocks.push({
        doc,
        line: i + 1,
        script: body.join('\n'),
        needs,
        exit: exitText === 'any' ? 'any' : Number(exitText),
      });
    }
    i = j;
  }
  return { blocks, unmarked };
}

const cliBundle = join(root, 'packages/cli/dist/index.js');

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name === '__tests__') continue;
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** The docs run the real CLI bundle; build it when missing or older than any package source. */
function ensureCliBundle(): void {
  const stale = !existsSync(cliBundle) || statSync(cliBundle).mtimeMs < newestSource(join(root, 'packages'));
  if (!stale) return;
  const build = spawnSync(process.execPath, ['scripts/build.mjs', 'packages/cli'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 280_000,
  });
  if (build.status !== 0) throw new Error(`building the CLI failed:\n${build.stdout}${build.stderr}`);
}

let fake: FakeGitHub;
const scratch: string[] = [];
/** The sample DHash service (examples/dhash-service) under its supervisor, with live traffic. */
let supervisor: ChildProcess | undefined;
let traffic: ChildProcess | undefined;
let serviceUrl = '';
const sample = join(root, 'examples/dhash-service/src');

async function startSampleService(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'docs-dhash-'));
  scratch.push(dir);
  const service = join(dir, 'dhash');
  const init = spawnSync(
    process.execPath,
    [join(sample, 'ctl.mjs'), 'init', '--root', service, '--fault', 'none'],
    {
      encoding: 'utf8',
    },
  );
  if (init.status !== 0) throw new Error(`ctl init failed: ${init.stderr}`);
  supervisor = spawn(
    process.execPath,
    [join(sample, 'supervisor.mjs'), '--root', service, '--log', join(dir, 'service.log')],
    {
      stdio: 'ignore',
    },
  );
  // Bounded waits: the supervisor publishes its port, then the service answers /health.
  const deadline = Date.now() + 20_000;
  let port: number | undefined;
  while (Date.now() < deadline && port === undefined) {
    try {
      port = (JSON.parse(readFileSync(join(service, 'supervisor.json'), 'utf8')) as { port: number }).port;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  if (port === undefined) throw new Error('the sample service supervisor did not start');
  serviceUrl = `http://127.0.0.1:${port}`;
  while (Date.now() < deadline) {
    if (
      await fetch(`${serviceUrl}/health`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    await new Promise((r) => setTimeout(r, 100));
  }
  traffic = spawn(
    process.execPath,
    [join(sample, 'traffic.mjs'), '--url', serviceUrl, '--seconds', '600', '--workers', '1'],
    {
      stdio: 'ignore',
    },
  );
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

beforeAll(async () => {
  if (process.platform === 'win32') return;
  ensureCliBundle();
  // One deployment abandoned three hours ago, for the watchdog example.
  const since = new Date(Date.now() - 3 * 3_600_000).toISOString();
  fake = await startFakeGitHub({
    'repos/list-deployments': (req, f) =>
      paginate(req, f, [
        {
          ...(exampleResponse('repos/get-deployment', 200) as object),
          id: 42,
          ref: 'v1.4.2',
          environment: 'production',
          created_at: since,
        },
      ]),
    'repos/list-deployment-statuses': (req, f) =>
      paginate(req, f, [
        {
          ...(exampleResponse('repos/get-deployment-status', 200) as object),
          state: 'in_progress',
          created_at: since,
        },
      ]),
  });
  await startSampleService();
}, 300_000);

afterAll(async () => {
  await stop(traffic);
  await stop(supervisor); // the supervisor stops its service process on SIGTERM
  await fake?.stop();
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
  expect([traffic, supervisor].filter((c) => c && c.exitCode === null && c.signalCode === null)).toEqual([]);
}, 30_000);

/** A scratch working directory like the repository root of an operator's checkout. */
function fixture(doc: string): { cwd: string; env: NodeJS.ProcessEnv } {
  const dir = mkdtempSync(join(tmpdir(), 'docs-test-'));
  scratch.push(dir);
  const cwd = join(dir, 'work');
  const bin = join(dir, 'bin');
  mkdirSync(join(cwd, 'scripts'), { recursive: true });
  mkdirSync(bin);
  writeFileSync(
    join(bin, 'guarded-rollout'),
    `#!/bin/sh\nexec "${process.execPath}" "${join(root, 'packages/cli/bin/guarded-rollout.js')}" "$@"\n`,
  );
  chmodSync(join(bin, 'guarded-rollout'), 0o755);
  copyFileSync(join(root, 'quality-gates-config.json'), join(cwd, 'quality-gates-config.json'));
  copyFileSync(
    join(root, 'action-templates/quality-gates.schema.json'),
    join(cwd, 'quality-gates.schema.json'),
  );
  symlinkSync(join(root, 'scripts/premerge-evidence.sh'), join(cwd, 'scripts/premerge-evidence.sh'));
  for (const name of ['deploy', 'migrate']) {
    writeFileSync(join(cwd, 'scripts', `${name}.sh`), `#!/bin/sh\necho "${name} $*"\n`);
    chmodSync(join(cwd, 'scripts', `${name}.sh`), 0o755);
  }
  const live = join(dir, 'srv-dhash');
  mkdirSync(join(live, 'config'), { recursive: true });
  writeFileSync(join(live, 'VERSION'), '1.4.1\n');
  writeFileSync(join(live, 'config/settings.json'), '{"hash_size": 8}\n');
  const env: NodeJS.ProcessEnv = {
    PATH: `${bin}:${process.env.PATH ?? ''}`,
    HOME: dir,
    LANG: 'C.UTF-8',
    DHASH_ROOT: live,
    DHASH_URL: serviceUrl,
    GITHUB_API_URL: fake.url,
    GITHUB_TOKEN: 'ghs_docsTestToken',
    GIT_AUTHOR_NAME: 'docs test',
    GIT_AUTHOR_EMAIL: 'docs@example.com',
    GIT_COMMITTER_NAME: 'docs test',
    GIT_COMMITTER_EMAIL: 'docs@example.com',
    npm_config_loglevel: 'error',
  };
  if (doc === 'RELEASING.md') {
    // A release repository with a bare remote standing in for GitHub.
    const git = (...args: string[]) => {
      const run = spawnSync('git', args, { cwd, env, encoding: 'utf8' });
      if (run.status !== 0) throw new Error(`git ${args.join(' ')}: ${run.stderr}`);
    };
    spawnSync('git', ['init', '-q', '--bare', join(dir, 'origin.git')]);
    writeFileSync(join(cwd, 'package.json'), '{\n  "name": "guarded-rollout",\n  "version": "1.2.2"\n}\n');
    git('init', '-q', '-b', 'main');
    git('add', '-A');
    git('commit', '-qm', 'v1.2.2');
    git('remote', 'add', 'origin', join(dir, 'origin.git'));
    git('tag', '-a', 'v1', '-m', 'v1 -> v1.2.2');
    git('push', '-q', 'origin', 'main', 'v1');
  }
  return { cwd, env };
}

/**
 * Runs a block in bash without blocking this process: the fake GitHub and the health service the
 * commands talk to live in this process's event loop.
 */
function runScript(
  script: string,
  ctx: { cwd: string; env: NodeJS.ProcessEnv },
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['--noprofile', '--norc', '-euo', 'pipefail', '-c', script], {
      cwd: ctx.cwd,
      env: ctx.env,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

const unavailable = (block: DocBlock): string[] => block.needs.filter((n) => n in NOT_AVAILABLE);

// The runbooks are bash (operators run them on Linux/macOS hosts); Windows CI runs the rest of the suite.
const describeOnPosix = process.platform === 'win32' ? describe.skip : describe;

describeOnPosix('documented commands', () => {
  it('runs every block for real unless NOT_AVAILABLE names its feature', () => {
    for (const doc of DOCS)
      for (const block of docBlocks(doc, readFileSync(join(root, doc), 'utf8')).blocks)
        for (const need of block.needs)
          expect({ block: `${doc}:${block.line}`, need, listed: need in NOT_AVAILABLE }).toMatchObject({
            listed: true,
          });
  });

  // Jest refuses an empty table, so the stub check only exists while something is still missing.
  const stillMissing = Object.entries(NOT_AVAILABLE);
  if (stillMissing.length)
    it.each(stillMissing)('%s has not landed: the CLI still says "not available"', (_feature, argv) => {
      const run = spawnSync(process.execPath, [join(root, 'packages/cli/bin/guarded-rollout.js'), ...argv], {
        encoding: 'utf8',
      });
      expect(run.status).toBe(2);
      expect(run.stderr).toContain('not available');
    });

  for (const doc of DOCS) {
    describe(doc, () => {
      const { blocks, unmarked } = docBlocks(doc, readFileSync(join(root, doc), 'utf8'));
      let ctx: { cwd: string; env: NodeJS.ProcessEnv };

      it('marks every shell block with <!-- docs-test -->', () => {
        expect(unmarked).toEqual([]);
        expect(blocks.length).toBeGreaterThan(0);
      });

      // Blocks run in document order in one working directory, like an operator's session.
      it.each(
        blocks.map(
          (b) =>
            [
              `line ${b.line}${unavailable(b).length ? ` (expected to fail: ${unavailable(b).join(', ')} not available)` : ''}`,
              b,
            ] as const,
        ),
      )(
        '%s',
        async (_title, block) => {
          ctx ??= fixture(doc);
          const run = await runScript(block.script, ctx);
          const output = `${run.stdout}${run.stderr}`;
          const report = { script: block.script, status: run.status, output: output.slice(-2000) };
          if (unavailable(block).length) {
            expect(report.status).not.toBe(0);
            expect(output).toContain('not available');
          } else if (block.exit !== 'any') {
            expect(report).toMatchObject({ status: block.exit });
          } else {
            expect(report.status).not.toBeNull(); // finished, not killed
          }
        },
        130_000,
      );
    });
  }
});

describe('docBlocks', () => {
  it('finds marked and unmarked blocks, indented ones included, and reads needs/exit', () => {
    const md = [
      '<!-- docs-test needs=backup,rollback exit=1 -->',
      '',
      '```bash',
      'a',
      '```',
      '1. step',
      '   <!-- docs-test -->',
      '   ```bash',
      '   b',
      '   ```',
      '```sh',
      'c',
      '```',
      '```yaml',
      'd: 1',
      '```',
    ].join('\n');
    const { blocks, unmarked } = docBlocks('x.md', md);
    expect(blocks.map((b) => [b.script, b.needs, b.exit])).toEqual([
      ['a', ['backup', 'rollback'], 1],
      ['b', [], 0],
    ]);
    expect(unmarked).toEqual(['x.md:11']);
  });
});
