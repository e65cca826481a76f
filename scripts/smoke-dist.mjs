#!/usr/bin/env node
// Smoke run of every committed action bundle exactly as the runner starts it: `node dist/index.js`
// with INPUT_* variables, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files. A bundle that cannot load
// (missing chunk, ESM/CJS mix-up) dies before our code reports anything; that fails here.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleTargets } from './build.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const node = process.env.SMOKE_NODE || process.execPath;
let failed = 0;
for (const target of bundleTargets().filter((t) => t.name.startsWith('actions/'))) {
  const dir = mkdtempSync(join(tmpdir(), 'smoke-'));
  const output = join(dir, 'output');
  const summary = join(dir, 'summary');
  writeFileSync(output, '');
  writeFileSync(summary, '');
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, RUNNER_TEMP: dir, GITHUB_WORKSPACE: dir, GITHUB_OUTPUT: output, GITHUB_STEP_SUMMARY: summary };
  // Optional per-action smoke inputs (dry-run and required inputs), as INPUT_<NAME> variables.
  try {
    const inputs = JSON.parse(readFileSync(join(root, target.name, 'smoke-inputs.json'), 'utf8'));
    for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase()}`] = String(v);
  } catch {
    /* no smoke inputs: the action must still load and report its missing inputs */
  }
  const run = spawnSync(node, [join(target.out, 'index.js')], { cwd: dir, env, encoding: 'utf8', timeout: 60_000 });
  const text = `${run.stdout}${run.stderr}`;
  const reported = run.status === 0 || /^::error::/m.test(run.stdout);
  const crashed = /ERR_MODULE_NOT_FOUND|ERR_REQUIRE_ESM|SyntaxError|ReferenceError|Cannot find module|is not a function/.test(text);
  if (!reported || crashed) {
    failed++;
    console.error(`smoke FAILED ${target.name} (exit ${run.status}) under ${node}:\n${text}`);
  } else {
    console.log(`smoke ok     ${target.name} (exit ${run.status}${run.status ? ', reported its error' : ''})`);
  }
}
process.exit(failed ? 1 : 0);
