// Items 2, 3, 6 and 7 of issue 14 with real files and real tools: every backup the tool writes
// restores with default options (a corpus of hard names and contents, checked by `unzip -t`,
// `sha256sum -c` and a byte-for-byte comparison); modes and owners survive; a file rewritten
// while it is read is never stored torn; every error a user can meet is one line naming the file.
import { describe, it, expect } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createBackup, restoreBackup, verifyBackup } from '../src/index.js';
import { sh, snapshot, tempRoot } from './fixtures.js';

const T0 = new Date('2026-11-23T22:00:00Z');
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const asRoot = isRoot ? it : it.skip;
const huge = process.env.GR_HUGE_TESTS === '1' ? it : it.skip;

/** Runs `body` with `dir` a 4 MiB tmpfs (a disk that fills up), unmounted afterwards; skips it
 *  where this user may not mount. */
async function onSmallDisk(dir: string, body: () => Promise<void>): Promise<void> {
  mkdirSync(dir, { recursive: true });
  if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir]).status !== 0) return; // no mount rights
  try {
    await body();
  } finally {
    spawnSync('umount', [dir]);
  }
}

function mkfifo(path: string): void {
  expect(spawnSync('mkfifo', [path]).status).toBe(0);
}

/** The hard corpus: names and contents the previous version mangled or refused. */
function makeCorpus(dir: string): void {
  mkdirSync(join(dir, 'names'), { recursive: true });
  writeFileSync(join(dir, 'names/caf\u00e9.txt'), 'NFC');
  writeFileSync(join(dir, 'names/cafe\u0301.txt'), 'NFD'); // a different file on Linux
  writeFileSync(join(dir, 'names/back\\slash.txt'), 'backslash');
  writeFileSync(join(dir, 'C:notes'), 'top-level name that looks like a drive');
  writeFileSync(join(dir, 'names/ünïcødé-名前-😀.txt'), 'unicode');
  writeFileSync(join(dir, `names/${'n'.repeat(255)}`), '255-byte ASCII name');
  writeFileSync(join(dir, `names/${'名'.repeat(85)}`), '255-byte UTF-8 name');
  writeFileSync(join(dir, 'names/line\nbreak'), 'newline in the name');
  writeFileSync(join(dir, 'names/ leading and trailing space '), 'spaces');
  mkdirSync(join(dir, 'data'));
  writeFileSync(join(dir, 'data/zeros.bin'), Buffer.alloc(8 * 1024 * 1024)); // deflates ~1000:1
  const sparse = openSync(join(dir, 'data/sparse.db'), 'w');
  writeSync(sparse, 'end', 32 * 1024 * 1024); // preallocated, mostly holes
  closeSync(sparse);
  writeFileSync(join(dir, 'data/random.bin'), randomBytes(3 * 1024 * 1024));
  writeFileSync(join(dir, 'data/empty'), '');
  for (let i = 0; i < 100; i++) writeFileSync(join(dir, `data/zero-${i}.log`), Buffer.alloc(1024 * 1024 + 1));
}

describe('every backup the tool writes restores with default options', () => {
  it('round-trips the hard corpus (unzip -t, sha256sum -c, byte for byte)', async () => {
    const root = tempRoot('corpus');
    const src = join(root, 'src');
    makeCorpus(src);
    const b = await createBackup({
      environment: 'production',
      baseDir: 'src',
      paths: ['.'],
      cwd: root,
      now: () => T0,
    });
    expect(sh(`unzip -tq "${b.backupPath}"`, root).code).toBe(0);
    expect(sh(`sha256sum -c "${b.backupPath}.sha256"`, root).code).toBe(0);
    const r = await restoreBackup({
      environment: 'production',
      backupPath: b.backupPath,
      target: 'restored',
      cwd: root,
      now: () => T0,
    });
    expect(r).toMatchObject({ status: 'restored-unverified' });
    expect(snapshot(join(root, 'restored'))).toEqual(snapshot(src));
    expect(readdirSync(join(root, 'restored/names'))).toContain('cafe\u0301.txt'); // NFD stays NFD
    rmSync(root, { recursive: true, force: true });
  }, 120_000);

  it('restores many small files through the writer threads, byte for byte with modes', async () => {
    const root = tempRoot('pool');
    for (let i = 0; i < 600; i++) {
      mkdirSync(join(root, 'src/many', `d${i % 7}`), { recursive: true });
      const f = join(root, 'src/many', `d${i % 7}`, `f${i}.txt`);
      // Random (stored) and text (deflated) files; one stored file exactly the size of the read window.
      writeFileSync(
        f,
        i === 7 ? randomBytes(4 * 1024 * 1024) : i % 3 ? `file ${i}\n`.repeat(i) : randomBytes(i),
      );
      chmodSync(f, i % 2 ? 0o640 : 0o755);
    }
    const b = await createBackup({
      environment: 'production',
      baseDir: 'src',
      paths: ['many'],
      cwd: root,
      now: () => T0,
    });
    const r = await restoreBackup({
      environment: 'production',
      backupPath: b.backupPath,
      target: 'restored',
      cwd: root,
      now: () => T0,
    });
    expect(r.status).toBe('restored-unverified');
    expect(snapshot(join(root, 'restored'))).toEqual(snapshot(join(root, 'src')));
    rmSync(root, { recursive: true, force: true });
  });

  huge(
    'round-trips 1,000,001 files (GR_HUGE_TESTS=1)',
    async () => {
      const root = tempRoot('million');
      for (let d = 0; d < 1001; d++) {
        mkdirSync(join(root, 'm', `d${d}`), { recursive: true });
        for (let f = 0; f < (d === 1000 ? 1 : 1000); f++)
          writeFileSync(join(root, 'm', `d${d}`, `${f}`), `${d}/${f}`);
      }
      const b = await createBackup({ environment: 'production', paths: ['m'], cwd: root, now: () => T0 });
      expect(b.fileCount).toBe(1_000_001);
      const r = await restoreBackup({
        environment: 'production',
        backupPath: b.backupPath,
        target: 'restored',
        cwd: root,
        now: () => T0,
      });
      expect(r.status).toBe('restored-unverified');
      expect(readFileSync(join(root, 'restored/m/d1000/0'), 'utf8')).toBe('1000/0');
      expect(readFileSync(join(root, 'restored/m/d999/999'), 'utf8')).toBe('999/999');
      rmSync(root, { recursive: true, force: true });
    },
    3_600_000,
  );
});

describe('ownership and modes survive a restore', () => {
  asRoot(
    'restores owners (as root), setgid and sticky bits, and keeps the target root as it was',
    async () => {
      const root = tempRoot('owners');
      const app = join(root, 'src/app');
      mkdirSync(join(app, 'shared'), { recursive: true });
      mkdirSync(join(app, 'tmp'));
      writeFileSync(join(app, 'shared/config.ini'), 'k=v\n');
      writeFileSync(join(app, 'run.sh'), '#!/bin/sh\n');
      chownSync(app, 65534, 65534);
      chownSync(join(app, 'shared'), 65534, 65534);
      chownSync(join(app, 'shared/config.ini'), 65534, 65534);
      chmodSync(join(app, 'shared'), 0o2775);
      chmodSync(join(app, 'tmp'), 0o1777);
      chmodSync(join(app, 'shared/config.ini'), 0o640);
      chmodSync(join(app, 'run.sh'), 0o4755);
      const b = await createBackup({
        environment: 'production',
        baseDir: 'src',
        paths: ['app'],
        cwd: root,
        now: () => T0,
      });
      const manifest = (await verifyBackup(b.backupPath)).manifest;
      expect(manifest.entries.find((e) => e.path === 'app/shared')).toMatchObject({
        mode: 0o2775,
        uid: 65534,
        gid: 65534,
      });
      // The live target: its own root has its own owner and mode, which a restore must keep.
      const live = join(root, 'live');
      mkdirSync(join(live, 'app'), { recursive: true });
      chownSync(live, 65534, 65534);
      chmodSync(live, 0o750);
      const r = await restoreBackup({
        environment: 'production',
        backupPath: b.backupPath,
        target: 'live',
        cwd: root,
        now: () => T0,
      });
      expect(r.status).toBe('restored-unverified');
      const st = (p: string) => lstatSync(join(live, p));
      expect([st('').mode & 0o7777, st('').uid, st('').gid]).toEqual([0o750, 65534, 65534]);
      expect([st('app').uid, st('app/shared').mode & 0o7777, st('app/shared').gid]).toEqual([
        65534, 0o2775, 65534,
      ]);
      expect(st('app/tmp').mode & 0o7777).toBe(0o1777);
      expect([st('app/shared/config.ini').mode & 0o7777, st('app/shared/config.ini').uid]).toEqual([
        0o640, 65534,
      ]);
      expect(st('app/run.sh').mode & 0o7777).toBe(0o4755);
      rmSync(root, { recursive: true, force: true });
    },
  );
});

describe('consistent copies', () => {
  it('a file rewritten in place during the backup is never stored torn: re-read, or the backup names it', async () => {
    const root = tempRoot('torn');
    mkdirSync(join(root, 'db'));
    const file = join(root, 'db/table.dat');
    const size = 6 * 1024 * 1024;
    writeFileSync(file, Buffer.alloc(size, 'A'));
    // A writer that rewrites the file in place, block by block, alternating A and B (bounded: 20 s).
    const writer = spawn(process.execPath, [
      '-e',
      `const fs=require('fs');const fd=fs.openSync(${JSON.stringify(file)},'r+');const end=Date.now()+20000;let c=66;
       while(Date.now()<end){const b=Buffer.alloc(65536,c);for(let o=0;o<${size};o+=65536)fs.writeSync(fd,b,0,65536,o);c=c===65?66:65;}`,
    ]);
    try {
      await new Promise((r) => setTimeout(r, 300));
      const outcome = await createBackup({
        environment: 'production',
        paths: ['db'],
        cwd: root,
        now: () => T0,
      }).then(
        (b) => ({ ok: true as const, b }),
        (error: Error) => ({ ok: false as const, error }),
      );
      if (outcome.ok) {
        const data = spawnSync('unzip', ['-p', outcome.b.backupPath, 'db/table.dat'], {
          cwd: root,
          maxBuffer: 64 << 20,
        }).stdout;
        expect(data.length).toBe(size);
        const first = data[0]!;
        expect(data.every((x) => x === first)).toBe(true); // one state, never blocks of two
      } else {
        expect(outcome.error.message).toMatch(
          /db\/table\.dat kept changing while it was read \(3 attempts.*--dump-command/,
        );
        expect(readdirSync(join(root, 'backups')).filter((n) => !n.startsWith('.'))).toEqual([]);
      }
    } finally {
      writer.kill('SIGKILL');
    }
  }, 60_000);
});

describe('every error a user can meet is one line naming the file', () => {
  it('a FIFO in the tree is refused before it is opened (no hang), naming it', async () => {
    const root = tempRoot('fifo');
    mkdirSync(join(root, 'app'));
    writeFileSync(join(root, 'app/ok.txt'), 'x');
    mkfifo(join(root, 'app/pipe'));
    await expect(
      createBackup({ environment: 'production', paths: ['app'], cwd: root, now: () => T0 }),
    ).rejects.toThrow(
      /app\/pipe is a FIFO \(named pipe\); only regular files, directories and symlinks can be backed up/,
    );
    expect(existsSync(join(root, 'backups')) ? readdirSync(join(root, 'backups')) : []).toEqual([]);
  });

  it('a FIFO in place of the zip or of its .sha256 is refused at once', async () => {
    const root = tempRoot('fifo-zip');
    mkdirSync(join(root, 'live'));
    const zip = join(root, 'dhash_production_20261123T220000Z.zip');
    mkfifo(zip);
    writeFileSync(`${zip}.sha256`, `${'0'.repeat(64)}  ${zip}\n`);
    const r1 = await restoreBackup({
      environment: 'production',
      backupPath: zip,
      target: 'live',
      cwd: root,
      now: () => T0,
    });
    expect(r1).toMatchObject({ status: 'refused' });
    expect(r1.message).toMatch(/is not a regular file/);
    rmSync(zip);
    rmSync(`${zip}.sha256`);
    writeFileSync(zip, 'zip bytes');
    mkfifo(`${zip}.sha256`);
    const r2 = await restoreBackup({
      environment: 'production',
      backupPath: zip,
      target: 'live',
      cwd: root,
      now: () => T0,
    });
    expect(r2.message).toMatch(/\.sha256 is not a regular file/);
  });

  it('a name that is not valid UTF-8 is refused up front, naming it and the fix', async () => {
    const root = tempRoot('latin1');
    mkdirSync(join(root, 'app'));
    writeFileSync(Buffer.from(`${join(root, 'app')}/caf\xe9.txt`, 'latin1'), 'x');
    await expect(
      createBackup({ environment: 'production', paths: ['app'], cwd: root, now: () => T0 }),
    ).rejects.toThrow(/app\/caf.\.txt: the name is not valid UTF-8 \(bytes 636166e92e747874\).*rename it/);
  });

  asRoot('a full disk is reported as a full disk, and leaves no partial backup', async () => {
    const root = tempRoot('full');
    mkdirSync(join(root, 'app'));
    writeFileSync(join(root, 'app/big.bin'), randomBytes(12 * 1024 * 1024));
    const out = join(root, 'small-disk');
    await onSmallDisk(out, async () => {
      const error = await createBackup({
        environment: 'production',
        paths: ['app'],
        outDir: 'small-disk',
        cwd: root,
        now: () => T0,
      }).catch((e: Error) => e);
      expect((error as Error).message).toMatch(
        /cannot write the backup .*no space left on the device; free some space or choose another --out directory; nothing was kept/,
      );
      expect((error as Error).message.split('\n')).toHaveLength(1);
      expect(readdirSync(out)).toEqual([]);
    });
  });

  /** A restore onto `<root>/disk`, a 4 MiB tmpfs (onSmallDisk): `backup(dir)` backs up
   *  `<root>/<dir>/app`, `restore` restores into `<root>/disk/live`. */
  async function restoreOnSmallDisk(
    label: string,
    body: (scene: {
      root: string;
      target: string;
      backup: (dir: string) => Promise<string>;
      restore: (backupPath: string, at: number, keepPrevious?: number) => ReturnType<typeof restoreBackup>;
    }) => Promise<void>,
  ): Promise<void> {
    const root = tempRoot(label);
    const target = join(root, 'disk/live');
    await onSmallDisk(join(root, 'disk'), () =>
      body({
        root,
        target,
        backup: async (dir) =>
          (
            await createBackup({
              environment: 'production',
              paths: ['app'],
              cwd: join(root, dir),
              now: () => T0,
            })
          ).backupPath,
        restore: (backupPath, at, keepPrevious) =>
          restoreBackup({
            environment: 'production',
            backupPath,
            target,
            cwd: root,
            now: () => new Date(T0.getTime() + at),
            ...(keepPrevious ? { keepPrevious } : {}),
          }),
      }),
    );
  }

  asRoot(
    'a restore onto a full disk says so, points at the previous versions kept there, and changes nothing',
    () =>
      restoreOnSmallDisk('restore-full', async ({ root, target, backup, restore }) => {
        mkdirSync(join(root, 'one/app'), { recursive: true });
        writeFileSync(join(root, 'one/app/config.txt'), 'v1');
        const small = await backup('one');
        // 2,000 files of 100 bytes: 200 KB by the manifest (the free-space check passes), but a
        // 4 KiB page each on tmpfs: 8 MB, which a 4 MiB file system cannot hold.
        for (let i = 0; i < 2000; i++) {
          mkdirSync(join(root, `many/app/d${i % 20}`), { recursive: true });
          writeFileSync(join(root, `many/app/d${i % 20}/f${i}.txt`), 'x'.repeat(100));
        }
        const many = await backup('many');
        expect((await restore(small, 1000)).status).toBe('restored-unverified');
        expect((await restore(small, 2000)).status).toBe('restored-unverified'); // keeps v1 as previous
        const before = snapshot(target);
        const r = await restore(many, 3000);
        expect(r.status).toBe('failed');
        expect(r.message).toMatch(
          /^restore failed: cannot write .*: no space left on the device; free some space there; 1 previous version kept by earlier rollbacks is in .*\/live\/\.guarded-rollout\/pre-rollback \(run again with --keep-previous N to keep only the newest N, this rollback's included, or delete those you no longer need\)$/,
        );
        expect(r.message).not.toMatch(/--out/); // a restore has no --out
        expect(snapshot(target)).toEqual(before);
        expect(readdirSync(join(target, '.guarded-rollout')).filter((n) => n.startsWith('staging'))).toEqual(
          [],
        );
      }),
  );

  asRoot(
    'a restore refused for want of room points at --keep-previous; with it, older versions make the room',
    () =>
      restoreOnSmallDisk('restore-keep-room', async ({ root, target, backup, restore }) => {
        mkdirSync(join(root, 'src/app'), { recursive: true });
        writeFileSync(join(root, 'src/app/data.bin'), randomBytes(1536 * 1024)); // 1.5 MiB
        const b = await backup('src');
        // Live 1.5 MiB, then one previous version: 3 MiB of the 4 MiB used.
        expect((await restore(b, 1000)).status).toBe('restored-unverified');
        expect((await restore(b, 2000)).status).toBe('restored-unverified');
        const refused = await restore(b, 3000);
        expect(refused.status).toBe('refused');
        expect(refused.message).toMatch(
          /^not enough free disk in .*\/live: the restore needs 1\.5 MiB, .* is free; 1 previous version kept by earlier rollbacks is in .*\/pre-rollback \(run again with --keep-previous N to keep only the newest N, this rollback's included, or delete those you no longer need\)$/,
        );
        const kept = readdirSync(join(target, '.guarded-rollout/pre-rollback'));
        expect(kept).toHaveLength(1);
        // The operator's next step: the same rollback with --keep-previous 1.
        const r = await restore(b, 4000, 1);
        expect(r.status).toBe('restored-unverified');
        expect(readdirSync(join(target, '.guarded-rollout/pre-rollback'))).toEqual([
          r.previousTree!.split('/').pop(),
        ]);
        expect(readdirSync(join(target, '.guarded-rollout/pre-rollback'))).not.toContain(kept[0]);
        // The room was short, so the older version went before staging, and the log says why.
        expect(readFileSync(join(root, 'rollback.log'), 'utf8')).toMatch(
          /keep-previous 1: 1 older previous version deleted before staging, for room \(.* free, the restore takes up to .*\)\n {2}removed previous version .*\n(.*\n)*staged: /,
        );
        expect(
          readFileSync(join(target, 'app/data.bin')).equals(readFileSync(join(root, 'src/app/data.bin'))),
        ).toBe(true);
      }),
  );

  asRoot(
    '--keep-previous deletes nothing when even the space of the versions it may delete would not make the room',
    () =>
      restoreOnSmallDisk('restore-keep-short', async ({ root, target, backup, restore }) => {
        mkdirSync(join(root, 'small/app'), { recursive: true });
        writeFileSync(join(root, 'small/app/data.bin'), randomBytes(512 * 1024));
        mkdirSync(join(root, 'big/app'), { recursive: true });
        writeFileSync(join(root, 'big/app/data.bin'), randomBytes(3.8 * 1024 * 1024));
        const small = await backup('small');
        const big = await backup('big');
        // Live 0.5 MiB and one previous version of 0.5 MiB: ~3 MiB free, 3.5 with it deleted.
        expect((await restore(small, 1000)).status).toBe('restored-unverified');
        expect((await restore(small, 2000)).status).toBe('restored-unverified');
        const kept = readdirSync(join(target, '.guarded-rollout/pre-rollback'));
        const before = snapshot(target);
        const r = await restore(big, 3000, 1);
        expect(r.status).toBe('refused');
        expect(r.message).toMatch(
          /^not enough free disk in .*\/live: the restore needs 3\.8 MiB, .* is free, and deleting the 1 older previous version --keep-previous 1 allows would free only .*, so none was deleted; free some space there$/,
        );
        expect(readdirSync(join(target, '.guarded-rollout/pre-rollback'))).toEqual(kept);
        expect(snapshot(target)).toEqual(before);
      }),
  );

  asRoot(
    'a full disk met by a file this thread writes (a streamed large file, no writer thread) reads the same',
    () =>
      // 150 files (under the writer thread's 200) and a 3.5 MiB file last: 3.6 MB by the manifest
      // (the free-space check passes), but 150 pages of 4 KiB first, so the large file's stream
      // runs out of space on the main thread (it said "ENOSPC: no space left on device, write").
      restoreOnSmallDisk('restore-full-main', async ({ root, target, backup, restore }) => {
        mkdirSync(join(root, 'src/app/d'), { recursive: true });
        for (let i = 0; i < 150; i++) writeFileSync(join(root, `src/app/d/f${i}.txt`), 'x'.repeat(100));
        writeFileSync(join(root, 'src/app/z.bin'), Buffer.alloc(3.5 * 1024 * 1024, 1));
        const b = await backup('src');
        mkdirSync(join(target, 'app'), { recursive: true });
        writeFileSync(join(target, 'app/config.txt'), 'live');
        const before = snapshot(target);
        const r = await restore(b, 0);
        expect(r.status).toBe('failed');
        expect(r.message).toMatch(
          /^restore failed: cannot write .*\/app\/z\.bin: no space left on the device; free some space there/,
        );
        expect(r.message.split('\n')).toHaveLength(1);
        expect(snapshot(target)).toEqual(before);
        expect(existsSync(join(target, '.guarded-rollout'))).toBe(false); // no staging left behind
      }),
  );
});
