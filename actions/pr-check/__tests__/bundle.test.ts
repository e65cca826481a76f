// Spawns the committed bundle exactly as the runner does (node dist/index.js, INPUT_* env,
// GITHUB_OUTPUT / GITHUB_STEP_SUMMARY files) against the fake GitHub API.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  installPullRoutes,
  startFakeGitHub,
  type FakeGitHub,
  type PullsState,
} from '@guarded-rollout/fake-github';
import { completeBody, TEMPLATE } from '../../../packages/premerge/__tests__/bodies.js';

const bundle = fileURLToPath(new URL('../dist/index.js', import.meta.url));
const HEAD = 'd'.repeat(40);
const TOKEN = 'ghs_secret_bundle_token_123';
let fake: FakeGitHub;
let gh: PullsState;
const dirs: string[] = [];

beforeAll(async () => {
  fake = await startFakeGitHub();
  fake.token = TOKEN;
  gh = installPullRoutes(fake);
  gh.addPull({ number: 3, body: completeBody(), author: 'author', headSha: HEAD, labels: ['deploy'] });
  gh.addPull({ number: 4, body: TEMPLATE, author: 'author', headSha: HEAD });
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
  for (const user of ['sre-sam', 'dev-dan', 'ops-olga'])
    gh.addReview(3, { user, state: 'APPROVED', commitId: HEAD, submittedAt: '2026-11-23T10:10:00Z' });
});
afterAll(async () => {
  await fake.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

interface BundleRun {
  code: number | null;
  stdout: string;
  outputs: Record<string, string>;
  summary: string;
}

/** Parses GITHUB_OUTPUT's `name<<DELIM\nvalue\nDELIM` records. */
function parseOutputs(text: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  const re = /^([^\n<]+)<<(\S+)\n([\s\S]*?)\n\2$/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) outputs[m[1]!] = m[3]!;
  return outputs;
}

async function runBundle(
  inputs: Record<string, string>,
  event: { name: string; payload: unknown },
): Promise<BundleRun> {
  const dir = mkdtempSync(join(tmpdir(), 'pr-check-bundle-'));
  dirs.push(dir);
  mkdirSync(join(dir, '.github'));
  writeFileSync(
    join(dir, '.github/guarded-rollout.yml'),
    'roster:\n  sre: [sre-sam]\n  operators: [ops-olga]\n',
  );
  writeFileSync(join(dir, 'event.json'), JSON.stringify(event.payload));
  writeFileSync(join(dir, 'output'), '');
  writeFileSync(join(dir, 'summary'), '');
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    GITHUB_WORKSPACE: dir,
    GITHUB_OUTPUT: join(dir, 'output'),
    GITHUB_STEP_SUMMARY: join(dir, 'summary'),
    GITHUB_API_URL: fake.url,
    GITHUB_REPOSITORY: 'acme/dhash',
    GITHUB_EVENT_NAME: event.name,
    GITHUB_EVENT_PATH: join(dir, 'event.json'),
    INPUT_TOKEN: TOKEN,
    'INPUT_POST-CHECK-RUN': 'true',
    'INPUT_CHECK-NAME': 'guarded-rollout / pr-check',
    INPUT_CONFIG: '.github/guarded-rollout.yml',
  };
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase()}`] = v;
  // Asynchronous spawn: the fake answers from this process's event loop.
  const child = spawn(process.execPath, [bundle], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stdout += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return {
    code,
    stdout,
    outputs: parseOutputs(readFileSync(join(dir, 'output'), 'utf8')),
    summary: readFileSync(join(dir, 'summary'), 'utf8'),
  };
}

describe('pr-check action bundle', () => {
  it('passes a complete deploy PR from a pull_request event and writes the check run', async () => {
    const run = await runBundle({}, { name: 'pull_request', payload: { pull_request: { number: 3 } } });
    expect(
      run.stdout
        .split('\n')
        .filter((l) => !l.startsWith('::add-mask::'))
        .join('\n'),
    ).not.toContain(TOKEN);
    expect(run.code).toBe(0);
    expect(run.outputs.result).toBe('success');
    expect(JSON.parse(run.outputs.missing!)).toEqual([]);
    expect(run.outputs['check-run-id']).toBe(
      String(gh.checkRunsFor(HEAD, 'guarded-rollout / pr-check')[0]!.id),
    );
    expect(run.summary).toMatch(/\| ✅ \| Operator sign-off|\| ✅ \| Deploy operator sign-off/);
    expect(fake.violations).toEqual([]);
  });

  it('fails the untouched template from an issue_comment on the PR, naming what is missing', async () => {
    const run = await runBundle(
      {},
      { name: 'issue_comment', payload: { issue: { number: 4, pull_request: { url: 'x' } } } },
    );
    expect(run.code).toBe(1);
    expect(run.outputs.result).toBe('failure');
    expect(JSON.parse(run.outputs.missing!)).toContain('checklist: deploy-dryrun.log');
    expect(run.stdout).toMatch(/^::error::pr-check failed: checklist: Backups/m);
    expect(fake.violations).toEqual([]);
  });

  it('skips an issue_comment on a plain issue', async () => {
    const run = await runBundle({}, { name: 'issue_comment', payload: { issue: { number: 99 } } });
    expect(run.code).toBe(0);
    expect(run.outputs.result).toBe('skipped');
  });

  it('refuses a bad pr input with one clear error', async () => {
    const run = await runBundle({ pr: 'seven' }, { name: 'workflow_dispatch', payload: {} });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^::error::input "pr": "seven" is not a pull request number/m);
  });
});
