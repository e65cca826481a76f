// Acceptance of issue 14: kill -9 at random points of a backup and of a restore (20 each), with
// the real CLI bundle (`packages/cli/dist`, built by scripts/test.sh), and the invariants checked
// after every kill: every `dhash_*.zip` has its `.sha256` and verifies (the `.sha256` is written
// before the zip takes its name), so the seed's `ls | sort -r | head` always picks a complete
// backup; the live roots are the old tree or the new one (or the journal is there and the next
// run finishes the swap); paths outside the backup's roots never change; the next run is never
// blocked by the dead run's lock. A second backup test kills at every file-system step in turn.
import { describe, it, expect } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { sh, snapshot, tempRoot } from './fixtures.js';

/** The seed's runbook commands, verbatim: pick the newest backup and check it. */
const SEED_LATEST_CHECK =
  'LATEST_BACKUP=$(ls -1 backups/dhash_*.zip | sort -r | head -n1); sha256sum -c "${LATEST_BACKUP}.sha256"';
const repo = fileURLToPath(new URL('../../..', import.meta.url));
const bin = join(repo, 'packages/cli/bin/guarded-rollout.js');
const bundled = existsSync(join(repo, 'packages/cli/dist/index.js')) ? describe : describe.skip;
const KILLS = 20;

function run(
  args: string[],
  cwd: string,
  killAfterMs?: number,
  extra: { nodeArgs?: string[]; env?: Record<string, string> } = {},
): Promise<{ code: number | null; out: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...(extra.nodeArgs ?? []), bin, ...args], {
      cwd,
      env: { ...process.env, ...extra.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
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

/** Two releases A and B (app/ and data/ each) under a new root, a production backup of each by
 *  the real CLI, and what each root of each looks like. */
async function twoReleases(label: string) {
  const root = tempRoot(label);
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
  // The live tree: nothing of either release yet, and a file no backup holds.
  const live = join(root, 'live');
  mkdirSync(live);
  writeFileSync(join(live, 'other.txt'), 'not in any backup\n');
  // --force: a run killed after its swap never wrote the deployed-tree record, so the live-tree
  // check (which guards operator edits) would otherwise refuse the next run; integrity stays checked.
  const rollbackArgs = (i: number): string[] => [
    'rollback',
    '--env',
    'production',
    '--backup',
    backups[i % 2]!,
    '--target',
    'live',
    '--allow-unverified',
    '--force',
  ];
  return { root, backups, states, live, rollbackArgs };
}

/** Every `dhash_*.zip` in `root/backups` has its `.sha256` and both verify; the seed's commands,
 *  verbatim, pick a complete backup (when there is a zip at all). */
function checkBackupsDir(root: string): void {
  const names = readdirSync(join(root, 'backups'));
  const zips = names.filter((n) => /^dhash_.*\.zip$/.test(n));
  for (const zip of zips) {
    expect(names).toContain(`${zip}.sha256`);
    expect(sh(`sha256sum -c "backups/${zip}.sha256"`, root).code).toBe(0);
    expect(sh(`unzip -tq "backups/${zip}"`, root).code).toBe(0);
  }
  if (zips.length) expect(sh(SEED_LATEST_CHECK, root).code).toBe(0);
}

// Preloaded into the CLI: counts the renames, links and deletions under $KILL_STEP_DIR and
// SIGKILLs the process right after the $KILL_AFTER_STEP-th, so each point between two steps is hit.
const KILL_AFTER_STEP = `
const fs = require('node:fs');
const { syncBuiltinESMExports } = require('node:module');
const limit = Number(process.env.KILL_AFTER_STEP);
const dir = process.env.KILL_STEP_DIR;
let count = 0;
for (const name of ['renameSync', 'linkSync', 'unlinkSync', 'rmSync']) {
  const real = fs[name];
  fs[name] = function (...args) {
    const result = real.apply(this, args);
    if (args.some((a) => typeof a === 'string' && a.startsWith(dir)) && ++count === limit)
      process.kill(process.pid, 'SIGKILL');
    return result;
  };
}
syncBuiltinESMExports();
`;

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
      checkBackupsDir(root);
    }
    expect(killed).toBe(KILLS);
    const clean = await run(args, root);
    expect(clean.code).toBe(0);
    const names = readdirSync(join(root, 'backups'));
    expect(names.filter((n) => n.startsWith('.'))).toEqual([]); // no partials, no lock left
    for (const zip of names.filter((n) => n.endsWith('.zip'))) expect(names).toContain(`${zip}.sha256`);
    // The seed's commands, verbatim, after all of it.
    expect(sh(SEED_LATEST_CHECK, root).code).toBe(0);
    rmSync(root, { recursive: true, force: true });
  }, 300_000);

  it('backup with retention: a kill after each file-system step in turn never leaves a zip without its .sha256', async () => {
    const root = tempRoot('kill-steps');
    makeRelease(join(root, 'srv'), 'v1');
    const preload = join(root, 'kill-after-step.cjs');
    writeFileSync(preload, KILL_AFTER_STEP);
    const args = ['backup', '--env', 'production', '--path', 'srv', '--keep', '2'];
    for (let i = 0; i < 2; i++) expect((await run(args, root)).code).toBe(0);
    let step = 1;
    for (; step <= 60; step++) {
      const r = await run(args, root, undefined, {
        nodeArgs: ['--require', preload],
        env: { KILL_AFTER_STEP: String(step), KILL_STEP_DIR: `${join(root, 'backups')}/` },
      });
      checkBackupsDir(root);
      if (r.code !== null) {
        expect(r.code).toBe(0); // ran past its last step: finished normally
        break;
      }
    }
    // Lock, sweep, .sha256, link, temp removal, retention: every kill point visited, then a clean run.
    expect(step).toBeGreaterThan(6);
    expect(step).toBeLessThan(60);
    const clean = await run(args, root);
    expect(clean.code).toBe(0);
    const names = readdirSync(join(root, 'backups'));
    expect(names.filter((n) => n.startsWith('.'))).toEqual([]);
    expect(names.filter((n) => n.endsWith('.zip'))).toHaveLength(2);
    expect(names.filter((n) => n.endsWith('.sha256'))).toHaveLength(2);
    process.stdout.write(`backup kill points: ${step - 1} visited\n`);
    rmSync(root, { recursive: true, force: true });
  }, 300_000);

  it(`restore: ${KILLS} kills; roots are old or new (or the journal finishes the swap); other paths never change`, async () => {
    const { root, states, live, rollbackArgs } = await twoReleases('kill-restore');
    const restore = (i: number, kill?: number) => run(rollbackArgs(i), root, kill);
    const first = await restore(0);
    if (first.code !== 0) process.stdout.write(`FIRST: ${first.out}\n`);
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

  it('rollback with --keep-previous: a kill after each file-system step in turn never leaves a partial previous version', async () => {
    const scene = await twoReleases('kill-prune');
    const { root, live, rollbackArgs } = scene;
    const states = {
      app: scene.states.app.map((x) => JSON.stringify(x)),
      data: scene.states.data.map((x) => JSON.stringify(x)),
    };
    const kept = join(live, '.guarded-rollout/pre-rollback');
    const preload = join(root, 'kill-after-step.cjs');
    writeFileSync(preload, KILL_AFTER_STEP);
    const rollback = (i: number, extra: { nodeArgs?: string[]; env?: Record<string, string> } = {}) =>
      run([...rollbackArgs(i), '--keep-previous', '2'], root, undefined, extra);
    for (let i = 0; i < 2; i++) expect((await rollback(i)).code).toBe(0);
    /** Every kept version is whole: each root is exactly one of the two releases. */
    const checkKept = (): void => {
      // The version a journaled swap is filling is finished by the next run (checked there).
      const journal = join(live, '.guarded-rollout/swap.json');
      const filling = existsSync(journal)
        ? (JSON.parse(readFileSync(journal, 'utf8')).previous as string)
        : '';
      for (const name of readdirSync(kept)) {
        if (join(kept, name) === filling) continue;
        expect(name).toMatch(/^\d{8}T\d{6}Z(-\d+)?$/);
        expect(states.app).toContain(JSON.stringify(snapshot(join(kept, name, 'app'))));
        expect(states.data).toContain(JSON.stringify(snapshot(join(kept, name, 'data'))));
      }
      expect(readFileSync(join(live, 'other.txt'), 'utf8')).toBe('not in any backup\n');
    };
    let step = 1;
    let pruned = 0;
    for (; step <= 80; step++) {
      // Three versions before each run (copies of a kept one under older names): a run always has
      // two to delete, so every step of the deletion is reached.
      for (let n = readdirSync(kept).length; n < 3; n++) {
        const copy = join(kept, `20200101T0000${String(step % 60).padStart(2, '0')}Z-${n + 2}`);
        expect(spawnSync('cp', ['-a', join(kept, readdirSync(kept)[0]!), copy]).status).toBe(0);
      }
      const r = await rollback(step, {
        nodeArgs: ['--require', preload],
        env: { KILL_AFTER_STEP: String(step), KILL_STEP_DIR: `${join(live, '.guarded-rollout')}/` },
      });
      if (/removed previous version/.test(readFileSync(join(root, 'rollback.log'), 'utf8'))) pruned++;
      checkKept();
      if (!existsSync(join(live, '.guarded-rollout/swap.json')))
        for (const rootName of ['app', 'data'] as const)
          expect(states[rootName]).toContain(JSON.stringify(snapshot(join(live, rootName))));
      if (r.code !== null) {
        expect(r.code).toBe(0); // ran past its last step: finished normally
        break;
      }
    }
    expect(step).toBeGreaterThan(6);
    expect(step).toBeLessThan(80);
    const clean = await rollback(1);
    expect(clean.code).toBe(0);
    checkKept();
    expect(readdirSync(kept)).toHaveLength(2);
    expect(readdirSync(join(live, '.guarded-rollout'))).toEqual(['pre-rollback']); // no removing-*, staging, journal or lock
    process.stdout.write(
      `keep-previous kill points: ${step - 1} visited, ${pruned} runs logged a deletion\n`,
    );
    rmSync(root, { recursive: true, force: true });
  }, 300_000);
});
