// Sparse files (a database or image file with holes) come back sparse: the backup records what a
// large file took on disk when that is less than its size, and the restore leaves holes where
// whole blocks are zero (cp --sparse=auto's rule), counting those bytes for the free-disk check.
// A file of written zeros is not sparse and comes back fully allocated.
import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SparseWriter, createBackup, restoreBackup, type BackupManifest } from '../src/index.js';
import { canMountTmpfs, tempRoot } from './fixtures.js';

const MiB = 1024 * 1024;
const onDisk = (path: string): number => statSync(path).blocks * 512;

/** A file of `size` bytes with data only at `at` (each a 4 KiB random block): holes elsewhere. */
function sparseFile(path: string, size: number, at: number[]): Buffer {
  const fd = openSync(path, 'w');
  const whole = Buffer.alloc(size);
  for (const offset of at) {
    const block = randomBytes(Math.min(4096, size - offset));
    writeSync(fd, block, 0, block.length, offset);
    block.copy(whole, offset);
  }
  closeSync(fd);
  spawnSync('truncate', ['-s', String(size), path]);
  return whole;
}

const manifestOf = (zip: string): BackupManifest =>
  JSON.parse(
    spawnSync('unzip', ['-p', zip, '.guarded-rollout-backup.json'], { encoding: 'utf8' }).stdout,
  ) as BackupManifest;

describe('sparse files', () => {
  it('come back with their holes, byte for byte; written zeros come back allocated (unzip -t, sha256sum -c)', async () => {
    const root = tempRoot('sparse');
    mkdirSync(join(root, 'src/db'), { recursive: true });
    // Data at the start, in the middle (not block-aligned) and in the last block; a file ending
    // in a hole; and 3 MiB of written zeros (allocated, so not sparse).
    const images = {
      'db/main.db': sparseFile(join(root, 'src/db/main.db'), 64 * MiB, [0, 20 * MiB + 1000, 64 * MiB - 4096]),
      'db/tail-hole.img': sparseFile(join(root, 'src/db/tail-hole.img'), 40 * MiB, [4096]),
      'db/zeros.bin': Buffer.alloc(3 * MiB),
    };
    writeFileSync(join(root, 'src/db/zeros.bin'), images['db/zeros.bin']);
    expect(onDisk(join(root, 'src/db/main.db'))).toBeLessThan(MiB); // the premise: holes
    expect(onDisk(join(root, 'src/db/zeros.bin'))).toBeGreaterThanOrEqual(3 * MiB);

    const b = await createBackup({ environment: 'production', paths: ['db'], cwd: join(root, 'src') });
    expect(spawnSync('unzip', ['-tq', b.backupPath]).status).toBe(0);
    expect(
      spawnSync('sha256sum', ['-c', `${b.backupPath}.sha256`], { cwd: dirname(dirname(b.backupPath)) })
        .status,
    ).toBe(0);
    const entries = new Map(manifestOf(b.backupPath).entries.map((e) => [e.path, e]));
    expect(entries.get('db/main.db')!.allocated).toBe(onDisk(join(root, 'src/db/main.db')));
    expect(entries.get('db/tail-hole.img')!.allocated).toBe(onDisk(join(root, 'src/db/tail-hole.img')));
    expect(entries.get('db/zeros.bin')!.allocated).toBeUndefined();

    const target = join(root, 'live');
    const r = await restoreBackup({ environment: 'production', backupPath: b.backupPath, target, cwd: root });
    expect(r.status).toBe('restored-unverified');
    for (const [path, bytes] of Object.entries(images)) {
      expect(statSync(join(target, path)).size).toBe(bytes.length);
      expect(readFileSync(join(target, path)).equals(bytes)).toBe(true);
    }
    // Holes where the source had them (a block of slack per data block for alignment).
    expect(onDisk(join(target, 'db/main.db'))).toBeLessThanOrEqual(
      onDisk(join(root, 'src/db/main.db')) + 3 * 4096,
    );
    expect(onDisk(join(target, 'db/tail-hole.img'))).toBeLessThanOrEqual(64 * 1024);
    expect(onDisk(join(target, 'db/zeros.bin'))).toBeGreaterThanOrEqual(3 * MiB);
    expect(readFileSync(join(root, 'rollback.log'), 'utf8')).toMatch(
      /\nsparse: 2 files \(104\.0 MiB\) took \S+ KiB on disk when backed up; restored with holes where whole blocks are zero\n/,
    );
  });

  (canMountTmpfs() ? it : it.skip)(
    'a 256 MiB sparse file restores onto a 4 MiB disk: the free-disk check counts what it takes',
    async () => {
      const root = tempRoot('sparse-small-disk');
      mkdirSync(join(root, 'src/db'), { recursive: true });
      const whole = sparseFile(join(root, 'src/db/huge.db'), 256 * MiB, [0, 128 * MiB, 256 * MiB - 4096]);
      const b = await createBackup({ environment: 'production', paths: ['db'], cwd: join(root, 'src') });
      const disk = join(root, 'disk');
      mkdirSync(disk);
      expect(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', disk]).status).toBe(0);
      try {
        const r = await restoreBackup({
          environment: 'production',
          backupPath: b.backupPath,
          target: join(disk, 'live'),
          cwd: root,
        });
        expect(r.status).toBe('restored-unverified');
        expect(readFileSync(join(disk, 'live/db/huge.db')).equals(whole)).toBe(true);
        expect(onDisk(join(disk, 'live/db/huge.db'))).toBeLessThanOrEqual(64 * 1024);
      } finally {
        spawnSync('umount', [disk]);
      }
    },
    120_000,
  );

  it('SparseWriter: pieces of any length and alignment give the same bytes, zero blocks as holes', () => {
    const dir = tempRoot('sparse-writer');
    const expected: Buffer[] = [];
    const path = join(dir, 'f');
    const fd = openSync(path, 'w');
    const w = new SparseWriter(fd);
    // Zero runs and data of lengths that straddle block boundaries, then 8 MiB of zeros at the end.
    for (const [len, zero] of [
      [1000, false],
      [5000, true],
      [4096 * 3 + 1, false],
      [3 * MiB + 7, true],
      [4095, false],
      [1, true],
      [8 * MiB, true],
    ] as const) {
      const piece = zero ? Buffer.alloc(len) : randomBytes(len);
      expected.push(piece);
      w.write(piece);
    }
    w.finish();
    closeSync(fd);
    const all = Buffer.concat(expected);
    expect(readFileSync(path).equals(all)).toBe(true);
    expect(onDisk(path)).toBeLessThan(64 * 1024); // 11 MiB of zeros left as holes
  });
});
