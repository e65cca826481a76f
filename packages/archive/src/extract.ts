// Writes a validated plan into a fresh staging directory (or only reads it, for a deep verify),
// checking each entry's CRC-32, size and manifest SHA256 as the bytes stream past. Files are
// created exclusively (O_EXCL) and symlinks last, so no write can ever pass through a link.
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  fchmodSync,
  futimesSync,
  mkdirSync,
  openSync,
  symlinkSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { crc32 } from 'node:zlib';
import { BackupIntegrityError } from './errors.js';
import { openEntryStream, type OpenArchive } from './read.js';
import type { ExtractionPlan, PlannedEntry } from './safety.js';

export interface ExtractOptions {
  /** Staging directory to write into (must not exist yet); undefined only reads and checks. */
  destination?: string;
  /** Check each file's SHA256 against the manifest (default true). */
  verifyFileHashes?: boolean;
}

async function streamEntry(
  archive: OpenArchive,
  p: PlannedEntry,
  fd: number | undefined,
  verifyHash: boolean,
): Promise<void> {
  const show = JSON.stringify(p.source.name);
  const hash = verifyHash && p.manifest?.sha256 ? createHash('sha256') : undefined;
  let crc = 0;
  let bytes = 0;
  try {
    for await (const chunk of await openEntryStream(archive, p.source)) {
      const buf = chunk as Buffer;
      bytes += buf.length;
      // yauzl also stops at the declared size; this check keeps the guarantee ours.
      if (bytes > p.size)
        throw new BackupIntegrityError(
          `entry ${show} inflates past its declared ${p.size} bytes (under-declared size)`,
        );
      crc = crc32(buf, crc);
      hash?.update(buf);
      if (fd !== undefined) {
        for (let off = 0; off < buf.length;) off += writeSync(fd, buf, off, buf.length - off);
      }
    }
  } catch (error) {
    if (error instanceof BackupIntegrityError) throw error;
    throw new BackupIntegrityError(`entry ${show} is corrupt (${(error as Error).message})`);
  }
  if (bytes !== p.size)
    throw new BackupIntegrityError(`entry ${show} holds ${bytes} bytes, not the declared ${p.size}`);
  if (crc >>> 0 !== p.source.crc32 >>> 0) {
    throw new BackupIntegrityError(
      `entry ${show} fails its CRC-32 check (stored ${p.source.crc32.toString(16)}, computed ${(crc >>> 0).toString(16)}); the backup is corrupt`,
    );
  }
  if (hash) {
    const actual = hash.digest('hex');
    if (actual !== p.manifest!.sha256)
      throw new BackupIntegrityError(
        `entry ${show} does not match its manifest SHA256; the backup is corrupt or was altered`,
      );
  }
}

/** Streams every file of the plan, checking it; writes into `destination` when given. */
export async function extractPlan(
  archive: OpenArchive,
  plan: ExtractionPlan,
  options: ExtractOptions = {},
): Promise<void> {
  const dest = options.destination;
  const verifyHash = options.verifyFileHashes ?? true;
  if (dest) mkdirSync(dest, { mode: 0o700 });
  const directories: PlannedEntry[] = [];
  const made = new Set<string>();
  for (const p of plan.entries) {
    if (p.type === 'directory') {
      directories.push(p);
      if (dest) mkdirSync(join(dest, p.path), { recursive: true, mode: 0o700 });
      continue;
    }
    if (p.type !== 'file') continue;
    let fd: number | undefined;
    if (dest) {
      const file = join(dest, p.path);
      const parent = dirname(file);
      if (!made.has(parent)) {
        mkdirSync(parent, { recursive: true, mode: 0o700 });
        made.add(parent);
      }
      fd = openSync(file, 'wx', 0o600);
    }
    try {
      await streamEntry(archive, p, fd, verifyHash);
      if (fd !== undefined) {
        // Through the descriptor: no second path lookup per file (it adds up over 100,000 files).
        fchmodSync(fd, p.mode);
        if (p.manifest?.mtimeMs) futimesSync(fd, new Date(), new Date(p.manifest.mtimeMs));
      }
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }
  if (!dest) return;
  for (const p of plan.entries) {
    if (p.type !== 'symlink') continue;
    const link = join(dest, p.path);
    mkdirSync(dirname(link), { recursive: true, mode: 0o700 });
    symlinkSync(p.linkTarget!, link);
  }
  // Deepest first, so tightening a parent's mode never blocks fixing a child.
  for (const p of directories.sort((a, b) => b.path.length - a.path.length)) {
    const dir = join(dest, p.path);
    chmodSync(dir, p.mode);
    if (p.manifest?.mtimeMs) utimesSync(dir, new Date(), new Date(p.manifest.mtimeMs));
  }
}
