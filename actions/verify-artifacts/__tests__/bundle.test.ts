// Spawns the committed bundle as the runner does, on real artifact directories.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from '@jest/globals';
import {
  cleanupFixtures,
  goodArtifactDir,
  writeLog,
} from '../../../packages/premerge/__tests__/artifact-fixtures.js';

const bundle = fileURLToPath(new URL('../dist/index.js', import.meta.url));
afterAll(cleanupFixtures);

function runBundle(workspace: string, inputs: Record<string, string> = {}) {
  const output = join(workspace, '.output');
  const summary = join(workspace, '.summary');
  writeFileSync(output, '');
  writeFileSync(summary, '');
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    GITHUB_WORKSPACE: workspace,
    GITHUB_OUTPUT: output,
    GITHUB_STEP_SUMMARY: summary,
  };
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase()}`] = v;
  const run = spawnSync(process.execPath, [bundle], {
    cwd: workspace,
    env,
    encoding: 'utf8',
    timeout: 30_000,
  });
  const outputs: Record<string, string> = {};
  const text = readFileSync(output, 'utf8');
  const re = /^([^\n<]+)<<(\S+)\n([\s\S]*?)\n\2$/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) outputs[m[1]!] = m[3]!;
  // The output and summary files live in the workspace; keep them out of later checks.
  const summaryText = readFileSync(summary, 'utf8');
  rmSync(output);
  rmSync(summary);
  return { code: run.status, stdout: run.stdout, outputs, summary: summaryText };
}

describe('verify-artifacts action bundle', () => {
  it('reports a complete set with missing=[] and a ✅ table in the job summary', async () => {
    const dir = await goodArtifactDir();
    const run = runBundle(dir);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.outputs.missing!)).toEqual([]);
    expect(run.outputs.report).toMatch(/\| ✅ \| `deploy-dryrun.log` \| yes \| ok \|/);
    expect(run.summary).toMatch(/\| ➖ \| `monitor_logs\/` \| no \(if available\) \| missing/);
  });

  it('fails on a failed log and lists it in missing', async () => {
    const dir = await goodArtifactDir();
    writeLog(dir, 'deploy-dryrun.log', 'deploy-dryrun', 'fail');
    const run = runBundle(dir);
    expect(run.code).toBe(1);
    expect(JSON.parse(run.outputs.missing!)).toEqual(['deploy-dryrun.log']);
    expect(run.stdout).toMatch(/^::error::deploy-dryrun.log: failed: deploy-dryrun.log failed: it broke/m);
    expect(run.stdout).toMatch(/^::error::1 required artifact\(s\) missing or failing: deploy-dryrun.log/m);
  });

  it('only reports when fail-on-missing is false', async () => {
    const dir = await goodArtifactDir();
    rmSync(join(dir, 'premerge_artifacts'), { recursive: true });
    const run = runBundle(dir, { 'fail-on-missing': 'false' });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.outputs.missing!)).toEqual(['premerge_artifacts/']);
  });

  it('refuses a malformed manifest with file, path and value', async () => {
    const dir = await goodArtifactDir();
    writeFileSync(
      join(dir, 'manifest.json'),
      JSON.stringify({ artifacts: [{ name: 'x', type: 'file', path: '/etc/passwd' }] }),
    );
    const run = runBundle(dir, { manifest: 'manifest.json' });
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^::error::.*manifest\.json: artifacts\[0\]\.path: "\/etc\/passwd"/m);
  });
});
