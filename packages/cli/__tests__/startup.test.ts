// CLI start-up (issue 15): `--version` and `--help` load no command module, so they cost little more
// than Node itself. Proven on the real bundle: with every lazily loaded chunk deleted, both still
// work, and their peak RSS stays under 60 MiB. (Timing is measured by bench/cli-startup.mjs, not
// asserted here: a loaded machine makes wall-clock assertions lie.)
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureCliBundle, repoRoot } from './bundle.js';

let dir = '';
beforeAll(() => {
  ensureCliBundle();
  dir = mkdtempSync(join(tmpdir(), 'cli-startup-'));
  mkdirSync(join(dir, 'dist'));
  const dist = join(repoRoot, 'packages/cli/dist');
  expect(readdirSync(dist).filter((f) => /^\d+\.index\.js$/.test(f)).length).toBeGreaterThan(5);
  for (const f of ['index.js', 'package.json']) copyFileSync(join(dist, f), join(dir, 'dist', f));
}, 300_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the chunk-less bundle and reports its peak RSS (MiB): VmHWM of its own address space, read
 *  at exit (getrusage's maxRSS would include the forking test worker's pages, kept across exec). */
function run(...args: string[]) {
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'data:text/javascript,import{readFileSync}from"node:fs";process.on("exit",()=>{let k=process.resourceUsage().maxRSS;try{k=Number(/VmHWM:\\s*(\\d+)/.exec(readFileSync("/proc/self/status","utf8"))[1])}catch{}process.stderr.write("maxrss="+k+"\\n")})',
      join(dir, 'dist/index.js'),
      ...args,
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
  const rss = Number(/maxrss=(\d+)/.exec(r.stderr)?.[1]) / 1024;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.replace(/maxrss=\d+\n/, ''), rss };
}

describe('guarded-rollout start-up', () => {
  it('--version needs no command module and stays under 60 MiB', () => {
    const r = run('--version');
    expect({ status: r.status, stdout: r.stdout, stderr: r.stderr }).toEqual({
      status: 0,
      stdout: '0.1.0\n',
      stderr: '',
    });
    if (process.platform === 'linux') expect(r.rss).toBeLessThan(60); // VmHWM is Linux's
  });

  it('--help lists every command without loading one, under 60 MiB', () => {
    const r = run('--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/backup[\s\S]*rollback[\s\S]*monitor[\s\S]*notify[\s\S]*config/);
    if (process.platform === 'linux') expect(r.rss).toBeLessThan(60);
  });

  it('a command does load its module (so the chunk-less copy fails there, proving laziness)', () => {
    const r = run('backup', '--help');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/Cannot find module|ERR_MODULE_NOT_FOUND/);
  });
});
