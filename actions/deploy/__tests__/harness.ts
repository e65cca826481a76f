// Shared harness of the deploy action's bundle tests: a fake GitHub with deployment routes, a runner-like
// workspace (INPUT_*, GITHUB_OUTPUT/STATE/STEP_SUMMARY files), and an async spawn of the committed bundle.
import { afterAll, beforeAll } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  installDeploymentRoutes,
  startFakeGitHub,
  type DeploymentStore,
  type FakeGitHub,
} from '@guarded-rollout/fake-github';

export const bundle = fileURLToPath(new URL('../dist/index.js', import.meta.url));
export const TOKEN = 'ghs_actiontoken0123456789';
export let fake: FakeGitHub;
export let store: DeploymentStore;
const dirs: string[] = [];

/** Starts the fake GitHub (with deployment routes) for the calling test file and cleans up after it. */
export function useFakeGitHub(): void {
  beforeAll(async () => {
    fake = await startFakeGitHub();
    fake.token = TOKEN;
    store = installDeploymentRoutes(fake);
  });
  afterAll(async () => {
    await fake.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
}

export interface Workspace {
  dir: string;
  env: NodeJS.ProcessEnv;
  outputs: () => Record<string, string>;
  state: () => Record<string, string>;
  summary: () => string;
}

export function workspace(inputs: Record<string, string>): Workspace {
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
export function runBundle(
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

/** Writes an executable shell script into the workspace. */
export function script(dir: string, name: string, body: string): string {
  const file = join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return file;
}
