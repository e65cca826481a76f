#!/usr/bin/env node
// Smoke run of every committed action bundle exactly as the runner starts it: `node dist/index.js`
// with INPUT_* variables, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files. A bundle that cannot load
// (missing chunk, ESM/CJS mix-up) dies before our code reports anything; that fails here.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleTargets } from './build.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Runs one action bundle the way the runner does; returns exit code, output text and outputs. */
export function runBundle(actionDir, { node = process.execPath, inputs } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'smoke-'));
  const output = join(dir, 'output');
  const summary = join(dir, 'summary');
  writeFileSync(output, '');
  writeFileSync(summary, '');
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    RUNNER_TEMP: dir,
    GITHUB_WORKSPACE: dir,
    GITHUB_OUTPUT: output,
    GITHUB_STEP_SUMMARY: summary,
  };
  const smokeFile = join(root, actionDir, 'smoke-inputs.json');
  const given = inputs ?? (existsSync(smokeFile) ? JSON.parse(readFileSync(smokeFile, 'utf8')) : {});
  // Keys starting with "_" are instructions to the smoke run, not inputs: `_expectError` names the
  // error a bundle must report when a harmless run cannot succeed on an empty workspace.
  for (const [k, v] of Object.entries(given)) {
    if (!k.startsWith('_')) env[`INPUT_${k.replace(/ /g, '_').toUpperCase()}`] = String(v);
  }
  const run = spawnSync(node, [join(root, actionDir, 'dist/index.js')], {
    cwd: dir,
    env,
    encoding: 'utf8',
    timeout: 60_000,
  });
  const result = {
    status: run.status,
    stdout: run.stdout,
    stderr: run.stderr,
    outputFile: readFileSync(output, 'utf8'),
    summary: readFileSync(summary, 'utf8'),
    hasSmokeInputs: existsSync(smokeFile),
    expectError: typeof given._expectError === 'string' ? given._expectError : undefined,
  };
  rmSync(dir, { recursive: true, force: true }); // 16 directories per CI run were left in /tmp
  return result;
}

/** Whether a bundle run is what its smoke inputs promise: success, or exactly the expected error. */
export function smokePassed(run) {
  if (run.expectError)
    return run.status === 1 && run.stdout.includes('::error::') && run.stdout.includes(run.expectError);
  return run.hasSmokeInputs ? run.status === 0 : run.status === 0 || /^::error::/m.test(run.stdout);
}

const CRASH =
  /ERR_MODULE_NOT_FOUND|ERR_REQUIRE_ESM|SyntaxError|ReferenceError|Cannot find module|is not a function/;

if (import.meta.url === `file://${process.argv[1]}`) {
  const node = process.env.SMOKE_NODE || process.execPath;
  let failed = 0;
  for (const target of bundleTargets().filter((t) => t.name.startsWith('actions/'))) {
    const run = runBundle(target.name, { node });
    const text = `${run.stdout}${run.stderr}`;
    // With smoke inputs the action must do what they promise; without, it must at least load and report its error.
    if (!smokePassed(run) || CRASH.test(text)) {
      failed++;
      console.error(`smoke FAILED ${target.name} (exit ${run.status}) under ${node}:\n${text}`);
    } else {
      console.log(`smoke ok     ${target.name} (exit ${run.status})`);
    }
  }
  process.exit(failed ? 1 : 0);
}
