// Acceptance of issue 14: kill -9 at random points of a backup and of a restore (20 each), with
// the real CLI bundle (`packages/cli/dist`, built by scripts/test.sh), and the invariants checked
// after every kill: a backup that looks complete verifies; the live roots are the old tree or the
// new one (or the journal is there and the next run finishes the swap); paths outside the
// backup's roots never change; the next run is never blocked by the dead run's lock.
import { describe, it, expect } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { sh, snapshot, tempRoot } from './fixtures.js';

const repo = fileURLToPath(new URL('../../..', import.meta.url));
const bin = join(repo, 'packages/cli/bin/guarded-rollout.js');
const bundled = existsSync(join(repo, 'packages/cli/dist/index.js')) ? describe : describe.skip;
const KILLS = 20;

function run(
  args: string[],
  cwd: string,
  killAfterMs?: number,
): Promise<{ code: number | null; out: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const timer =
      killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('close', (code) => {
      if (timer) clearTimeout(timer);
      resolve({ code, out, ms: Date.now() - started });
    });
  });
}

function makeRelease(dir: string, label: string): void {
  for (let d = 0; d < 8; d++) {
    mkdirSync(join(dir, 'app', `m${d}`), { recursive: true });
    for (let f = 0; f < 25; f++)
      writeFileSync(join(dir, 'app', `m${d}`, `f${f}.js`), `// ${label} ${d}/${f}\n`.repeat(40));
  }
  mkdirSync(join(dir, 'data'), { recursive: true });
  writeFileSync(join(dir, 'data/blob.bin'), randomBytes(4 * 1024 * 1024));
  writeFileSync(join(dir, 'data/release.txt'), `${label}\n`);
}

bundled('kill -9 at random points (real CLI bundle)', () => {
  it(`backup: ${KILLS} kills, then a clean run; nothing incomplete ever looks complete`, async () => {
    const root = tempRoot('kill-backup');
    makeRelease(join(root, 'srv'), 'v1');
    const args = ['backup', '--env', 'production', '--path', 'srv'];
    const first = await run(args, root);
    expect(first.code).toBe(0);
    let span = Math.max(first.ms, 300);
    let killed = 0;
    // Exactly KILLS kills (bounded attempts): a run that finished first shortens the span.
    for (let attempt = 0; killed < KILLS && attempt < 3 * KILLS; attempt++) {
      const r = await run(args, root, Math.floor(span * (0.1 + Math.random() * 0.8)));
      if (r.code === null) killed++;
      else span = Math.max(200, Math.min(span, r.ms));
      const names = readdirSync(join(root, 'backups'));
      for (const zip of names.filter((n) => /^dhash_.*\.zip$/.test(n))) {
        if (!names.includes(`${zip}.sha256`)) continue; // incomplete: never listed, swept next time
        expect(sh(`sha256sum -c "backups/${zip}.sha256"`, root).code).toBe(0);
        expect(sh(`unzip -tq "backups/${zip}"`, root).code).toBe(0);
      }
    }
    expect(killed).toBe(KILLS);
    const clean = await run(args, root);
    expect(clean.code).toBe(0);
    const names = readdirSync(join(root, 'backups'));
    expect(names.filter((n) => n.startsWith('.'))).toEqual([]); // no partials, no lock left
    for (const zip of names.filter((n) => n.endsWith('.zip'))) expect(names).toContain(`${zip}.sha256`);
    // The seed's commands, verbatim, after all of it.
    expect(
      sh(
        'LATEST_BACKUP=$(ls -1 backups/dhash_*.zip | sort -r | head -n1); sha256sum -c "${LATEST_BACKUP}.sha256"',
        root,
      ).code,
    ).toBe(0);
    rmSync(root, { recursive: true, force: true });
  }, 300_000);

  it(`restore: ${KILLS} kills; roots are old or new (or the journal finishes the swap); other paths never change`, async () => {
    const root = tempRoot('kill-restore');
    makeRelease(join(root, 'a'), 'A');
    makeRelease(join(root, 'b'), 'B');
    const backups: string[] = [];
    for (const v of ['a', 'b']) {
      const r = await run(
        ['backup', '--env', 'production', '--base-dir', v, '--path', 'app', '--path', 'data', '--json'],
        root,
      );
      expect(r.code).toBe(0);
      backups.push(JSON.parse(r.out.slice(r.out.indexOf('{'))).backupPath as string);
    }
    const states = {
      app: [snapshot(join(root, 'a/app')), snapshot(join(root, 'b/app'))],
      data: [snapshot(join(root, 'a/data')), snapshot(join(root, 'b/data'))],
    };
    const live = join(root, 'live');
    mkdirSync(live);
    writeFileSync(join(live, 'other.txt'), 'not in any backup\n');
    const restore = (i: number, kill?: number) =>
      run(['rollback', '--env', 'production', '--backup', backups[i % 2]!, '--target', 'live'], root, kill);
    const first = await restore(0);
    expect(first.code).toBe(0);
    let span = Math.max(first.ms, 300);
    let killed = 0;
    let journaled = 0;
    for (let i = 1; killed < KILLS && i <= 3 * KILLS; i++) {
      const r = await restore(i, Math.floor(span * (0.1 + Math.random() * 0.8)));
      if (r.code === null) killed++;
      else span = Math.max(200, Math.min(span, r.ms));
      expect(readFileSync(join(live, 'other.txt'), 'utf8')).toBe('not in any backup\n');
      if (existsSync(join(live, '.guarded-rollout/swap.json'))) {
        journaled++; // the next run finishes it first (checked below and by the next iteration)
        continue;
      }
      for (const rootName of ['app', 'data'] as const) {
        const now = snapshot(join(live, rootName));
        expect(states[rootName].some((s) => JSON.stringify(s) === JSON.stringify(now))).toBe(true);
      }
    }
    expect(killed).toBe(KILLS);
    const last = await restore(1);
    expect(last.code).toBe(0);
    expect(snapshot(join(live, 'app'))).toEqual(states.app[1]);
    expect(snapshot(join(live, 'data'))).toEqual(states.data[1]);
    const state = readdirSync(join(live, '.guarded-rollout'));
    expect(state.filter((n) => n !== 'pre-rollback')).toEqual([]); // no journal, lock or staging left
    // Every previous version is kept under its own name.
    const kept = readdirSync(join(live, '.guarded-rollout/pre-rollback'));
    expect(new Set(kept).size).toBe(kept.length);
    process.stdout.write(`restore kill loop: ${killed} killed, ${journaled} left a journal\n`);
    rmSync(root, { recursive: true, force: true });
  }, 300_000);
});
