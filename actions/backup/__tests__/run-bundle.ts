// Runs a committed action bundle the way the runner does (INPUT_* env, GITHUB_OUTPUT and
// GITHUB_STEP_SUMMARY files) and returns its exit code, outputs and log.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../../..', import.meta.url));

/** Runs a committed action bundle the way the runner does; returns outputs and the log. */
export function runBundle(action: string, inputs: Record<string, string>, cwd: string) {
  const output = join(cwd, '.gh-output');
  const summary = join(cwd, '.gh-summary');
  writeFileSync(output, '');
  writeFileSync(summary, '');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    GITHUB_WORKSPACE: cwd,
    GITHUB_OUTPUT: output,
    GITHUB_STEP_SUMMARY: summary,
    GITHUB_SHA: 'deadbeef',
  };
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase()}`] = v;
  const run = spawnSync(process.execPath, [join(repo, 'actions', action, 'dist/index.js')], {
    cwd,
    env,
    encoding: 'utf8',
    timeout: 60_000,
  });
  const outputs: Record<string, string> = {};
  const text = readFileSync(output, 'utf8');
  for (const m of text.matchAll(/^([\w-]+)<<(ghadelimiter_[\w-]+)\n([\s\S]*?)\n\2$/gm))
    outputs[m[1]!] = m[3]!;
  return { code: run.status, stdout: run.stdout, outputs, summary: readFileSync(summary, 'utf8') };
}
