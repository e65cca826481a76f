#!/usr/bin/env node
// Operator control of a local DHash deployment (the demo's deploy and rollback commands):
//   ctl.mjs init    --root DIR [--fault KIND|none] [--onset SECONDS]   create releases.json, data/
//   ctl.mjs deploy  --root DIR --version V [--timeout SECONDS]    activate V, restart, wait healthy
//   ctl.mjs restart --root DIR [--timeout SECONDS]                 restart the active release
//   ctl.mjs status  --root DIR
// A deploy is: write active-release, SIGHUP the supervisor, wait until /health reports V.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FAULT_KINDS, activeRelease, initRoot, writeAtomic } from './releases.mjs';

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

function fail(message, code = 1) {
  console.error(`ctl: ${message}`);
  process.exit(code);
}

function supervisor(root) {
  try {
    return JSON.parse(readFileSync(join(root, 'supervisor.json'), 'utf8'));
  } catch {
    return fail(`no supervisor is running for ${root} (no supervisor.json)`);
  }
}

async function waitForVersion(port, version, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(1000) });
      const body = await res.json();
      if (body.version === version) return body;
      last = `version ${body.version}, status ${body.status}`;
    } catch (error) {
      last = error.cause?.code ?? error.message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return fail(`release ${version} did not come up within ${timeoutMs / 1000}s (last: ${last})`);
}

const [command] = process.argv.slice(2);
const root = arg('root');
if (!root) fail('--root DIR is required', 2);
const timeoutMs = Number(arg('timeout', '15')) * 1000;

if (command === 'init') {
  const fault = arg('fault', 'slow-hashing');
  if (fault !== 'none' && !FAULT_KINDS.includes(fault))
    fail(`--fault ${JSON.stringify(fault)} is not one of none, ${FAULT_KINDS.join(', ')}`, 2);
  initRoot(root, { fault, onsetSeconds: Number(arg('onset', '0')), version: '1.0.0' });
  console.log(`initialised ${root}: releases 1.0.0 (healthy), 1.1.0 (${fault}); active 1.0.0`);
} else if (command === 'deploy') {
  const version = arg('version');
  if (!version) fail('--version V is required', 2);
  const releases = JSON.parse(readFileSync(join(root, 'releases.json'), 'utf8'));
  if (!releases[version])
    fail(`unknown version ${JSON.stringify(version)}; known: ${Object.keys(releases).join(', ')}`, 2);
  const { pid, port } = supervisor(root);
  writeAtomic(join(root, 'active-release'), `${version}\n`);
  process.kill(pid, 'SIGHUP');
  await waitForVersion(port, version, timeoutMs);
  console.log(`deployed ${version} on port ${port}`);
} else if (command === 'restart') {
  const { pid, port } = supervisor(root);
  const { version } = activeRelease(root);
  process.kill(pid, 'SIGHUP');
  await waitForVersion(port, version, timeoutMs);
  console.log(`restarted ${version} on port ${port}`);
} else if (command === 'status') {
  const { pid, port } = supervisor(root);
  console.log(JSON.stringify({ pid, port, active: activeRelease(root) }));
} else {
  fail('usage: ctl.mjs init|deploy|restart|status --root DIR ...', 2);
}
