// Permission errors for real: the tests run as root, which bypasses every mode bit, so each case
// runs the real CLI bundle as user nobody (setpriv, util-linux) against trees whose modes it
// cannot get past. Every case: a non-zero exit, exactly one line on stderr naming the file and
// what to do (no stack trace, no "internal error"), and nothing lost (no partial zip, live tree
// unchanged, no state left in the target).
import { describe, it, expect, afterAll } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import {
  accessSync,
  chmodSync,
  chownSync,
  constants,
  copyFileSync,
  cpSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stateDir, swapRoots, uniqueDirectory, type SwapJournal } from '../src/index.js';
import { snapshot } from './fixtures.js';

const repo = fileURLToPath(new URL('../../..', import.meta.url));
const SETPRIV = '/usr/bin/setpriv';
const NOBODY = 65534;

const roots: string[] = [];

/** The CLI bundle and this Node, copied where nobody can reach them: CI clones the repository
 *  into a mktemp directory (0700), and its Node 24 lives inside the clone. */
function stageCli(): { node: string; bin: string } {
  const dir = mkdtempSync(join(tmpdir(), 'gr-perm-cli-'));
  chmodSync(dir, 0o755);
  roots.push(dir);
  mkdirSync(join(dir, 'cli'), { mode: 0o755 });
  cpSync(join(repo, 'packages/cli/bin'), join(dir, 'cli/bin'), { recursive: true });
  cpSync(join(repo, 'packages/cli/dist'), join(dir, 'cli/dist'), { recursive: true });
  copyFileSync(join(repo, 'packages/cli/package.json'), join(dir, 'cli/package.json'));
  const node = join(dir, 'node');
  try {
    linkSync(process.execPath, node); // same file system: no 100 MB copy
  } catch {
    copyFileSync(process.execPath, node);
  }
  chmodSync(node, 0o755);
  return { node, bin: join(dir, 'cli/bin/guarded-rollout.js') };
}

/** Why these tests cannot run here, or undefined when they can. */
function unavailable(): { why?: string; node: string; bin: string } {
  const none = { node: '', bin: '' };
  if (process.platform !== 'linux') return { why: 'Linux only', ...none };
  if (process.getuid?.() !== 0) return { why: 'needs root (to switch to nobody)', ...none };
  if (!existsSync(SETPRIV)) return { why: `${SETPRIV} missing (util-linux)`, ...none };
  if (!existsSync(join(repo, 'packages/cli/dist/index.js'))) return { why: 'CLI bundle not built', ...none };
  const staged = stageCli();
  const probe = spawnSync(
    SETPRIV,
    [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', staged.node, staged.bin, '--version'],
    { encoding: 'utf8' },
  );
  if (probe.status !== 0)
    return { why: `nobody cannot run the CLI: ${probe.stderr || probe.error?.message}`, ...staged };
  return staged;
}

const { why, node, bin } = unavailable();
// CI runs as root with util-linux and a built CLI: there, not running is a failure, not a skip.
if (why && process.env.CI === 'true' && process.getuid?.() === 0)
  throw new Error(`permissions.test.ts cannot run in CI: ${why}`);
if (why) process.stdout.write(`permissions.test.ts: skipped: ${why}\n`);
const asNobody = why ? describe.skip : describe;

afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

/** A scratch directory nobody can traverse (mkdtemp makes it 0700). */
function scratch(label: string): string {
  const root = mkdtempSync(join(tmpdir(), `gr-perm-${label}-`));
  chmodSync(root, 0o755);
  roots.push(root);
  return root;
}

function chownTree(path: string, uid = NOBODY): void {
  chownSync(path, uid, uid);
  for (const e of readdirSync(path, { withFileTypes: true })) {
    if (e.isDirectory()) chownTree(join(path, e.name), uid);
    else chownSync(join(path, e.name), uid, uid);
  }
}

/** Runs the CLI as nobody; returns exit code and stderr lines. */
function cli(cwd: string, args: string[]): { code: number | null; stderr: string[]; stdout: string } {
  const r = spawnSync(
    SETPRIV,
    [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', node, bin, ...args],
    { cwd, encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, timeout: 120_000 },
  );
  return { code: r.status, stderr: r.stderr.split('\n').filter((l) => l !== ''), stdout: r.stdout };
}

/** One line, no stack, no internal error, naming `file`, saying what to do. */
function expectOneLine(stderr: string[], file: string, todo: RegExp): void {
  expect(stderr).toHaveLength(1);
  const line = stderr[0]!;
  expect(line).toMatch(/^error: /);
  expect(line).not.toMatch(/internal error|\n\s+at /);
  expect(line).toContain(file);
  expect(line).toMatch(todo);
}

/** A workspace owned by nobody: srv/app and srv/sub, and a backups directory. */
function workspace(label: string): string {
  const root = scratch(label);
  mkdirSync(join(root, 'srv/app'), { recursive: true });
  mkdirSync(join(root, 'srv/sub'), { recursive: true });
  writeFileSync(join(root, 'srv/app/a.txt'), 'v1\n');
  writeFileSync(join(root, 'srv/sub/b.txt'), 'b\n');
  mkdirSync(join(root, 'backups'));
  chownTree(root);
  return root;
}

const backupFiles = (root: string): string[] =>
  existsSync(join(root, 'backups')) ? readdirSync(join(root, 'backups')) : [];

asNobody('backup as a user without permission (real CLI as nobody)', () => {
  it('an unreadable file in the tree: exit 2, one line naming it, no zip', () => {
    const root = workspace('file');
    chmodSync(join(root, 'srv/app/a.txt'), 0o000);
    const r = cli(root, ['backup', '--env', 'production', '--path', 'srv']);
    expect(r.code).toBe(2);
    expectOneLine(
      r.stderr,
      join(root, 'srv/app/a.txt'),
      /permission denied: run as a user that can read it, or fix its mode/,
    );
    expect(backupFiles(root)).toEqual([]);
  });

  it('an unreadable directory in the tree: exit 2, one line naming it, no zip', () => {
    const root = workspace('dir');
    chmodSync(join(root, 'srv/sub'), 0o000);
    const r = cli(root, ['backup', '--env', 'production', '--path', 'srv']);
    expect(r.code).toBe(2);
    expectOneLine(r.stderr, join(root, 'srv/sub'), /permission denied: run as a user that can read it/);
    expect(backupFiles(root)).toEqual([]);
  });

  it('an out directory it cannot write: exit 1, one line naming it, nothing written', () => {
    const root = workspace('out');
    chownSync(join(root, 'backups'), 0, 0);
    const r = cli(root, ['backup', '--env', 'production', '--path', 'srv']);
    expect(r.code).toBe(1);
    expectOneLine(
      r.stderr,
      `the backup directory ${join(root, 'backups')} must be writable`,
      /permission denied: .*choose another --out directory/,
    );
    expect(backupFiles(root)).toEqual([]);
  });

  it('an out directory it cannot create: exit 1, one line naming it', () => {
    const root = workspace('outparent');
    mkdirSync(join(root, 'locked2'), { mode: 0o755 }); // owned by root
    const r2 = cli(root, ['backup', '--env', 'production', '--path', 'srv', '--out', 'locked2/backups']);
    expect(r2.code).toBe(1);
    expectOneLine(
      r2.stderr,
      `cannot create the directory ${join(root, 'locked2/backups')}`,
      /permission denied/,
    );
    expect(existsSync(join(root, 'locked2/backups'))).toBe(false);
  });

  it('a dry run where its log cannot be written: exit 2, one line naming the log', () => {
    const root = workspace('dryrun');
    chownSync(root, 0, 0);
    const r = cli(root, ['backup', '--env', 'production', '--path', 'srv', '--dry-run']);
    expect(r.code).toBe(2);
    expectOneLine(r.stderr, `cannot create ${join(root, 'backup-dryrun.log')}`, /log directory is writable/);
    expect(backupFiles(root)).toEqual([]);
  });
});

asNobody('rollback as a user without permission (real CLI as nobody)', () => {
  /** A workspace with a backup of srv (app/a.txt = v1), then the live tree changed to v2. */
  function restoreScene(label: string): { root: string; zip: string; before: ReturnType<typeof snapshot> } {
    const root = workspace(label);
    const b = cli(root, ['backup', '--env', 'staging', '--base-dir', 'srv', '--path', 'app', '--json']);
    expect(b.code).toBe(0);
    const zip = JSON.parse(b.stdout).backupPath as string;
    writeFileSync(join(root, 'srv/app/a.txt'), 'v2\n');
    chownSync(join(root, 'srv/app/a.txt'), NOBODY, NOBODY);
    mkdirSync(join(root, 'logs'));
    chownSync(join(root, 'logs'), NOBODY, NOBODY);
    return { root, zip, before: snapshot(join(root, 'srv')) };
  }
  const rollback = (root: string, zip: string, ...extra: string[]) =>
    cli(root, ['rollback', '--env', 'staging', '--backup', zip, '--target', 'srv', ...extra]);

  it('works as nobody when it may (the baseline for the cases below)', () => {
    const { root, zip } = restoreScene('ok');
    const r = rollback(root, zip, '--log-dir', 'logs');
    expect(r.code).toBe(0); // staging: restored-unverified is a warning, not a failure
    expect(snapshot(join(root, 'srv'))['app/a.txt']?.content).toBe(Buffer.from('v1\n').toString('base64'));
  });

  it('--keep-previous deletes an older version that holds read-only directories (as their owner)', () => {
    const { root, zip } = restoreScene('keep-ro');
    mkdirSync(join(root, 'srv/app/ro/inner'), { recursive: true });
    writeFileSync(join(root, 'srv/app/ro/inner/x.txt'), 'x\n');
    chownTree(join(root, 'srv/app/ro'));
    chmodSync(join(root, 'srv/app/ro/inner'), 0o555);
    chmodSync(join(root, 'srv/app/ro'), 0o555);
    expect(rollback(root, zip, '--log-dir', 'logs').code).toBe(0);
    const kept = join(stateDir(join(root, 'srv')), 'pre-rollback');
    const [old] = readdirSync(kept);
    expect(readdirSync(join(kept, old!, 'app/ro/inner'))).toEqual(['x.txt']); // kept with its modes
    const r = rollback(root, zip, '--log-dir', 'logs', '--keep-previous', '1');
    expect(r.code).toBe(0);
    expect(readdirSync(kept)).toHaveLength(1);
    expect(readdirSync(kept)).not.toContain(old);
    expect(readdirSync(stateDir(join(root, 'srv')))).toEqual(['pre-rollback']); // nothing half-deleted
    expect(readFileSync(join(root, 'logs/rollback.log'), 'utf8')).toContain(
      `removed previous version ${join(kept, old!)}`,
    );
  });

  it('a target whose parent it cannot write (the deployed-tree record goes beside it): refused, unchanged', () => {
    const { root, zip, before } = restoreScene('parent');
    chownSync(root, 0, 0);
    const r = rollback(root, zip, '--log-dir', 'logs');
    expect(r.code).toBe(1);
    expectOneLine(
      r.stderr,
      `cannot write ${join(root, '.srv.deployed-tree.json')}`,
      new RegExp(`write permission on ${root}; run as a user that can write there, or fix its mode`),
    );
    expect(snapshot(join(root, 'srv'))).toEqual(before);
    expect(existsSync(stateDir(join(root, 'srv')))).toBe(false);
  });

  it('a target it cannot write (its state directory cannot be made): failed, unchanged', () => {
    const { root, zip, before } = restoreScene('target');
    chownSync(join(root, 'srv'), 0, 0);
    const r = rollback(root, zip, '--log-dir', 'logs');
    expect(r.code).toBe(1);
    expectOneLine(
      r.stderr,
      `cannot create the directory ${stateDir(join(root, 'srv'))}`,
      /must be able to write to .*: run as its owner, or fix its mode/,
    );
    expect(snapshot(join(root, 'srv'))).toEqual(before);
    expect(existsSync(stateDir(join(root, 'srv')))).toBe(false);
  });

  it('a root directory in the target it cannot move aside: refused before staging, unchanged, no state left', () => {
    const { root, zip, before } = restoreScene('root');
    chownSync(join(root, 'srv/app'), 0, 0); // a directory's ".." must be writable to move it
    const r = rollback(root, zip, '--log-dir', 'logs');
    expect(r.code).toBe(1);
    expectOneLine(
      r.stderr,
      `cannot replace ${join(root, 'srv/app')}`,
      /run as a user that can \(its owner or root\), or fix its mode; nothing was changed/,
    );
    expect(snapshot(join(root, 'srv'))).toEqual(before);
    expect(existsSync(stateDir(join(root, 'srv')))).toBe(false);
  });

  it('a log directory it cannot write: exit 2, one line naming the log, unchanged', () => {
    const { root, zip, before } = restoreScene('log');
    chownSync(join(root, 'logs'), 0, 0);
    const r = rollback(root, zip, '--log-dir', 'logs');
    expect(r.code).toBe(2);
    expectOneLine(
      r.stderr,
      `cannot create ${join(root, 'logs/rollback.log')}`,
      /choose a writable --log-dir/,
    );
    expect(snapshot(join(root, 'srv'))).toEqual(before);
  });

  it('a directory in the target it cannot read (the live-tree check reads it all): refused, unchanged', () => {
    const { root, zip } = restoreScene('unreadable');
    expect(rollback(root, zip, '--log-dir', 'logs').code).toBe(0); // records the deployed tree
    mkdirSync(join(root, 'srv/private'), { mode: 0o700 }); // root's, not nobody's
    writeFileSync(join(root, 'srv/private/key'), 'k\n');
    const before = snapshot(join(root, 'srv'));
    const r = rollback(root, zip, '--log-dir', 'logs');
    expect(r.code).toBe(1);
    expectOneLine(
      r.stderr,
      `cannot read the directory ${join(root, 'srv/private')}`,
      /permission denied: run as a user that can read it, or fix its mode/,
    );
    expect(snapshot(join(root, 'srv'))).toEqual(before);
  });
});

describe('a swap that fails part-way is undone', () => {
  it('the roots already swapped go back, the journal is removed, the live tree is as it was', () => {
    const root = scratch('undo');
    const target = join(root, 'live');
    for (const name of ['a', 'b']) {
      mkdirSync(join(target, name), { recursive: true });
      writeFileSync(join(target, name, 'f'), `old ${name}\n`);
    }
    const staging = join(stateDir(target), 'staging-x');
    for (const name of ['a', 'b']) {
      mkdirSync(join(staging, name), { recursive: true });
      writeFileSync(join(staging, name, 'f'), `new ${name}\n`);
    }
    const previous = uniqueDirectory(join(stateDir(target), 'pre-rollback'), '20261123T220000Z');
    // Something already occupies b's place among the previous versions: b's move aside fails
    // after a was swapped in.
    mkdirSync(join(previous, 'b'));
    const before = snapshot(target);
    const journal: SwapJournal = {
      format: 'guarded-rollout-swap/1',
      target,
      staging,
      previous,
      roots: [
        { name: 'a', hadLive: true },
        { name: 'b', hadLive: true },
      ],
      startedAt: '2026-11-23T22:00:00.000Z',
    };
    expect(() => swapRoots(journal)).toThrow(/both .*\/live\/b and .*\/b exist/);
    expect(snapshot(target)).toEqual(before);
    expect(existsSync(join(stateDir(target), 'swap.json'))).toBe(false);
    expect(readdirSync(join(staging)).sort()).toEqual(['a', 'b']); // staged tree intact
    expect(() => accessSync(join(staging, 'a/f'), constants.R_OK)).not.toThrow();
  });
});
