#!/usr/bin/env node
// A tiny local supervisor: keeps one DHash service process running on a fixed port, restarts it
// on SIGHUP (how a deploy or rollback activates a release) and when it crashes (at most 5 times a
// minute), and stops it on SIGTERM/SIGINT. Writes <root>/supervisor.json with its pid and port.
//   node src/supervisor.mjs --root DIR [--port N] [--log FILE]
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { openSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const serverScript = fileURLToPath(new URL('./server.mjs', import.meta.url));

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

const root = arg('root');
if (!root) {
  console.error('usage: supervisor.mjs --root DIR [--port N] [--log FILE]');
  process.exit(2);
}
const port = Number(arg('port', '0')) || (await freePort());
const logFile = arg('log', join(root, 'service.log'));
const out = openSync(logFile, 'a');
let child;
let stopping = false;
const crashes = [];

function say(message, fields = {}) {
  writeFileSync(
    out,
    `${JSON.stringify({ timestamp: new Date().toISOString(), level: 'info', message, component: 'supervisor', ...fields })}\n`,
  );
}

function start() {
  child = spawn(process.execPath, [serverScript, '--root', root, '--port', String(port)], {
    stdio: ['ignore', out, out],
  });
  const current = child;
  current.on('exit', (code, signal) => {
    if (stopping || current.restarting) return;
    crashes.push(Date.now());
    while (crashes.length && crashes[0] < Date.now() - 60_000) crashes.shift();
    say('service exited', { code, signal, restarts_last_minute: crashes.length });
    if (crashes.length > 5) {
      say('service keeps crashing; supervisor gives up');
      shutdown(1);
      return;
    }
    setTimeout(start, 200);
  });
}

function restart() {
  say('restart requested');
  const old = child;
  old.restarting = true;
  old.once('exit', start);
  old.kill('SIGTERM');
  // A service that ignores SIGTERM is killed after 3 s.
  setTimeout(() => old.exitCode === null && old.signalCode === null && old.kill('SIGKILL'), 3000).unref();
}

function shutdown(code = 0) {
  stopping = true;
  rmSync(join(root, 'supervisor.json'), { force: true });
  if (child && child.exitCode === null && child.signalCode === null) {
    child.once('exit', () => process.exit(code));
    child.kill('SIGTERM');
    setTimeout(() => (child.kill('SIGKILL'), process.exit(code)), 3000).unref();
  } else process.exit(code);
}

process.on('SIGHUP', restart);
process.once('SIGTERM', () => shutdown(0));
process.once('SIGINT', () => shutdown(0));
writeFileSync(join(root, 'supervisor.json'), `${JSON.stringify({ pid: process.pid, port })}\n`);
say('supervisor started', { port });
start();
