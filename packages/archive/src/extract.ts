// Writes a validated plan into a fresh staging directory (or only reads it, for a deep verify),
// checking each entry's CRC-32, size and manifest SHA256. Small entries are read through a
// sequential window and, when there are many, inflated, checked and written by worker threads
// (writerpool.ts); large ones stream in 1 MiB chunks. Inflation always stops the moment an entry
// passes its declared size.
// Files are created exclusively (O_EXCL) and symlinks last, so no write can pass through a link.
// Modes keep setuid/setgid/sticky; owners are restored when running as root.
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  fchmodSync,
  fchownSync,
  fstatSync,
  futimesSync,
  linkSync,
  lstatSync,
  lchownSync,
  mkdirSync,
  openSync,
  chownSync,
  symlinkSync,
  utimesSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { crc32 } from 'node:zlib';
import { SparseWriter, writeAll } from './durable.js';
import { BackupIntegrityError, RestoreCancelledError } from './errors.js';
import { HeapGuard } from './heapguard.js';
import { inflateEntry, streamEntryData } from './read.js';
import { ArchiveWindow, dataStart, type ArchiveEntry, type OpenArchive } from './zipread.js';
import type { PlanTable } from './plantable.js';
import { FileWriteError, WriterPool } from './writerpool.js';
import { describeFsError } from './fserrors.js';

export interface ExtractOptions {
  /** Staging directory to write into (must not exist yet); undefined only reads and checks. */
  destination?: string;
  /** Check each file's SHA256 against the manifest (default true). */
  verifyFileHashes?: boolean;
  /** Restore owners from the manifest (default: when running as root). */
  restoreOwners?: boolean;
  /** A cancel: checked before each file (and the links), it throws RestoreCancelledError. */
  signal?: AbortSignal;
}

function stopIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new RestoreCancelledError('cancelled before the swap');
}

const SMALL_ENTRY = 1024 * 1024;
/** Files this thread writes (all slots queued) between turns of the event loop (see extractPlan). */
const YIELD_EVERY = 8;
const nextTurn = (): Promise<void> => new Promise((resolveTurn) => setImmediate(resolveTurn));
/** Below this many small files, starting the writer thread costs more than it saves. */
const POOL_MIN_FILES = 200;

function check(
  name: string,
  data: Buffer,
  size: number,
  crc32Stored: number,
  sha256: string | undefined,
): void {
  const show = JSON.stringify(name);
  if (data.length !== size)
    throw new BackupIntegrityError(`entry ${show} holds ${data.length} bytes, not the declared ${size}`);
  const crc = crc32(data) >>> 0;
  if (crc !== crc32Stored)
    throw new BackupIntegrityError(
      `entry ${show} fails its CRC-32 check (stored ${crc32Stored.toString(16)}, computed ${crc.toString(16)}); the backup is corrupt`,
    );
  if (sha256) {
    const actual = createHash('sha256').update(data).digest('hex');
    if (actual !== sha256)
      throw new BackupIntegrityError(
        `entry ${show} does not match its manifest SHA256; the backup is corrupt or was altered`,
      );
  }
}

/** Runs a write to `path` on this thread; a file-system error becomes the FileWriteError the
 *  writer thread reports for the same failure ("cannot write <path>: ..." once caught below). */
function writing<T>(path: string, write: () => T): T {
  try {
    return write();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (typeof code !== 'string') throw error;
    throw new FileWriteError((error as Error).message, code, path);
  }
}

/** A large entry, streamed in 1 MiB pieces (read.ts), its SHA256 checked; written to `path`
 *  through `fd` when given. */
async function streamEntry(
  archive: OpenArchive,
  source: ArchiveEntry,
  start: number,
  fd: number | undefined,
  sha256: string | undefined,
  path: string | undefined,
  sparse = false,
  signal?: AbortSignal,
): Promise<void> {
  const hash = sha256 ? createHash('sha256') : undefined;
  const holes = fd !== undefined && sparse ? new SparseWriter(fd) : undefined;
  await streamEntryData(archive, source, start, source.uncompressedSize, (piece) => {
    // Per piece: a deflated file's arrive through the event loop; a stored file's are read
    // synchronously, with a turn of the event loop every 32 MiB (streamEntryData).
    stopIfCancelled(signal);
    hash?.update(piece);
    if (holes) writing(path!, () => holes.write(piece));
    else if (fd !== undefined) writing(path!, () => writeAll(fd, piece));
  });
  if (holes) writing(path!, () => holes.finish());
  if (hash && hash.digest('hex') !== sha256)
    throw new BackupIntegrityError(
      `entry ${JSON.stringify(source.name)} does not match its manifest SHA256; the backup is corrupt or was altered`,
    );
}

/** What extractPlan did: how many files it checked, and how many of those the writer thread
 *  wrote (the rest were written or only checked by the calling thread). */
export interface ExtractStats {
  files: number;
  /** Files the writer thread wrote. */
  byThreads: number;
  /** Whether a writer thread was started (only for POOL_MIN_FILES small files or more). */
  writerThread: boolean;
}

/** Streams every file of the plan, checking it; writes into `destination` when given. */
export async function extractPlan(
  archive: OpenArchive,
  table: PlanTable,
  options: ExtractOptions = {},
): Promise<ExtractStats> {
  const dest = options.destination;
  const verifyHash = options.verifyFileHashes ?? true;
  const owners = options.restoreOwners ?? (typeof process.getuid === 'function' && process.getuid() === 0);
  if (dest) mkdirSync(dest, { mode: 0o700 });
  const directories: number[] = [];
  const fileList: number[] = [];
  const made = new Set<string>();
  const win = new ArchiveWindow(archive);
  let small = 0;
  const links: number[] = [];
  for (let i = 0; i < table.count; i++) {
    const type = table.type(i);
    // A hard link of an earlier entry is linked once that one is written (below), not written.
    if (type === 'file' && dest && table.hardlinks.has(i)) {
      links.push(i);
      continue;
    }
    if (type === 'file') {
      fileList.push(i);
      if (table.sizes[i]! <= SMALL_ENTRY) small++;
    }
    if (type !== 'directory') continue;
    directories.push(i);
    if (dest) {
      const dir = join(dest, table.path(i));
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      made.add(dir);
    }
  }
  // Archive order is offset order for our own backups: the window then reads sequentially.
  const files = Uint32Array.from(fileList);
  let ascending = true;
  for (let k = 1; k < files.length && ascending; k++)
    ascending = table.offset(files[k - 1]!) <= table.offset(files[k]!);
  if (!ascending) files.sort((a, b) => table.offset(a) - table.offset(b));
  fileList.length = 0;
  const heap = new HeapGuard();
  heap.phase(files.length); // what planning left, before the writer threads start
  const written = dest ? new Float64Array(4 * table.count).fill(NaN) : undefined;
  table.written = written;
  // Only small files go to the writer thread: a tree of large files (streamed here) would only
  // pay for its idle thread (a 5 GiB restore of 1-8 MiB files on Node 24 peaked at 152 MiB).
  const pool = dest && small >= POOL_MIN_FILES ? new WriterPool(written) : undefined;
  let writtenHere = 0;
  let byThreads = 0;
  try {
    for (let k = 0; k < files.length; k++) {
      const i = files[k]!;
      heap.tick();
      stopIfCancelled(options.signal);
      // Without the writer thread, small files are written here with no wait: a turn now and then
      // lets a signal's handler run.
      if (!pool && k % 256 === 255) await nextTurn();
      const source = table.source(i);
      const start = dataStart(archive, win, source);
      const file = dest ? join(dest, table.path(i)) : undefined;
      if (file) {
        const parent = dirname(file);
        if (!made.has(parent)) {
          mkdirSync(parent, { recursive: true, mode: 0o700 });
          made.add(parent);
        }
      }
      const size = source.uncompressedSize;
      const raw =
        size <= SMALL_ENTRY && source.compressedSize <= SMALL_ENTRY
          ? win.get(start, source.compressedSize)
          : undefined;
      const o = owners ? table.owner(i) : undefined;
      const sha256 = verifyHash ? table.sha256(i) : undefined;
      const mtimeMs = table.mtimes[i]!;
      // Every slot queued: this thread writes the file itself (below) rather than wait, so one
      // writer thread and this one keep both cores busy (a second writer thread cost ~17 MiB of
      // RSS on Node 24, and this thread waited ~70 % of the extraction).
      if (raw && pool && file && WriterPool.fits(raw.length)) {
        // The thread's answers arrive through the event loop: a turn every few files written
        // here frees the slots it finished (its queue holds 4 x 64 files, ~20 ms of work).
        if (pool.wouldWait(raw.length) && ++writtenHere % YIELD_EVERY === 0) await nextTurn();
        if (!pool.wouldWait(raw.length)) {
          // It has room, so `add` copies the bytes (a view of the window) at once and never waits.
          void pool.add({
            index: i,
            path: file,
            raw,
            name: source.name,
            method: source.compressionMethod,
            size,
            crc: source.crc32,
            ...(sha256 ? { sha256 } : {}),
            mode: table.modes[i]!,
            ...(o ?? {}),
            ...(mtimeMs ? { mtimeMs } : {}),
          });
          byThreads++;
          continue;
        }
      }
      const fd = file ? writing(file, () => openSync(file, 'wx', 0o600)) : undefined;
      try {
        if (raw) {
          const data = inflateEntry(source, raw);
          check(source.name, data, size, source.crc32, sha256);
          if (fd !== undefined) writing(file!, () => writeAll(fd, data));
        } else {
          await streamEntry(archive, source, start, fd, sha256, file, table.sparse(i), options.signal);
        }
        if (fd !== undefined)
          writing(file!, () => {
            // Through the descriptor: no second path lookup per file. chown first: it clears setgid.
            if (o) fchownSync(fd, o.uid, o.gid);
            fchmodSync(fd, table.modes[i]!);
            if (mtimeMs) futimesSync(fd, new Date(), new Date(mtimeMs));
            const st = fstatSync(fd); // as the writer thread does (WriterPool's `written`)
            written!.set([st.ino, st.ctimeMs, st.mtimeMs, st.mode & 0o7777], 4 * i);
          });
      } finally {
        if (fd !== undefined) writing(file!, () => closeSync(fd));
      }
    }
    await pool?.drain();
    stopIfCancelled(options.signal);
    for (const i of links) {
      const first = join(dest!, table.path(table.hardlinks.get(i)!));
      const file = join(dest!, table.path(i));
      const parent = dirname(file);
      if (!made.has(parent)) {
        mkdirSync(parent, { recursive: true, mode: 0o700 });
        made.add(parent);
      }
      writing(file, () => linkSync(first, file));
    }
    // A link changes the file's ctime: what the record holds for every path of it is re-read.
    for (const i of links) {
      const st = lstatSync(join(dest!, table.path(i)));
      const status = [st.ino, st.ctimeMs, st.mtimeMs, st.mode & 0o7777];
      written!.set(status, 4 * i);
      written!.set(status, 4 * table.hardlinks.get(i)!);
    }
  } catch (error) {
    if (error instanceof FileWriteError && error.integrity) throw new BackupIntegrityError(error.message);
    if (error instanceof FileWriteError)
      throw Object.assign(
        new Error(
          error.path ? `cannot write ${error.path}: ${describeFsError(error, 'write')}` : error.message,
        ),
        { code: error.code },
      );
    throw error;
  } finally {
    await pool?.close();
  }
  const stats = { files: files.length, byThreads, writerThread: pool !== undefined };
  if (!dest) return stats;
  for (let i = 0; i < table.count; i++) {
    if (table.type(i) !== 'symlink') continue;
    const link = join(dest, table.path(i));
    mkdirSync(dirname(link), { recursive: true, mode: 0o700 });
    symlinkSync(table.linkTarget(i)!, link);
    const o = owners ? table.owner(i) : undefined;
    if (o) lchownSync(link, o.uid, o.gid);
  }
  // Deepest first, so tightening a parent's mode never blocks fixing a child.
  for (const i of directories.sort((a, b) => table.pathLength(b) - table.pathLength(a))) {
    const dir = join(dest, table.path(i));
    const o = owners ? table.owner(i) : undefined;
    if (o) chownSync(dir, o.uid, o.gid);
    chmodSync(dir, table.modes[i]!);
    const mtimeMs = table.mtimes[i]!;
    if (mtimeMs) utimesSync(dir, new Date(), new Date(mtimeMs));
  }
  return stats;
}
