import { describe, it, expect } from '@jest/globals';
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  createBackup,
  findLatestBackup,
  restoreBackup,
  verifyBackup,
  listBackups,
  MANIFEST_ENTRY,
} from '../src/index.js';
import { parseEvidenceLog } from '@guarded-rollout/evidence';
import { makeTree, sh, snapshot, tempRoot } from './fixtures.js';

const T0 = new Date('2026-11-23T22:00:00Z');

describe('backup → restore round trip', () => {
  it('restores nested, empty, binary, text, unicode and spaced names byte for byte with modes', async () => {
    const root = tempRoot('rt');
    mkdirSync(join(root, 'data'));
    makeTree(join(root, 'data'));
    const before = snapshot(join(root, 'data'));
    const backup = await createBackup({
      environment: 'production',
      paths: ['.'],
      baseDir: 'data',
      cwd: root,
      now: () => T0,
      version: '1.2.3',
      commit: 'abc123',
    });
    expect(backup.backupPath).toBe(join(root, 'backups/dhash_production_20261123T220000Z.zip'));
    expect(backup.fileCount).toBe(7);
    expect(readFileSync(backup.sha256Path, 'utf8')).toBe(
      `${backup.sha256}  backups/dhash_production_20261123T220000Z.zip\n`,
    );

    const verified = await verifyBackup(backup.backupPath);
    expect(verified.manifest).toMatchObject({
      environment: 'production',
      version: '1.2.3',
      commit: 'abc123',
      createdAt: T0.toISOString(),
      fileCount: 7,
    });
    const blob = verified.manifest.entries.find((e) => e.path === 'nested/deeper/deepest/blob.bin');
    expect(blob).toMatchObject({ type: 'file', size: 300_000, mode: 0o644 });
    expect(blob?.sha256).toMatch(/^[0-9a-f]{64}$/);

    const result = await restoreBackup({
      environment: 'production',
      backupPath: backup.backupPath,
      target: 'restored',
      cwd: root,
      now: () => T0,
    });
    // No health URL: restored and verified byte for byte, but the service is not health-checked.
    expect(result).toMatchObject({ status: 'restored-unverified', verified: true });
    expect(snapshot(join(root, 'restored'))).toEqual(before);
    expect(existsSync(join(root, 'restored', MANIFEST_ENTRY))).toBe(false);
    const log = parseEvidenceLog(readFileSync(join(root, 'rollback.log'), 'utf8'));
    expect(log.problems).toEqual([]);
    expect(log.result).toMatchObject({ status: 'fail', kind: 'rollback', outcome: 'restored-unverified' });
  });

  it('passes unzip -t and the seed command run verbatim from the repo root', async () => {
    const root = tempRoot('seed');
    makeTree(join(root, 'srv'));
    // the backup is made from the repo root with its default output dir, as the runbook does
    mkdirSync(join(root, 'srv2'));
    const b = await createBackup({ environment: 'staging', paths: ['srv'], cwd: root, now: () => T0 });
    expect(sh(`unzip -t "${b.backupPath}"`, root)).toMatchObject({ code: 0 });
    const seed = sh(
      'LATEST_BACKUP=$(ls -1 backups/dhash_*.zip | sort -r | head -n1); sha256sum -c "${LATEST_BACKUP}.sha256"',
      root,
    );
    expect(seed).toEqual({ code: 0, out: 'backups/dhash_staging_20261123T220000Z.zip: OK\n' });
    // and the zip's names are relative
    const listing = sh(`unzip -Z1 "${b.backupPath}"`, root).out.split('\n').filter(Boolean);
    expect(listing).toContain('srv/nested/with space.txt');
    expect(listing.every((n) => !n.startsWith('/') && !n.includes('..'))).toBe(true);
  });

  it('stores random data and deflates text, and the output is never part of the next backup', async () => {
    const root = tempRoot('mix');
    makeTree(root);
    const first = await createBackup({ environment: 'dev', paths: ['.'], cwd: root, now: () => T0 });
    const second = await createBackup({
      environment: 'dev',
      paths: ['.'],
      cwd: root,
      now: () => new Date(T0.getTime() + 1000),
    });
    const names = sh(
      `unzip -Zv "${second.backupPath}" | grep -E "file system or operating system|compression method|^Central directory entry"`,
      root,
    ).out;
    expect(names).not.toContain('backups/');
    const v = sh(`unzip -v "${first.backupPath}"`, root).out;
    expect(v).toMatch(/300000\s+Stored\s+300000.*blob\.bin/);
    expect(v).toMatch(/6000\s+Defl:N\s+\d+.*readme\.txt/);
  });

  it('keeps the newest N backups per environment and lists only complete ones', async () => {
    const root = tempRoot('keep');
    writeFileSync(join(root, 'f.txt'), 'x');
    for (let i = 0; i < 4; i++)
      await createBackup({
        environment: 'production',
        paths: ['f.txt'],
        cwd: root,
        keep: 2,
        now: () => new Date(T0.getTime() + i * 1000),
      });
    await createBackup({ environment: 'staging', paths: ['f.txt'], cwd: root, keep: 2, now: () => T0 });
    // an interrupted backup (zip but no .sha256) is never "latest"
    writeFileSync(join(root, 'backups/dhash_production_20991231T000000Z.zip'), 'partial');
    const files = readdirSync(join(root, 'backups')).sort();
    expect(files).toEqual([
      'dhash_production_20261123T220002Z.zip',
      'dhash_production_20261123T220002Z.zip.sha256',
      'dhash_production_20261123T220003Z.zip',
      'dhash_production_20261123T220003Z.zip.sha256',
      'dhash_production_20991231T000000Z.zip',
      'dhash_staging_20261123T220000Z.zip',
      'dhash_staging_20261123T220000Z.zip.sha256',
    ]);
    expect(findLatestBackup(join(root, 'backups'), 'production')).toBe(
      join(root, 'backups/dhash_production_20261123T220003Z.zip'),
    );
    expect(listBackups(join(root, 'backups'), 'prod')).toEqual([]);
  });

  it('includes the files a dump command writes, under _dump/', async () => {
    const root = tempRoot('dump');
    writeFileSync(join(root, 'f.txt'), 'x');
    const b = await createBackup({
      environment: 'production',
      paths: ['f.txt'],
      cwd: root,
      dumpCommand: 'echo "CREATE TABLE hashes;" > "$GUARDED_ROLLOUT_DUMP_DIR/db.sql"',
      now: () => T0,
    });
    const v = await verifyBackup(b.backupPath);
    // In archive order: the tree first, then what the dump command wrote.
    expect(v.manifest.entries.map((e) => e.path)).toEqual(['f.txt', '_dump', '_dump/db.sql']);
    expect(readdirSync(join(root, 'backups')).filter((n) => n.startsWith('.'))).toEqual([]);
    await expect(
      createBackup({
        environment: 'production',
        paths: ['f.txt'],
        cwd: root,
        dumpCommand: 'exit 3',
        now: () => T0,
      }),
    ).rejects.toThrow(/dump command exited with code 3; no backup was written/);
  });

  it('dry-run writes backup-dryrun.log in the evidence format and changes nothing', async () => {
    const root = tempRoot('dry');
    makeTree(root);
    const r = await createBackup({
      environment: 'production',
      paths: ['nested', 'run.sh'],
      cwd: root,
      dryRun: true,
      now: () => T0,
    });
    expect(existsSync(join(root, 'backups'))).toBe(false);
    const text = readFileSync(join(root, 'backup-dryrun.log'), 'utf8');
    const log = parseEvidenceLog(text);
    expect(log.problems).toEqual([]);
    expect(log.result).toMatchObject({
      status: 'pass',
      kind: 'backup-dryrun',
      file_count: r.fileCount,
      total_bytes: r.totalBytes,
    });
    expect(text).toContain('file nested/deeper/deepest/blob.bin (300000 bytes)');
    expect(text).toMatch(/free disk at destination: \d+ bytes/);
  });
});

describe('trees of a common shape', () => {
  it('many small files with empty ones (__init__.py, .gitkeep), a large file, then more small files', async () => {
    // It crashed with "internal error: ... is not a function": a batch holding an empty file cost
    // the compression pool a slot that was never reused; after four such batches (or a large
    // file, which sends the batch being filled) the next small file found none free.
    const root = tempRoot('empties');
    const app = join(root, 'src/app');
    for (const dir of ['lib', 'models', 'zz']) mkdirSync(join(app, dir), { recursive: true });
    for (let i = 0; i < 400; i++) writeFileSync(join(app, 'lib', `m${i}.py`), i % 5 ? `x = ${i}\n` : '');
    writeFileSync(join(app, 'models/weights.bin'), Buffer.alloc(3 * 1024 * 1024, 7));
    for (let i = 0; i < 300; i++) writeFileSync(join(app, 'zz', `t${i}.txt`), i % 4 ? `t${i}\n` : '');
    const b = await createBackup({
      environment: 'production',
      paths: ['app'],
      cwd: join(root, 'src'),
      now: () => T0,
    });
    expect(b.fileCount).toBe(701);
    expect(sh(`unzip -tq '${b.backupPath}'`, root).code).toBe(0);
    expect(sh(`sha256sum -c --quiet '${b.sha256Path}'`, join(root, 'src')).code).toBe(0);
    const r = await restoreBackup({
      environment: 'production',
      backupPath: b.backupPath,
      target: 'live',
      cwd: root,
      now: () => T0,
    });
    expect(r.status).toBe('restored-unverified');
    expect(snapshot(join(root, 'live/app'))).toEqual(snapshot(app));
  });
});

describe('backup refuses what a restore would refuse', () => {
  it.each([
    ['an absolute symlink', '/etc/passwd', /symlink "bad" points outside the target \(to "\/etc\/passwd"\)/],
    ['a symlink leaving the tree', '../../outside', /symlink "bad" points outside the target/],
    ['a symlink with ".." after a name', 'nested/../readme.txt', /has "\.\." after a name/],
  ])('%s', async (_label, target, message) => {
    const root = tempRoot('badlink');
    makeTree(root);
    symlinkSync(target, join(root, 'bad'));
    await expect(
      createBackup({ environment: 'dev', paths: ['.'], cwd: root, now: () => T0 }),
    ).rejects.toThrow(message);
    expect(
      existsSync(join(root, 'backups'))
        ? readdirSync(join(root, 'backups')).filter((n) => n.endsWith('.zip'))
        : [],
    ).toEqual([]);
  });
});
