import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  installDeploymentRoutes,
  startFakeGitHub,
  type DeploymentStore,
  type FakeGitHub,
} from '@guarded-rollout/fake-github';
import { processAlive } from '@guarded-rollout/deploy';

const bundle = fileURLToPath(new URL('../dist/index.js', import.meta.url));
const TOKEN = 'ghs_actiontoken0123456789';
let fake: FakeGitHub;
let store: DeploymentStore;
const dirs: string[] = [];

beforeAll(async () => {
  fake = await startFakeGitHub();
  fake.token = TOKEN;
  store = installDeploymentRoutes(fake);
});
afterAll(async () => {
  await fake.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Workspace {
  dir: string;
  env: NodeJS.ProcessEnv;
  outputs: () => Record<string, string>;
  state: () => Record<string, string>;
  summary: () => string;
}

function workspace(inputs: Record<string, string>): Workspace {
  const dir = mkdtempSync(join(tmpdir(), 'deploy-action-'));
  dirs.push(dir);
  for (const f of ['output', 'state', 'summary']) writeFileSync(join(dir, f), '');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    RUNNER_TEMP: dir,
    GITHUB_WORKSPACE: dir,
    GITHUB_OUTPUT: join(dir, 'output'),
    GITHUB_STATE: join(dir, 'state'),
    GITHUB_STEP_SUMMARY: join(dir, 'summary'),
    GITHUB_REPOSITORY: 'acme/dhash',
    GITHUB_API_URL: fake.url,
    GITHUB_SHA: 'a84d88e7554fc1fa21bcbc4efae3c782a70d2b9d',
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_RUN_ID: '42',
  };
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase()}`] = v;
  // GitHub's file-command format: name<<delimiter\nvalue\ndelimiter
  const parse = (file: string): Record<string, string> => {
    const out: Record<string, string> = {};
    const text = readFileSync(join(dir, file), 'utf8');
    for (const m of text.matchAll(/^([^<\n]+)<<(\S+)\n([\s\S]*?)\n\2$/gm)) out[m[1]!] = m[3]!;
    return out;
  };
  return {
    dir,
    env,
    outputs: () => parse('output'),
    state: () => parse('state'),
    summary: () => readFileSync(join(dir, 'summary'), 'utf8'),
  };
}

// Async on purpose: the fake GitHub lives in this process and must keep answering.
function runBundle(
  ws: Workspace,
  env: NodeJS.ProcessEnv = ws.env,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bundle], { cwd: ws.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

function script(dir: string, name: string, body: string): string {
  const file = join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return file;
}

describe('deploy action bundle: cancellation and the post step', () => {
  it('on SIGTERM mid-deploy stops the tree, posts status error and reports cancelled', async () => {
    const ws = workspace({ environment: 'production', token: TOKEN, 'kill-grace': '30s' });
    const pids = join(ws.dir, 'pids');
    // Ignores SIGTERM, so only the shortened cancellation grace (then SIGKILL) can stop it.
    ws.env.INPUT_COMMAND = script(
      ws.dir,
      'deploy.sh',
      `trap '' TERM\nsleep 300 & echo $! >> ${pids}\necho $$ >> ${pids}\nwhile true; do sleep 1; done`,
    );
    const child = spawn(process.execPath, [bundle], {
      cwd: ws.dir,
      env: ws.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const until = Date.now() + 15_000;
    while (
      Date.now() < until &&
      !(existsSync(pids) && readFileSync(pids, 'utf8').trim().split(/\s+/).length >= 2)
    )
      await new Promise((r) => setTimeout(r, 50));
    const tree = readFileSync(pids, 'utf8').trim().split(/\s+/).map(Number);
    const id = Number(ws.state()['deployment-id']);
    expect(store.states(id)).toEqual(['in_progress']);
    const signalled = Date.now();
    child.kill('SIGTERM');
    const code = await exited;
    expect(Date.now() - signalled).toBeLessThan(8000); // inside the runner's ~10 s grace
    expect(code).toBe(1);
    expect(store.states(id)).toEqual(['in_progress', 'error']);
    expect(store.find(id)!.statuses.at(-1)!.description).toMatch(/^cancelled/);
    expect(ws.outputs()).toMatchObject({ status: 'cancelled' });
    expect(stdout).toContain('::error::deploy cancelled');
    expect(tree.filter(processAlive)).toEqual([]);
    expect(fake.violations).toEqual([]);
  }, 30_000);

  it('post step closes a deployment the main step never finished', async () => {
    const ws = workspace({ environment: 'production', token: TOKEN });
    const r0 = await runBundle(ws, { ...ws.env, INPUT_COMMAND: 'sleep 300', INPUT_TIMEOUT: '200ms' });
    expect(r0.status).toBe(1);
    const id = Number(ws.outputs()['deployment-id']);
    // Simulate a main step killed before it finished: state has the id but no "finished".
    const postEnv = {
      ...ws.env,
      STATE_isPost: 'true',
      'STATE_deployment-id': String(id),
      STATE_environment: 'production',
    };
    const r = await runBundle(ws, postEnv);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('::warning::the deploy to production did not finish');
    expect(store.states(id)).toEqual(['in_progress', 'failure', 'error']);
  });

  it('post step is quiet after a finished deploy', async () => {
    const ws = workspace({ environment: 'production', token: TOKEN });
    const r = await runBundle(ws, { ...ws.env, STATE_isPost: 'true', STATE_finished: 'true' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('nothing left to report');
  });
});
