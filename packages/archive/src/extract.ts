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
  futimesSync,
  lchownSync,
  mkdirSync,
  openSync,
  chownSync,
  symlinkSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { crc32 } from 'node:zlib';
import { BackupIntegrityError } from './errors.js';
import { HeapGuard } from './heapguard.js';
import { inflateEntry, streamEntryData } from './read.js';
import { ArchiveWindow, dataStart, type OpenArchive } from './zipread.js';
import type { ExtractionPlan, PlannedEntry } from './safety.js';
import { FileWriteError, WriterPool } from './writerpool.js';
import { describeFsError } from './collect.js';

export interface ExtractOptions {
  /** Staging directory to write into (must not exist yet); undefined only reads and checks. */
  destination?: string;
  /** Check each file's SHA256 against the manifest (default true). */
  verifyFileHashes?: boolean;
  /** Restore owners from the manifest (default: when running as root). */
  restoreOwners?: boolean;
}

const SMALL_ENTRY = 1024 * 1024;
/** Below this many files, starting worker threads costs more than it saves. */
const POOL_MIN_FILES = 200;

function check(p: PlannedEntry, data: Buffer, verifyHash: boolean): void {
  const show = JSON.stringify(p.source.name);
  if (data.length !== p.size)
    throw new BackupIntegrityError(`entry ${show} holds ${data.length} bytes, not the declared ${p.size}`);
  const crc = crc32(data) >>> 0;
  if (crc !== p.source.crc32 >>> 0)
    throw new BackupIntegrityError(
      `entry ${show} fails its CRC-32 check (stored ${p.source.crc32.toString(16)}, computed ${crc.toString(16)}); the backup is corrupt`,
    );
  if (verifyHash && p.manifest?.sha256) {
    const actual = createHash('sha256').update(data).digest('hex');
    if (actual !== p.manifest.sha256)
      throw new BackupIntegrityError(
        `entry ${show} does not match its manifest SHA256; the backup is corrupt or was altered`,
      );
  }
}

function writeAll(fd: number, buf: Buffer): void {
  for (let off = 0; off < buf.length;) off += writeSync(fd, buf, off, buf.length - off);
}

/** A large entry, streamed in 1 MiB pieces (read.ts), its SHA256 checked; written when `fd` is given. */
async function streamEntry(
  archive: OpenArchive,
  p: PlannedEntry,
  start: number,
  fd: number | undefined,
  verifyHash: boolean,
): Promise<void> {
  const hash = verifyHash && p.manifest?.sha256 ? createHash('sha256') : undefined;
  await streamEntryData(archive, p.source, start, p.size, (piece) => {
    hash?.update(piece);
    if (fd !== undefined) writeAll(fd, piece);
  });
  if (hash && hash.digest('hex') !== p.manifest!.sha256)
    throw new BackupIntegrityError(
      `entry ${JSON.stringify(p.source.name)} does not match its manifest SHA256; the backup is corrupt or was altered`,
    );
}

function owner(p: PlannedEntry): { uid: number; gid: number } | undefined {
  const m = p.manifest;
  return m && Number.isInteger(m.uid) && Number.isInteger(m.gid) ? { uid: m.uid!, gid: m.gid! } : undefined;
}

/** Streams every file of the plan, checking it; writes into `destination` when given. */
export async function extractPlan(
  archive: OpenArchive,
  plan: ExtractionPlan,
  options: ExtractOptions = {},
): Promise<void> {
  const dest = options.destination;
  const verifyHash = options.verifyFileHashes ?? true;
  const owners = options.restoreOwners ?? (typeof process.getuid === 'function' && process.getuid() === 0);
  if (dest) mkdirSync(dest, { mode: 0o700 });
  const directories: PlannedEntry[] = [];
  const made = new Set<string>();
  const win = new ArchiveWindow(archive);
  // Archive order is offset order for our own backups: the window then reads sequentially.
  const files = plan.entries.filter((p) => p.type === 'file');
  files.sort((a, b) => a.source.localHeaderOffset - b.source.localHeaderOffset);
  for (const p of plan.entries) {
    if (p.type !== 'directory') continue;
    directories.push(p);
    if (dest) {
      mkdirSync(join(dest, p.path), { recursive: true, mode: 0o700 });
      made.add(join(dest, p.path));
    }
  }
  const pool = dest && files.length >= POOL_MIN_FILES ? new WriterPool() : undefined;
  try {
    const heap = new HeapGuard();
    heap.phase(files.length); // what planning left, before the writer threads start
    for (const p of files) {
      heap.tick();
      const start = dataStart(archive, win, p.source);
      const file = dest ? join(dest, p.path) : undefined;
      if (file) {
        const parent = dirname(file);
        if (!made.has(parent)) {
          mkdirSync(parent, { recursive: true, mode: 0o700 });
          made.add(parent);
        }
      }
      const raw =
        p.size <= SMALL_ENTRY && p.source.compressedSize <= SMALL_ENTRY
          ? win.get(start, p.source.compressedSize)
          : undefined;
      const o = owners ? owner(p) : undefined;
      if (raw && pool && file && WriterPool.fits(raw.length)) {
        const wait = pool.add({
          path: file,
          raw,
          name: p.source.name,
          method: p.source.compressionMethod,
          size: p.size,
          crc: p.source.crc32 >>> 0,
          ...(verifyHash && p.manifest?.sha256 ? { sha256: p.manifest.sha256 } : {}),
          mode: p.mode,
          ...(o ?? {}),
          ...(p.manifest?.mtimeMs ? { mtimeMs: p.manifest.mtimeMs } : {}),
        });
        if (wait) await wait; // `raw` is a view of the read window: keep it until copied
        continue;
      }
      const fd = file ? openSync(file, 'wx', 0o600) : undefined;
      try {
        if (raw) {
          const data = inflateEntry(p.source, raw);
          check(p, data, verifyHash);
          if (fd !== undefined) writeAll(fd, data);
        } else {
          await streamEntry(archive, p, start, fd, verifyHash);
        }
        if (fd !== undefined) {
          // Through the descriptor: no second path lookup per file. chown first: it clears setgid.
          if (o) fchownSync(fd, o.uid, o.gid);
          fchmodSync(fd, p.mode);
          if (p.manifest?.mtimeMs) futimesSync(fd, new Date(), new Date(p.manifest.mtimeMs));
        }
      } finally {
        if (fd !== undefined) closeSync(fd);
      }
    }
    await pool?.drain();
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
  if (!dest) return;
  for (const p of plan.entries) {
    if (p.type !== 'symlink') continue;
    const link = join(dest, p.path);
    mkdirSync(dirname(link), { recursive: true, mode: 0o700 });
    symlinkSync(p.linkTarget!, link);
    const o = owners ? owner(p) : undefined;
    if (o) lchownSync(link, o.uid, o.gid);
  }
  // Deepest first, so tightening a parent's mode never blocks fixing a child.
  for (const p of directories.sort((a, b) => b.path.length - a.path.length)) {
    const dir = join(dest, p.path);
    const o = owners ? owner(p) : undefined;
    if (o) chownSync(dir, o.uid, o.gid);
    chmodSync(dir, p.mode);
    if (p.manifest?.mtimeMs) utimesSync(dir, new Date(), new Date(p.manifest.mtimeMs));
  }
}
