// Zip64 limits: one file over 4 GiB, and more than 65,535 entries. Minutes of I/O, so behind
// GR_BIG_TESTS=1 (the benchmark machine runs them; CI does not).
import { describe, it, expect } from '@jest/globals';
import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { createBackup, restoreBackup } from '../src/index.js';
import { sh, tempRoot } from './fixtures.js';

const big = process.env.GR_BIG_TESTS === '1' ? describe : describe.skip;
const T0 = new Date('2026-11-23T22:00:00Z');

big('Zip64 (GR_BIG_TESTS=1)', () => {
  it('round-trips a sparse 4.5 GiB file (sizes and offsets past 4 GiB)', async () => {
    const root = tempRoot('zip64');
    mkdirSync(join(root, 'data'));
    const file = join(root, 'data/huge.img');
    const size = 4.5 * 1024 ** 3;
    const fd = openSync(file, 'w');
    writeSync(fd, 'head', 0);
    writeSync(fd, 'tail', size - 4);
    closeSync(fd);
    writeFileSync(join(root, 'data/after.txt'), 'an entry whose offset is past 4 GiB\n');
    const b = await createBackup({ environment: 'production', paths: ['data'], cwd: root, now: () => T0 });
    expect(sh(`unzip -t "${b.backupPath}"`, root).code).toBe(0);
    rmSync(file);
    // Zeros deflate ~1000:1: restored with default options (sizes come from the manifest).
    const r = await restoreBackup({
      environment: 'production',
      backupPath: b.backupPath,
      target: 'restored',
      cwd: root,
      now: () => T0,
    });
    expect(r.status).toBe('restored-unverified'); // no health URL: restored, not health-checked
    const restored = join(root, 'restored/data/huge.img');
    expect(statSync(restored).size).toBe(size);
    const tail = Buffer.alloc(4);
    const rfd = openSync(restored, 'r');
    (await import('node:fs')).readSync(rfd, tail, 0, 4, size - 4);
    closeSync(rfd);
    expect(tail.toString()).toBe('tail');
    expect(readFileSync(join(root, 'restored/data/after.txt'), 'utf8')).toContain('past 4 GiB');
    rmSync(root, { recursive: true, force: true });
  }, 900_000);

  it('round-trips 70,000 entries (more than 65,535)', async () => {
    const root = tempRoot('many');
    for (let d = 0; d < 70; d++) {
      mkdirSync(join(root, 'data', `d${d}`), { recursive: true });
      for (let f = 0; f < 1000; f++) writeFileSync(join(root, 'data', `d${d}`, `f${f}.txt`), `${d}/${f}\n`);
    }
    const b = await createBackup({ environment: 'production', paths: ['data'], cwd: root, now: () => T0 });
    expect(b.fileCount).toBe(70_000);
    expect(sh(`unzip -tq "${b.backupPath}"`, root).code).toBe(0);
    const r = await restoreBackup({
      environment: 'production',
      backupPath: b.backupPath,
      target: 'restored',
      cwd: root,
      now: () => T0,
    });
    expect(r.status).toBe('restored-unverified'); // no health URL: restored, not health-checked
    expect(readFileSync(join(root, 'restored/data/d69/f999.txt'), 'utf8')).toBe('69/999\n');
    rmSync(root, { recursive: true, force: true });
  }, 900_000);
});
