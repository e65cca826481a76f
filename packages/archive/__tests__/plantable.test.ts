// The plan as columns (plantable.ts): every field extraction and the deployed-tree record read
// comes back exactly as planning checked it, for the awkward names and modes of the shared tree;
// and reading a backup no longer keeps what a stream's sink filled (the manifest reader's entries
// stayed alive through a whole restore: the finished zlib stream's listeners held them, and the
// stream was held by the callback the rest of the restore ran in).
import { describe, expect, it } from '@jest/globals';
import { lstatSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import {
  DEFAULT_CAPS,
  PlanTable,
  createBackup,
  extractPlan,
  openArchive,
  planExtraction,
  readManifest,
  readSmallEntry,
  streamEntryData,
  type ArchiveEntry,
} from '../src/index.js';
import { ArchiveWindow, dataStart } from '../src/zipread.js';
import { makeTree, tempRoot } from './fixtures.js';

async function backupOf(build: (dir: string) => void): Promise<{ root: string; zip: string }> {
  const root = tempRoot('plantable');
  const tree = join(root, 'app');
  mkdirSync(tree);
  build(tree);
  const r = await createBackup({
    environment: 'test',
    paths: ['app'],
    outDir: join(root, 'backups'),
    cwd: root,
  });
  return { root, zip: r.backupPath };
}

describe('PlanTable', () => {
  it('gives back every planned field: paths, names, types, modes, sizes, digests, owners, links and the central-directory fields', async () => {
    const { root, zip } = await backupOf(makeTree);
    try {
      const archive = await openArchive(zip, DEFAULT_CAPS.maxEntries);
      try {
        const manifest = await readManifest(archive, zip);
        const targets = new Map<ArchiveEntry, string>();
        for (const e of archive.entries)
          if (e.type === 'symlink') targets.set(e, readSmallEntry(archive, e, 4096).toString('utf8'));
        const plan = planExtraction(archive.entries, manifest, targets);
        const table = new PlanTable(plan);
        expect(table.count).toBe(plan.entries.length);
        plan.entries.forEach((p, i) => {
          expect(table.path(i)).toBe(p.path);
          expect(table.pathLength(i)).toBe(Buffer.byteLength(p.path));
          expect(table.name(i)).toBe(p.source.name);
          expect(table.type(i)).toBe(p.type);
          expect(table.modes[i]).toBe(p.mode);
          expect(table.sizes[i]).toBe(p.size);
          expect(table.sha256(i)).toBe(p.manifest?.sha256);
          expect(table.owner(i)).toEqual(
            p.manifest?.uid !== undefined ? { uid: p.manifest.uid, gid: p.manifest.gid } : undefined,
          );
          expect(table.mtimes[i]).toBe(p.manifest?.mtimeMs ?? 0);
          expect(table.linkTarget(i)).toBe(p.linkTarget);
          const s = table.source(i);
          expect(s).toMatchObject({
            name: p.source.name,
            compressedSize: p.source.compressedSize,
            uncompressedSize: p.source.uncompressedSize,
            crc32: p.source.crc32 >>> 0,
            compressionMethod: p.source.compressionMethod,
            flags: p.source.flags & 0x800,
            localHeaderOffset: p.source.localHeaderOffset,
            limit: p.source.limit,
          });
        });
        // The shared tree has what the columns must carry: a unicode name, a symlink, a
        // directory (its stored name ends in "/", its path does not) and a 0600 file.
        const at = (path: string) => plan.entries.findIndex((p) => p.path === path);
        expect(table.path(at('app/nested/ünïcødé-名前.txt'))).toBe('app/nested/ünïcødé-名前.txt');
        expect(table.linkTarget(at('app/link-to-file'))).toBe('nested/with space.txt');
        expect(table.name(at('app/nested'))).toBe('app/nested/');
        expect(table.modes[at('app/secret.conf')]).toBe(0o600);
      } finally {
        archive.close();
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
  /** Backs up the tree `build` makes, plans it and extracts it into `<root>/staged`; `check`
   *  sees the table, the staged directory and the stats. Everything is removed afterwards. */
  async function staged<T>(
    build: (dir: string) => void,
    check: (s: { table: PlanTable; dest: string; stats: Awaited<ReturnType<typeof extractPlan>> }) => T,
  ): Promise<T> {
    const { root, zip } = await backupOf(build);
    try {
      const archive = await openArchive(zip, DEFAULT_CAPS.maxEntries);
      try {
        const manifest = await readManifest(archive, zip);
        const table = new PlanTable(planExtraction(archive.entries, manifest, new Map()));
        const dest = join(root, 'staged');
        const stats = await extractPlan(archive, table, { destination: dest });
        return check({ table, dest, stats });
      } finally {
        archive.close();
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }

  it('starts the writer thread only for 200 small files or more: files over 1 MiB are streamed on the main thread', async () => {
    const big = Buffer.alloc(1024 * 1024 + 1, 3); // over SMALL_ENTRY: streamed, never pooled
    const withSmall = (small: number) =>
      staged(
        (dir) => {
          for (let i = 0; i < small; i++) writeFileSync(join(dir, `f${i}.txt`), `file ${i}\n`);
          for (let i = 0; i < 3; i++) writeFileSync(join(dir, `big${i}.bin`), big);
        },
        ({ dest, stats }) => {
          expect(lstatSync(join(dest, 'app/big2.bin')).size).toBe(big.length);
          return stats;
        },
      );
    // 202 files (200 before: a thread started for them), 199 of them small: no thread.
    expect(await withSmall(199)).toEqual({ files: 202, byThreads: 0, writerThread: false });
    expect(await withSmall(200)).toMatchObject({ files: 203, writerThread: true });
  });

  it('keeps each written file’s status as extraction left it, from the writer thread and from the main thread alike', async () => {
    // 2,000 small files: the writer thread takes the first 4 x 64 while it starts (tens of ms),
    // and the main thread writes others itself whenever all slots are queued; a 2 MiB file is
    // streamed on the main thread. The record of a restored tree takes these statuses instead
    // of an lstat per file.
    await staged(
      (dir) => {
        for (let i = 0; i < 2000; i++) writeFileSync(join(dir, `f${i}.txt`), `file ${i}\n`);
        writeFileSync(join(dir, 'big.bin'), Buffer.alloc(2 * 1024 * 1024, 7));
      },
      ({ table, dest, stats }) => {
        expect(stats.files).toBe(2001);
        expect(stats.byThreads).toBeGreaterThanOrEqual(256);
        expect(stats.byThreads).toBeLessThan(2000); // the main thread wrote some
        let files = 0;
        for (let i = 0; i < table.count; i++) {
          if (table.type(i) !== 'file') {
            expect(table.writtenStatus(i)).toBeUndefined();
            continue;
          }
          files++;
          const st = lstatSync(join(dest, table.path(i)));
          expect(table.writtenStatus(i)).toEqual({
            ino: st.ino,
            ctimeMs: st.ctimeMs,
            mtimeMs: st.mtimeMs,
            mode: st.mode & 0o7777,
          });
        }
        expect(files).toBe(2001);
      },
    );
  });
});

describe('streamEntryData', () => {
  it('keeps nothing of its sink once the stream is done, though the code after it runs inside its last callback', async () => {
    const { root, zip } = await backupOf((tree) => {
      writeFileSync(join(tree, 'log.txt'), 'line of text\n'.repeat(200_000)); // deflated
    });
    try {
      setFlagsFromString('--expose-gc');
      const gc = runInNewContext('gc') as () => void;
      const archive = await openArchive(zip, DEFAULT_CAPS.maxEntries);
      let freed = false;
      const registry = new FinalizationRegistry(() => (freed = true));
      try {
        const entry = archive.entries.find((e) => e.name === 'app/log.txt')!;
        expect(entry.compressionMethod).toBe(8);
        await (async () => {
          const filled = { pieces: 0, held: Buffer.alloc(1024) };
          registry.register(filled, 'sink');
          const start = dataStart(archive, new ArchiveWindow(archive), entry);
          await streamEntryData(archive, entry, start, entry.uncompressedSize, () => filled.pieces++);
          expect(filled.pieces).toBeGreaterThan(0);
        })();
        // Collected at once: this code still runs inside the stream's last callback (the
        // promise chain resumed from it), whose frame holds the stream, as a restore does when
        // it goes on to plan and extract. Then a few turns of the event loop (bounded) for the
        // registry's callback, with no further collection.
        gc();
        for (let turn = 0; turn < 20 && !freed; turn++) await new Promise((r) => setTimeout(r, 10));
        expect(freed).toBe(true);
      } finally {
        archive.close();
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
