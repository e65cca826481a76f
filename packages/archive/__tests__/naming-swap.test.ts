// Items 1, 4 and 5 of issue 14: names that never repeat and still sort for the seed's `ls`, one
// backup per environment at a time, leftovers swept with a note; a restore replaces exactly the
// backup's roots and keeps each previous version under a unique name; the swap is journaled and
// an interrupted one is finished by the next command; one restore of a target at a time.
import { describe, it, expect } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import {
  acquireLock,
  applyRetention,
  backupLockPath,
  createBackup,
  findLatestBackup,
  listBackups,
  lockTarget,
  restoreBackup,
  stateDir,
  writeFileAtomic,
  type SwapJournal,
} from '../src/index.js';
import { sh, tempRoot } from './fixtures.js';

const T0 = new Date('2026-11-23T22:00:00.250Z');

function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  });
  return Number(r.stdout);
}

function workspace(label: string): string {
  const root = tempRoot(label);
  mkdirSync(join(root, 'config'), { recursive: true });
  mkdirSync(join(root, 'data/sub'), { recursive: true });
  writeFileSync(join(root, 'config/app.json'), '{"v":1}\n');
  writeFileSync(join(root, 'data/sub/rows.csv'), 'a,b\n1,2\n');
  writeFileSync(join(root, 'README.md'), 'not backed up\n');
  return root;
}

describe('backup names never repeat and still sort for the seed command', () => {
  it('three backups in the same second get three names, in order, each with its own .sha256', async () => {
    const root = workspace('same-second');
    const made: string[] = [];
    for (let i = 0; i < 3; i++) {
      writeFileSync(join(root, 'config/app.json'), `{"v":${i}}\n`);
      const b = await createBackup({
        environment: 'production',
        paths: ['config'],
        cwd: root,
        now: () => T0,
      });
      made.push(b.backupPath.split('/').pop()!);
    }
    expect(made).toEqual([
      'dhash_production_20261123T220000Z.zip',
      'dhash_production_20261123T220001Z.zip',
      'dhash_production_20261123T220002Z.zip',
    ]);
    // The seed's commands, verbatim, pick the newest and its checksum verifies (C and UTF-8 locales).
    for (const locale of ['C', 'C.UTF-8']) {
      const r = sh(
        `export LC_ALL=${locale}; LATEST_BACKUP=$(ls -1 backups/dhash_*.zip | sort -r | head -n1); sha256sum -c "\${LATEST_BACKUP}.sha256" && echo "$LATEST_BACKUP"`,
        root,
      );
      expect(r.code).toBe(0);
      expect(r.out).toContain('backups/dhash_production_20261123T220002Z.zip');
    }
    // A clock that steps back never reuses or undercuts a name.
    const back = await createBackup({
      environment: 'production',
      paths: ['config'],
      cwd: root,
      now: () => new Date('2026-11-23T21:00:00Z'),
    });
    expect(back.backupPath).toMatch(/dhash_production_20261123T220003Z\.zip$/);
  });

  it('a second backup of the environment while one runs is refused, naming the holder', async () => {
    const root = workspace('busy');
    mkdirSync(join(root, 'backups'));
    const lock = acquireLock(
      backupLockPath(join(root, 'backups'), 'dhash', 'production'),
      'a backup of environment "production"',
    );
    try {
      await expect(
        createBackup({ environment: 'production', paths: ['config'], cwd: root, now: () => T0 }),
      ).rejects.toThrow(/a backup of environment "production" is already running \(pid \d+/);
      // Another environment is not blocked.
      await expect(
        createBackup({ environment: 'staging', paths: ['config'], cwd: root, now: () => T0 }),
      ).resolves.toMatchObject({ dryRun: false });
    } finally {
      lock.release();
    }
    expect(readdirSync(join(root, 'backups')).filter((n) => n.startsWith('dhash_production'))).toEqual([]);
  });

  it("sweeps leftovers of interrupted backups, one note each, and takes over a dead holder's lock", async () => {
    const root = workspace('sweep');
    const out = join(root, 'backups');
    mkdirSync(out);
    const dead = deadPid();
    writeFileSync(join(out, 'dhash_production_20261123T210000Z.zip'), 'zip whose .sha256 never came');
    writeFileSync(join(out, `.dhash_production_20261123T210500Z.zip.partial-${dead}`), 'half a zip');
    writeFileSync(join(out, 'dhash_production_20261123T211000Z.zip.sha256'), `${'0'.repeat(64)}  x\n`);
    mkdirSync(join(out, `.dump-production-${dead}-abc`));
    // A stale lock moved aside by a run killed before it deleted it.
    writeFileSync(`${backupLockPath(out, 'dhash', 'production')}.stale-${dead}`, '{}');
    writeFileSync(join(out, 'dhash_staging_20261123T210000Z.zip'), 'another environment: not ours to sweep');
    writeFileSync(
      backupLockPath(out, 'dhash', 'production'),
      JSON.stringify({ pid: dead, host: hostname(), startedAt: 'then', purpose: 'x' }),
    );
    const b = await createBackup({ environment: 'production', paths: ['config'], cwd: root, now: () => T0 });
    expect(b.notes.join('\n')).toMatch(/took over the lock .* which is no longer running/);
    expect(b.notes.filter((n) => n.startsWith('removed '))).toHaveLength(4);
    expect(readdirSync(out).sort()).toEqual([
      'dhash_production_20261123T220000Z.zip',
      'dhash_production_20261123T220000Z.zip.sha256',
      'dhash_staging_20261123T210000Z.zip',
    ]);
  });
});

describe('the .sha256 is written before the zip takes its name', () => {
  it('a kill between the two leaves an orphan .sha256 the seed never picks; the next backup sweeps it and never reuses its name', async () => {
    const root = workspace('orphan-sidecar');
    const out = join(root, 'backups');
    const b1 = await createBackup({ environment: 'production', paths: ['config'], cwd: root, now: () => T0 });
    writeFileSync(join(root, 'config/app.json'), '{"v":2}\n');
    const later = new Date(T0.getTime() + 60_000);
    const b2 = await createBackup({
      environment: 'production',
      paths: ['config'],
      cwd: root,
      now: () => later,
    });
    // The state a kill -9 leaves between writing the .sha256 and linking the zip to its name:
    // the fsynced temp zip of a dead process and the .sha256, no `dhash_*.zip` of that name.
    const dead = deadPid();
    const b2Name = b2.backupPath.split('/').pop()!;
    renameSync(b2.backupPath, join(out, `.${b2Name}.partial-${dead}`));
    expect(readdirSync(out)).toContain(`${b2Name}.sha256`);
    // The seed's commands, verbatim, pick the previous complete backup, and it verifies.
    const seed = sh(
      'LATEST_BACKUP=$(ls -1 backups/dhash_*.zip | sort -r | head -n1); sha256sum -c "${LATEST_BACKUP}.sha256" && echo "$LATEST_BACKUP"',
      root,
    );
    expect(seed.code).toBe(0);
    expect(seed.out).toContain(`backups/${b1.backupPath.split('/').pop()}`);
    // latest-backup, --latest and retention ignore the orphan.
    expect(listBackups(out, 'production')).toEqual([b1.backupPath]);
    expect(findLatestBackup(out, 'production')).toBe(b1.backupPath);
    expect(applyRetention(out, 'production', 1)).toEqual([]);
    expect(existsSync(b1.backupPath)).toBe(true);
    // The next backup, in the very second of the orphan's name: swept with one note each, and
    // the name is not reused.
    const b3 = await createBackup({
      environment: 'production',
      paths: ['config'],
      cwd: root,
      now: () => later,
    });
    expect([...b3.notes].sort()).toEqual([
      `removed ${join(out, `.${b2Name}.partial-${dead}`)}: temp file of an interrupted backup (pid ${dead} is gone)`,
      `removed ${join(out, `${b2Name}.sha256`)}: orphan checksum file: its zip is missing (a backup interrupted before the zip took its name, or the zip was deleted)`,
    ]);
    expect(b3.backupPath).toBe(join(out, 'dhash_production_20261123T220101Z.zip'));
    expect(readdirSync(out).sort()).toEqual([
      'dhash_production_20261123T220000Z.zip',
      'dhash_production_20261123T220000Z.zip.sha256',
      'dhash_production_20261123T220101Z.zip',
      'dhash_production_20261123T220101Z.zip.sha256',
    ]);
  });

  it('retention deletes each zip before its .sha256, and a later backup sweeps an orphan .sha256 only of its own environment', async () => {
    const root = workspace('retention-order');
    const out = join(root, 'backups');
    for (let i = 0; i < 3; i++)
      await createBackup({ environment: 'production', paths: ['config'], cwd: root, now: () => T0 });
    // Another environment's orphan is not ours to sweep.
    writeFileSync(join(out, 'dhash_staging_20261123T210000Z.zip.sha256'), `${'0'.repeat(64)}  x\n`);
    const r = await createBackup({
      environment: 'production',
      paths: ['config'],
      cwd: root,
      now: () => T0,
      keep: 2,
    });
    expect(r.deleted.map((d) => d.split('/').pop())).toEqual([
      'dhash_production_20261123T220001Z.zip',
      'dhash_production_20261123T220000Z.zip',
    ]);
    expect(readdirSync(out).sort()).toEqual([
      'dhash_production_20261123T220002Z.zip',
      'dhash_production_20261123T220002Z.zip.sha256',
      'dhash_production_20261123T220003Z.zip',
      'dhash_production_20261123T220003Z.zip.sha256',
      'dhash_staging_20261123T210000Z.zip.sha256',
    ]);
  });
});

/** The backup most of these scenes start from: config and data at the workspace root, at T0. */
const backupConfigAndData = (root: string) =>
  createBackup({ environment: 'production', paths: ['config', 'data'], cwd: root, now: () => T0 });
/** The restore they run: into the workspace root (--target .), at T0. */
const restoreAtRoot = (root: string, backupPath: string) =>
  restoreBackup({ environment: 'production', backupPath, target: '.', cwd: root, now: () => T0 });

describe('a restore replaces exactly the backup roots inside --target', () => {
  it('restores config and data at the workspace root and leaves everything else untouched', async () => {
    const root = workspace('roots');
    const b = await backupConfigAndData(root);
    writeFileSync(join(root, 'config/app.json'), '{"v":"bad"}\n');
    writeFileSync(join(root, 'config/new.json'), 'added after the backup\n');
    writeFileSync(join(root, 'other.txt'), 'not in the backup\n');
    const r = await restoreAtRoot(root, b.backupPath);
    expect(r.status).toBe('restored-unverified'); // no health URL: restored, not health-checked
    expect(readFileSync(join(root, 'config/app.json'), 'utf8')).toBe('{"v":1}\n');
    expect(existsSync(join(root, 'config/new.json'))).toBe(false);
    expect(readFileSync(join(root, 'other.txt'), 'utf8')).toBe('not in the backup\n');
    expect(readFileSync(join(root, 'README.md'), 'utf8')).toBe('not backed up\n');
    expect(existsSync(b.backupPath)).toBe(true); // backups/ is not a root: untouched
    const previous = join(stateDir(root), 'pre-rollback/20261123T220000Z');
    expect(r.previousTree).toBe(previous);
    expect(readFileSync(join(previous, 'config/app.json'), 'utf8')).toBe('{"v":"bad"}\n');
    expect(readFileSync(join(previous, 'config/new.json'), 'utf8')).toBe('added after the backup\n');
    // A second restore in the same second keeps the first previous version and adds its own.
    const r2 = await restoreAtRoot(root, b.backupPath);
    expect(r2.previousTree).toBe(`${previous}-2`);
    expect(existsSync(join(previous, 'config/new.json'))).toBe(true);
    const log = readFileSync(join(root, 'rollback.log'), 'utf8');
    expect(log).toContain('roots replaced inside the target: config, data');
  });

  it('--target is the directory that holds the roots: --target data gives data/data/...', async () => {
    const root = workspace('target-data');
    const b = await createBackup({ environment: 'production', paths: ['data'], cwd: root, now: () => T0 });
    const r = await restoreBackup({
      environment: 'production',
      backupPath: b.backupPath,
      target: 'data',
      cwd: root,
      now: () => T0,
    });
    expect(r.status).toBe('restored-unverified'); // no health URL: restored, not health-checked
    expect(readFileSync(join(root, 'data/data/sub/rows.csv'), 'utf8')).toBe('a,b\n1,2\n');
    expect(readFileSync(join(root, 'data/sub/rows.csv'), 'utf8')).toBe('a,b\n1,2\n');
  });
});

describe('the swap is journaled and serialised', () => {
  async function interrupted(label: string): Promise<{ root: string; journal: SwapJournal }> {
    const root = workspace(label);
    const b = await backupConfigAndData(root);
    writeFileSync(join(root, 'config/app.json'), '{"v":"bad"}\n');
    // Stage the backup by hand exactly as a restore does, then "die" after the first rename.
    const staging = join(stateDir(root), `staging-20261123T220000Z-${deadPid()}`);
    mkdirSync(staging, { recursive: true });
    sh(`unzip -q "${b.backupPath}" -x .guarded-rollout-backup.json -d "${staging}"`, root);
    const previous = join(stateDir(root), 'pre-rollback/20261123T220000Z');
    mkdirSync(previous, { recursive: true });
    const journal: SwapJournal = {
      format: 'guarded-rollout-swap/1',
      target: root,
      staging,
      previous,
      roots: [
        { name: 'config', hadLive: true },
        { name: 'data', hadLive: true },
      ],
      startedAt: T0.toISOString(),
    };
    writeFileAtomic(join(stateDir(root), 'swap.json'), JSON.stringify(journal));
    renameSync(join(root, 'config'), join(previous, 'config')); // killed here: no live config
    return { root, journal };
  }

  it('the next restore finishes an interrupted swap before anything else', async () => {
    const { root } = await interrupted('journal-restore');
    expect(existsSync(join(root, 'config'))).toBe(false);
    // Even a restore that is then refused (no such backup) repairs first.
    const r = await restoreAtRoot(root, 'backups/nope.zip');
    expect(r.status).toBe('refused');
    expect(readFileSync(join(root, 'config/app.json'), 'utf8')).toBe('{"v":1}\n');
    expect(readFileSync(join(stateDir(root), 'pre-rollback/20261123T220000Z/config/app.json'), 'utf8')).toBe(
      '{"v":"bad"}\n',
    );
    expect(existsSync(join(stateDir(root), 'swap.json'))).toBe(false);
    expect(readdirSync(stateDir(root)).filter((n) => n.startsWith('staging-'))).toEqual([]);
    expect(readFileSync(join(root, 'rollback.log'), 'utf8')).toMatch(
      /note: finished an interrupted restore of /,
    );
  });

  it('a restore killed while writing its journal left a half-written journal: the next restore sweeps it', async () => {
    // Found by the kill -9 loop: the swap had not begun (the journal never took its name), so the
    // live tree is untouched, and the temp file of the journal was never removed.
    const root = workspace('journal-partial');
    const b = await backupConfigAndData(root);
    const dead = deadPid();
    mkdirSync(join(stateDir(root), `staging-20261123T220000Z-${dead}`), { recursive: true });
    writeFileSync(join(stateDir(root), `.swap.json.partial-${dead}`), '{"format":"guarded-rollout-sw');
    const r = await restoreAtRoot(root, b.backupPath);
    expect(r.status).toBe('restored-unverified');
    expect(readdirSync(stateDir(root)).filter((n) => n !== 'pre-rollback')).toEqual([]);
    expect(readFileSync(join(root, 'rollback.log'), 'utf8')).toMatch(
      /note: removed .*\.swap\.json\.partial-\d+: half-written swap journal of a restore killed before its swap began/,
    );
  });

  it('a backup of the tree finishes an interrupted swap first, so it never captures half a swap', async () => {
    const { root } = await interrupted('journal-backup');
    const b = await createBackup({ environment: 'production', paths: ['config'], cwd: root, now: () => T0 });
    expect(b.notes.join('\n')).toMatch(/finished an interrupted restore/);
    expect(sh(`unzip -p "${b.backupPath}" config/app.json`, root).out).toBe('{"v":1}\n');
  });

  it('a second restore of the same target while one runs is refused honestly and changes nothing', async () => {
    const root = workspace('restore-busy');
    const b = await createBackup({ environment: 'production', paths: ['config'], cwd: root, now: () => T0 });
    writeFileSync(join(root, 'config/app.json'), 'live\n');
    const lock = lockTarget(root);
    try {
      const r = await restoreAtRoot(root, b.backupPath);
      expect(r.status).toBe('refused');
      expect(r.message).toMatch(
        /a restore into .* is already running \(pid \d+.*nothing was changed by this run/,
      );
      expect(readFileSync(join(root, 'rollback.log'), 'utf8')).not.toContain('was not changed');
    } finally {
      lock.release();
    }
    expect(readFileSync(join(root, 'config/app.json'), 'utf8')).toBe('live\n');
  });
});
