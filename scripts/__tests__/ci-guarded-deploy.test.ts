// ci.yml's action-guarded-deploy job, step by step as the runner runs it: the run: step that starts
// the sample service with traffic (bash), the guarded-deploy bundle as a node24 action with the
// job's `with:` (runtime token for the artifact upload), then the check step on its outputs. Only
// the port differs (a free loopback port instead of 8080) and `${{ }}` are evaluated here.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import {
  initWorkspaceRepo,
  killProcesses,
  leftoverProcesses,
  runCompositeRunStep,
  runNodeAction,
  startArtifactService,
  type ArtifactService,
} from '@guarded-rollout/runner-harness';

// Runner semantics (bash, signals, /proc) are Linux's, as on ubuntu-latest; other OSes skip.
const describeOnLinux = process.platform === 'linux' ? describe : describe.skip;

type Step = {
  id?: string;
  name?: string;
  uses?: string;
  run?: string;
  env?: Record<string, string>;
  with?: Record<string, string>;
};
const repo = fileURLToPath(new URL('../..', import.meta.url));
const job = (
  parse(readFileSync(join(repo, '.github/workflows/ci.yml'), 'utf8')) as {
    jobs: Record<string, { steps: Step[] }>;
  }
).jobs['action-guarded-deploy']!;

const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

let root: string;
let service: ArtifactService | undefined;
const markers: string[] = [];
beforeAll(async () => {
  if (process.platform !== 'linux') return;
  root = mkdtempSync(join(tmpdir(), 'gr-ci-guarded-'));
  const bundle = join(repo, 'actions/guarded-deploy/dist/index.js');
  if (!existsSync(bundle)) {
    // Bundles are committed by the lead at the end; build one locally when it is missing.
    const built = spawnSync(process.execPath, [join(repo, 'scripts/build.mjs'), 'actions/guarded-deploy'], {
      cwd: repo,
      encoding: 'utf8',
    });
    if (built.status !== 0) throw new Error(`could not build actions/guarded-deploy: ${built.stderr}`);
  }
  service = await startArtifactService();
}, 300_000);
afterAll(async () => {
  for (const m of markers) killProcesses(leftoverProcesses(m));
  await service?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

describeOnLinux('ci.yml action-guarded-deploy', () => {
  it('starts the sample service, deploys 1.1.0 under traffic, watches it and ends succeeded', async () => {
    const port = String(await freePort());
    const ws = join(root, 'ws');
    mkdirSync(ws);
    for (const f of ['guarded-rollout.config.json', 'quality-gates-config.json'])
      copyFileSync(join(repo, f), join(ws, f));
    // The sample service as checked out (real files: its scripts compare import.meta.url with
    // argv[1]), with its installed dependencies.
    const sample = join(ws, 'examples/dhash-service');
    mkdirSync(sample, { recursive: true });
    for (const d of ['src', 'sample-images'])
      cpSync(join(repo, 'examples/dhash-service', d), join(sample, d), { recursive: true });
    copyFileSync(join(repo, 'examples/dhash-service/package.json'), join(sample, 'package.json'));
    symlinkSync(join(repo, 'examples/dhash-service/node_modules'), join(sample, 'node_modules'));
    const sha = initWorkspaceRepo(ws, {});
    const runnerTemp = join(root, 'runner-temp');
    mkdirSync(runnerTemp);
    const evaluate = (text: string): string =>
      text
        .replaceAll('${{ runner.temp }}', runnerTemp)
        .replaceAll('${{ github.sha }}', sha)
        .replaceAll('8080', port);
    const github = { sha, runId: 31337, repository: 'octo-org/guarded-rollout' };

    const start = job.steps.find((s) => s.name?.startsWith('Start the sample service'))!;
    const started = await runCompositeRunStep(evaluate(start.run!), { workspace: ws, runnerTemp, github })
      .result;
    markers.push(started.marker);
    expect(started.code).toBe(0);

    const step = job.steps.find((s) => s.id === 'guarded')!;
    const inputs = Object.fromEntries(Object.entries(step.with!).map(([k, v]) => [k, evaluate(String(v))]));
    const guarded = runNodeAction(join(repo, step.uses!), {
      workspace: ws,
      runnerTemp,
      inputs,
      github,
      runtime: service!.envFor({ runId: 31337, job: 'action-guarded-deploy' }),
      timeoutMs: 240_000,
    });
    markers.push(guarded.marker);
    const result = await guarded.result;
    const logs = ['traffic.log', 'dhash.log'].map((f) => {
      try {
        return `${f}:\n${readFileSync(join(runnerTemp, f), 'utf8').slice(-1500)}`;
      } catch {
        return `${f}: missing`;
      }
    });
    if (result.code !== 0) process.stderr.write(`${logs.join('\n')}\n${result.stdout.slice(-3000)}\n`);
    expect({ code: result.code, errors: result.commands.errors }).toEqual({ code: 0, errors: [] });

    const check = job.steps.find((s) => s.env?.RESULT)!;
    const env = Object.fromEntries(
      Object.entries(check.env!).map(([k, v]) => [
        k,
        result.outputs[/steps\.guarded\.outputs\.([\w-]+)/.exec(v)![1]!] ?? '',
      ]),
    );
    const checked = await runCompositeRunStep(check.run!, { workspace: ws, runnerTemp, env }).result;
    expect(checked.stdout).toMatch(
      /result=succeeded smoke=passed monitor=passed backup-artifact=guarded-rollout-backup-staging-run31337-attempt1/,
    );
    expect(checked.code).toBe(0);
    expect(service!.artifacts.map((a) => a.name)).toContain(
      'guarded-rollout-backup-staging-run31337-attempt1',
    );
  }, 300_000);
});
