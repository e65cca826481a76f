// --keep-previous N: a restore keeps at most N previous versions of its target (its own
// included), deleting the oldest first once the swap is done (before staging only when the disk is
// short: trust.test.ts); a restore that fails loses none; names that are not the tool's are never
// touched; a deletion cut short is finished by the next restore.
import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '@guarded-rollout/config/errors';
import {
  createBackup,
  keptPreviousVersions,
  previousVersionsBeyond,
  restoreBackup,
  stateDir,
  type RestoreOptions,
} from '../src/index.js';
import { tempRoot } from './fixtures.js';
import { writeChecksum } from './rawzip.js';

const T0 = Date.parse('2026-11-23T22:00:00Z');

/** Backups of `app/release.txt` = "v1".."v4", and a target whose live app is "v0". */
async function scene(label: string) {
  const root = tempRoot(label);
  const backups: string[] = [];
  for (let v = 1; v <= 4; v++) {
    mkdirSync(join(root, `src${v}/app`), { recursive: true });
    writeFileSync(join(root, `src${v}/app/release.txt`), `v${v}`);
    const b = await createBackup({
      environment: 'production',
      paths: ['app'],
      cwd: join(root, `src${v}`),
      outDir: join(root, 'backups'),
      now: () => new Date(T0 + v * 1000),
    });
    backups.push(b.backupPath);
  }
  const target = join(root, 'live');
  mkdirSync(join(target, 'app'), { recursive: true });
  writeFileSync(join(target, 'app/release.txt'), 'v0');
  writeFileSync(join(target, 'other.txt'), 'not in any backup');
  let clock = T0 + 60_000;
  const restore = (v: number, extra: Partial<RestoreOptions> = {}) =>
    restoreBackup({
      environment: 'production',
      backupPath: backups[v - 1]!,
      target,
      cwd: root,
      now: () => new Date((clock += 1000)),
      ...extra,
    });
  const kept = () => keptPreviousVersions(target);
  /** The release each kept previous version holds, oldest first. */
  const keptReleases = () =>
    kept().map((name) =>
      readFileSync(join(stateDir(target), 'pre-rollback', name, 'app/release.txt'), 'utf8'),
    );
  const log = () => readFileSync(join(root, 'rollback.log'), 'utf8');
  return { root, target, restore, kept, keptReleases, log };
}

describe('--keep-previous', () => {
  it('lists only the names the tool gives previous versions, oldest first (-10 after -9)', () => {
    const target = join(tempRoot('keep-names'), 'live');
    const names = [
      '20261123T220000Z-10',
      '20261123T220000Z',
      '20261123T215959Z',
      '20261123T220000Z-9',
      '20261123T220000Z-2',
      'notes',
      '20261123T220000Z-1',
      '20261123T220000Z-02',
      '20261123T220000Z.bak',
    ];
    for (const name of names) mkdirSync(join(stateDir(target), 'pre-rollback', name), { recursive: true });
    expect(keptPreviousVersions(target)).toEqual([
      '20261123T215959Z',
      '20261123T220000Z',
      '20261123T220000Z-2',
      '20261123T220000Z-9',
      '20261123T220000Z-10',
    ]);
    expect(previousVersionsBeyond(target, 2)).toEqual([
      '20261123T215959Z',
      '20261123T220000Z',
      '20261123T220000Z-2',
    ]);
    expect(previousVersionsBeyond(target, 10)).toEqual([]);
    expect(keptPreviousVersions(join(target, 'nowhere'))).toEqual([]);
  });

  it("keeps the newest N, this restore's included, deleting the oldest first; nothing else is touched", async () => {
    const s = await scene('keep-newest');
    mkdirSync(join(stateDir(s.target), 'pre-rollback/notes'), { recursive: true }); // not the tool's
    writeFileSync(join(stateDir(s.target), 'pre-rollback/notes/why.txt'), 'kept by hand');
    // Without the option every previous version is kept.
    for (const v of [1, 2, 3]) expect((await s.restore(v)).status).toBe('restored-unverified');
    expect(s.keptReleases()).toEqual(['v0', 'v1', 'v2']);
    // --keep-previous 2: room for the version this restore keeps, so one older one stays.
    const r = await s.restore(4, { keepPrevious: 2 });
    expect(r.status).toBe('restored-unverified');
    expect(s.keptReleases()).toEqual(['v2', 'v3']);
    expect(r.previousTree).toBe(join(stateDir(s.target), 'pre-rollback', s.kept()[1]!));
    expect(s.log()).toMatch(
      /keep-previous 2: 2 older previous versions deleted\n {2}removed previous version \S+\n {2}removed previous version \S+\n/,
    );
    expect(readFileSync(join(s.target, 'app/release.txt'), 'utf8')).toBe('v4');
    expect(readFileSync(join(s.target, 'other.txt'), 'utf8')).toBe('not in any backup');
    expect(readFileSync(join(stateDir(s.target), 'pre-rollback/notes/why.txt'), 'utf8')).toBe('kept by hand');
    // --keep-previous 1: only the version this restore replaces.
    expect((await s.restore(1, { keepPrevious: 1 })).status).toBe('restored-unverified');
    expect(s.keptReleases()).toEqual(['v4']);
    expect(readdirSync(stateDir(s.target)).sort()).toEqual(['pre-rollback']); // nothing half-deleted
    // Already within the limit: nothing to delete, and it says so.
    expect((await s.restore(2, { keepPrevious: 3 })).status).toBe('restored-unverified');
    expect(s.keptReleases()).toEqual(['v4', 'v1']);
    expect(s.log()).toMatch(/keep-previous 3: no previous version to delete\n/);
  });

  it('deletes only once the swap is done: a restore that fails at staging loses no previous version', async () => {
    const s = await scene('keep-after-swap');
    for (const v of [1, 2, 3]) await s.restore(v);
    expect(s.keptReleases()).toEqual(['v0', 'v1', 'v2']);
    // Backup 4 with its file's bytes changed and the checksum recomputed: it passes every check
    // before staging, and its CRC-32 stops it while it is staged.
    const zip = join(
      s.root,
      'backups',
      readdirSync(join(s.root, 'backups'))
        .filter((n) => n.endsWith('.zip'))
        .sort()[3]!,
    );
    const bytes = readFileSync(zip);
    const at = bytes.indexOf(Buffer.from('v4'));
    expect(at).toBeGreaterThan(0);
    bytes[at + 1] = '9'.charCodeAt(0);
    writeFileSync(zip, bytes);
    writeChecksum(zip);
    const failed = await s.restore(4, { keepPrevious: 1 });
    expect(failed.status).not.toMatch(/succeeded|restored/);
    expect(failed.message).toMatch(/CRC-32|corrupt/);
    expect(s.keptReleases()).toEqual(['v0', 'v1', 'v2']); // all still there
    expect(s.log()).not.toMatch(/removed previous version/);
    expect(readFileSync(join(s.target, 'app/release.txt'), 'utf8')).toBe('v3');
    // A restore that works deletes them after its swap: the log says swapped, then deleted.
    const r = await s.restore(1, { keepPrevious: 1 });
    expect(r.status).toBe('restored-unverified');
    expect(s.keptReleases()).toEqual(['v3']);
    expect(s.log()).toMatch(/swapped: app in .*\nkeep-previous 1: 3 older previous versions deleted\n/);
  });

  it('never deletes the version the restore just made, even when a clock set back gives it an older name', async () => {
    const s = await scene('keep-clock');
    await s.restore(1);
    // A version from "the future" (a clock that was ahead): it sorts after the one made now.
    const future = join(stateDir(s.target), 'pre-rollback', '20991231T235959Z');
    mkdirSync(join(future, 'app'), { recursive: true });
    writeFileSync(join(future, 'app/release.txt'), 'future');
    const r = await s.restore(2, { keepPrevious: 1 });
    expect(r.status).toBe('restored-unverified');
    expect(s.kept()).toEqual([r.previousTree!.split('/').pop()]);
    expect(s.keptReleases()).toEqual(['v1']); // the one this restore replaced
    expect(existsSync(future)).toBe(false);
  });

  it('a deleted version never lends its name to a later one of the same second', async () => {
    const s = await scene('keep-names-reuse');
    const same = { now: () => new Date(T0 + 3_600_000) }; // every restore in one second
    expect((await s.restore(1, same)).previousTree).toMatch(/\/20261123T230000Z$/);
    const seen = new Set(s.kept());
    for (const v of [2, 3, 4]) {
      const r = await s.restore(v, { ...same, keepPrevious: 1 });
      expect(r.status).toBe('restored-unverified');
      expect(s.kept()).toHaveLength(1);
      const [name] = s.kept();
      expect(seen.has(name!)).toBe(false); // a new name every time: S, S-2, S-3, S-4
      seen.add(name!);
      expect(r.previousTree).toBe(join(stateDir(s.target), 'pre-rollback', name!));
    }
    expect([...seen]).toEqual([
      '20261123T230000Z',
      '20261123T230000Z-2',
      '20261123T230000Z-3',
      '20261123T230000Z-4',
    ]);
    expect(s.keptReleases()).toEqual(['v3']);
  });

  // An immutable directory (chattr +i, root on ext4) cannot be renamed or emptied.
  const canChattr =
    process.getuid?.() === 0 &&
    (() => {
      const probe = join(tempRoot('keep-chattr-probe'), 'd');
      mkdirSync(probe);
      const ok = spawnSync('chattr', ['+i', probe]).status === 0;
      spawnSync('chattr', ['-i', probe]);
      return ok;
    })();
  (canChattr ? it : it.skip)(
    'a version that cannot be deleted is logged, left whole, and the restore goes on',
    async () => {
      const s = await scene('keep-stuck');
      for (const v of [1, 2]) await s.restore(v);
      const [stuck] = s.kept();
      const path = join(stateDir(s.target), 'pre-rollback', stuck!);
      expect(spawnSync('chattr', ['+i', path]).status).toBe(0);
      try {
        const r = await s.restore(3, { keepPrevious: 1 });
        expect(r.status).toBe('restored-unverified');
        expect(readFileSync(join(s.target, 'app/release.txt'), 'utf8')).toBe('v3');
        expect(s.log()).toContain(
          `keep-previous 1: 1 older previous version deleted, 1 could not be\n  could not remove previous version ${path} (EPERM); delete it by hand\n  removed previous version `,
        );
        expect(s.keptReleases()).toEqual(['v0', 'v2']); // the stuck one whole under its name, and the new one
      } finally {
        spawnSync('chattr', ['-i', path]);
      }
    },
  );

  it('a symlink named like a version is removed as a link: what it points to is untouched', async () => {
    const s = await scene('keep-symlink');
    await s.restore(1);
    const outside = join(s.root, 'outside');
    mkdirSync(join(outside, 'keep'), { recursive: true });
    writeFileSync(join(outside, 'keep/me.txt'), "not the tool's");
    symlinkSync(outside, join(stateDir(s.target), 'pre-rollback', '20200101T000000Z'));
    expect((await s.restore(2, { keepPrevious: 1 })).status).toBe('restored-unverified');
    expect(s.kept()).toHaveLength(1);
    expect(readFileSync(join(outside, 'keep/me.txt'), 'utf8')).toBe("not the tool's");
  });

  it('a dry run names what it would delete and deletes nothing', async () => {
    const s = await scene('keep-dry');
    for (const v of [1, 2, 3]) await s.restore(v);
    const r = await s.restore(4, { keepPrevious: 2, dryRun: true });
    expect(r.status).toBe('dry-run');
    expect(s.keptReleases()).toEqual(['v0', 'v1', 'v2']);
    const dry = readFileSync(join(s.root, 'rollback-dryrun.log'), 'utf8');
    const [oldest, next] = s.kept().map((name) => join(stateDir(s.target), 'pre-rollback', name));
    expect(dry).toContain(
      `keep-previous 2: would delete 2 older previous versions: ${oldest}, ${next} (after the swap)\n`,
    );
  });

  it('a deletion cut short (removing-<name> left by a kill) is finished by the next restore, with a note', async () => {
    const s = await scene('keep-interrupted');
    for (const v of [1, 2]) await s.restore(v);
    const [first] = s.kept();
    // What a kill -9 during the deletion leaves: the version renamed out of pre-rollback first, so
    // under its own name a version is always whole.
    renameSync(
      join(stateDir(s.target), 'pre-rollback', first!),
      join(stateDir(s.target), `removing-${first}`),
    );
    expect((await s.restore(3)).status).toBe('restored-unverified');
    expect(existsSync(join(stateDir(s.target), `removing-${first}`))).toBe(false);
    expect(s.log()).toContain(
      `note: removed ${join(stateDir(s.target), `removing-${first}`)}: a previous version whose deletion (--keep-previous) was interrupted`,
    );
    expect(s.keptReleases()).toEqual(['v1', 'v2']);
  });

  it('an empty previous-version directory (a restore killed before its journal) is removed by the next restore', async () => {
    const s = await scene('keep-empty');
    await s.restore(1);
    const empty = join(stateDir(s.target), 'pre-rollback', '20261123T215959Z');
    mkdirSync(empty);
    expect(s.kept()).toHaveLength(2);
    expect((await s.restore(2)).status).toBe('restored-unverified');
    expect(existsSync(empty)).toBe(false);
    expect(s.log()).toContain(
      `note: removed ${empty}: empty previous-version directory of a restore killed before its swap began`,
    );
    expect(s.keptReleases()).toEqual(['v0', 'v1']);
  });

  it('refuses a value that is not a whole number from 1 to 10000, naming it, before anything is read', async () => {
    const s = await scene('keep-bad');
    for (const bad of [0, -1, 1.5, 10_001, Number.NaN]) {
      const error = await s.restore(1, { keepPrevious: bad }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(/^keep-previous: \S+ is not a whole number from 1 to 10000/);
    }
    expect(existsSync(join(s.root, 'rollback.log'))).toBe(false);
    expect(existsSync(stateDir(s.target))).toBe(false);
    rmSync(s.root, { recursive: true, force: true });
  });
});
