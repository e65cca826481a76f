import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killStep, processAlive, runCommand, shellQuote, signalTree } from '../src/process-runner.js';

const dir = mkdtempSync(join(tmpdir(), 'runner-'));
const started: number[] = [];
afterAll(() => {
  for (const pid of started) signalTree(pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function script(name: string, body: string): string {
  const file = join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return file;
}

const pidsIn = (file: string): number[] =>
  existsSync(file) ? readFileSync(file, 'utf8').split(/\s+/).filter(Boolean).map(Number) : [];

async function waitFor(check: () => boolean, ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  while (!check() && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
}

describe('killStep (the timeout policy)', () => {
  it.each([
    [{ startedAt: 0, timeoutMs: 1000, killGraceMs: 500 }, 999, { action: 'wait', untilMs: 1000 }],
    [{ startedAt: 0, timeoutMs: 1000, killGraceMs: 500 }, 1000, { action: 'terminate' }],
    [
      { startedAt: 0, timeoutMs: 1000, killGraceMs: 500, terminatedAt: 1000 },
      1200,
      { action: 'wait', untilMs: 1500 },
    ],
    [{ startedAt: 0, timeoutMs: 1000, killGraceMs: 500, terminatedAt: 1000 }, 1500, { action: 'kill' }],
  ])('%j at %i ms → %j', (state, now, expected) => {
    expect(killStep(state, now)).toEqual(expected);
  });
});

describe('runCommand', () => {
  it('streams the output of a command that succeeds', async () => {
    const lines: string[] = [];
    const result = await runCommand({
      command: script('ok.sh', 'echo one; echo two >&2; printf three'),
      cwd: dir,
      timeoutMs: 5000,
      killGraceMs: 500,
      onLine: (l, s) => lines.push(`${s}:${l}`),
    });
    expect(result.outcome).toBe('succeeded');
    expect(result.exitCode).toBe(0);
    expect(lines).toEqual(expect.arrayContaining(['stdout:one', 'stderr:two', 'stdout:three']));
  });

  it('reports a non-zero exit as failed', async () => {
    const result = await runCommand({
      command: script('fail.sh', 'echo broken; exit 3'),
      cwd: dir,
      timeoutMs: 5000,
      killGraceMs: 500,
    });
    expect(result).toMatchObject({ outcome: 'failed', exitCode: 3 });
  });

  it('passes extra arguments shell-quoted', async () => {
    const lines: string[] = [];
    await runCommand({
      command: script('args.sh', 'for a in "$@"; do echo "[$a]"; done'),
      args: ['--dry-run', "it's here"],
      cwd: dir,
      timeoutMs: 5000,
      killGraceMs: 500,
      onLine: (l) => lines.push(l),
    });
    expect(lines).toEqual(['[--dry-run]', "[it's here]"]);
    expect(shellQuote('plain-arg')).toBe('plain-arg');
  });

  it('kills a hanging command and all its grandchildren at the timeout', async () => {
    const pids = join(dir, 'tree.pids');
    const cmd = script(
      'tree.sh',
      `sleep 300 & echo $! >> ${pids}\n(sleep 300 & echo $! >> ${pids}; wait) &\necho $$ >> ${pids}\nwait`,
    );
    const t0 = Date.now();
    const resultPromise = runCommand({ command: cmd, cwd: dir, timeoutMs: 400, killGraceMs: 1000 });
    await waitFor(() => pidsIn(pids).length >= 3);
    const tree = pidsIn(pids);
    started.push(...tree);
    expect(tree.every(processAlive)).toBe(true);
    const result = await resultPromise;
    expect(result.outcome).toBe('timed-out');
    expect(result.forceKilled).toBe(false);
    expect(Date.now() - t0).toBeLessThan(3000);
    await waitFor(() => tree.every((pid) => !processAlive(pid)));
    expect(tree.filter(processAlive)).toEqual([]);
  });

  it('SIGKILLs a tree that ignores SIGTERM after the grace period', async () => {
    const pids = join(dir, 'stubborn.pids');
    const cmd = script(
      'stubborn.sh',
      `trap '' TERM\nsleep 300 & echo $! >> ${pids}\necho $$ >> ${pids}\nwhile true; do sleep 1; done`,
    );
    const resultPromise = runCommand({ command: cmd, cwd: dir, timeoutMs: 300, killGraceMs: 300 });
    await waitFor(() => pidsIn(pids).length >= 2);
    const tree = pidsIn(pids);
    started.push(...tree);
    const result = await resultPromise;
    expect(result).toMatchObject({ outcome: 'timed-out', forceKilled: true });
    await waitFor(() => tree.every((pid) => !processAlive(pid)));
    expect(tree.filter(processAlive)).toEqual([]);
  });

  it('stops the tree and reports cancelled when aborted', async () => {
    const controller = new AbortController();
    const lines: string[] = [];
    const resultPromise = runCommand({
      command: script('long.sh', 'echo started; sleep 300'),
      cwd: dir,
      timeoutMs: 60_000,
      killGraceMs: 500,
      signal: controller.signal,
      onLine: (l) => lines.push(l),
    });
    await waitFor(() => lines.includes('started'));
    controller.abort();
    const result = await resultPromise;
    expect(result.outcome).toBe('cancelled');
    if (result.pid) started.push(result.pid);
    expect(result.durationMs).toBeLessThan(3000);
  });

  it('does not wait for a background daemon that keeps its output open', async () => {
    const pids = join(dir, 'daemon.pids');
    const t0 = Date.now();
    const result = await runCommand({
      command: script('daemon.sh', `sleep 300 & echo $! > ${pids}\necho launched`),
      cwd: dir,
      timeoutMs: 10_000,
      killGraceMs: 500,
    });
    started.push(...pidsIn(pids));
    expect(result.outcome).toBe('succeeded');
    expect(Date.now() - t0).toBeLessThan(3000);
    // A successful deploy may leave its service running; only timeouts and cancellation kill.
    expect(pidsIn(pids).every(processAlive)).toBe(true);
    for (const pid of pidsIn(pids)) process.kill(pid, 'SIGKILL');
  });

  it('reports a command that cannot start', async () => {
    const result = await runCommand({
      command: 'true',
      cwd: join(dir, 'missing-dir'),
      timeoutMs: 5000,
      killGraceMs: 500,
    });
    expect(result.outcome).toBe('failed');
  });
});
