// Reading a backup without trusting it: the `.sha256` companion, the central directory (names kept
// as raw bytes so we judge them ourselves), and the manifest. yauzl is used only as a parser; every
// safety decision is ours (see safety.ts), because no library's extract-all is trusted here.
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { Readable } from 'node:stream';
import yauzl from 'yauzl';
import { BackupIntegrityError } from './errors.js';
import { MANIFEST_ENTRY, parseManifest, type BackupManifest } from './manifest.js';

export type ArchiveEntryType = 'file' | 'directory' | 'symlink';

export interface ArchiveEntry {
  /** Decoded name exactly as stored (not normalised). */
  name: string;
  rawName: Buffer;
  type: ArchiveEntryType;
  /** Permission bits (0o7777 mask) from the Unix attributes, or a default. */
  mode: number;
  compressedSize: number;
  uncompressedSize: number;
  crc32: number;
  compressionMethod: number;
  encrypted: boolean;
  entry: yauzl.Entry;
}

export interface OpenArchive {
  zip: yauzl.ZipFile;
  entries: ArchiveEntry[];
  close: () => void;
}

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const S_IFDIR = 0o040000;

export interface ChecksumLine {
  expected: string;
  name: string;
  path: string;
}

/** Reads `<zip>.sha256`; refuses a missing, malformed or foreign checksum file. */
export function readChecksumFile(zipPath: string): ChecksumLine {
  const path = `${zipPath}.sha256`;
  if (!existsSync(path)) {
    throw new BackupIntegrityError(
      `${path} is missing: a backup without its checksum is incomplete (interrupted or copied without it) and is never restored`,
    );
  }
  const text = readFileSync(path, 'utf8');
  const m = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(text.split(/\r?\n/)[0] ?? '');
  if (!m)
    throw new BackupIntegrityError(`${path} is not in sha256sum format ("<64 hex digits>  <file name>")`);
  const name = m[2]!;
  if (basename(name) !== basename(zipPath)) {
    throw new BackupIntegrityError(
      `${path} names ${JSON.stringify(name)}, not ${JSON.stringify(basename(zipPath))}: it belongs to another backup`,
    );
  }
  return { expected: m[1]!.toLowerCase(), name, path };
}

export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 }))
    hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Checks the archive against its `.sha256`; returns the digest. Never skippable. */
export async function verifyChecksum(zipPath: string): Promise<string> {
  if (!existsSync(zipPath)) throw new BackupIntegrityError(`backup ${zipPath} does not exist`);
  const line = readChecksumFile(zipPath);
  const actual = await sha256OfFile(zipPath);
  if (actual !== line.expected) {
    throw new BackupIntegrityError(
      `checksum mismatch for ${zipPath}: ${line.path} says ${line.expected}, the file hashes to ${actual}; the backup is corrupt or was altered`,
    );
  }
  return actual;
}

function decodeName(raw: Buffer, utf8: boolean): string {
  // Names without the UTF-8 flag are CP437 by the spec; latin1 keeps every byte distinct, which is
  // what collision and traversal checks need.
  return raw.toString(utf8 ? 'utf8' : 'latin1');
}

function describe(entry: yauzl.Entry): ArchiveEntry {
  const rawName = entry.fileNameRaw;
  const name = decodeName(rawName, (entry.generalPurposeBitFlag & 0x800) !== 0);
  const unix = entry.versionMadeBy >> 8 === 3;
  const attrs = unix ? entry.externalFileAttributes >>> 16 : 0;
  const kind = attrs & S_IFMT;
  const type: ArchiveEntryType =
    kind === S_IFLNK ? 'symlink' : kind === S_IFDIR || name.endsWith('/') ? 'directory' : 'file';
  const mode = attrs & 0o7777 || (type === 'directory' ? 0o755 : 0o644);
  return {
    name,
    rawName,
    type,
    mode,
    compressedSize: entry.compressedSize,
    uncompressedSize: entry.uncompressedSize,
    crc32: entry.crc32,
    compressionMethod: entry.compressionMethod,
    encrypted: (entry.generalPurposeBitFlag & 0x1) !== 0,
    entry,
  };
}

/** Opens the archive and lists every central-directory entry (bounded by `maxEntries`). */
export function openArchive(zipPath: string, maxEntries: number): Promise<OpenArchive> {
  return new Promise((resolvePromise, reject) => {
    yauzl.open(
      zipPath,
      {
        lazyEntries: true,
        autoClose: false,
        decodeStrings: false,
        validateEntrySizes: true,
        strictFileNames: false,
      },
      (err, zip) => {
        if (err || !zip) {
          reject(
            new BackupIntegrityError(
              `${zipPath} is not a readable zip (${err?.message ?? 'unknown error'}); it is truncated or corrupt`,
            ),
          );
          return;
        }
        // The manifest entry is ours, not the tree's: it does not count against the cap.
        if (zip.entryCount > maxEntries + 1) {
          zip.close();
          reject(
            new BackupIntegrityError(
              `${zipPath} declares ${zip.entryCount} entries, more than the cap of ${maxEntries} (max-entries); refusing it as a possible zip bomb`,
            ),
          );
          return;
        }
        const entries: ArchiveEntry[] = [];
        zip.on('entry', (entry: yauzl.Entry) => {
          entries.push(describe(entry));
          zip.readEntry();
        });
        zip.on('end', () => resolvePromise({ zip, entries, close: () => zip.close() }));
        zip.on('error', (error: Error) => {
          zip.close();
          reject(
            new BackupIntegrityError(
              `${zipPath}: the zip's central directory is damaged (${error.message}); the backup is truncated or corrupt`,
            ),
          );
        });
        zip.readEntry();
      },
    );
  });
}

export function openEntryStream(archive: OpenArchive, entry: ArchiveEntry): Promise<Readable> {
  return new Promise((resolvePromise, reject) => {
    archive.zip.openReadStream(entry.entry, (err, stream) => {
      if (err || !stream)
        reject(
          new BackupIntegrityError(
            `entry ${JSON.stringify(entry.name)} cannot be read (${err?.message ?? 'unknown error'})`,
          ),
        );
      else resolvePromise(stream);
    });
  });
}

/** Reads a small entry fully, refusing more than `limit` bytes whatever its header claims. */
export async function readSmallEntry(
  archive: OpenArchive,
  entry: ArchiveEntry,
  limit: number,
): Promise<Buffer> {
  if (entry.uncompressedSize > limit) {
    throw new BackupIntegrityError(
      `entry ${JSON.stringify(entry.name)} is ${entry.uncompressedSize} bytes; at most ${limit} expected`,
    );
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of await openEntryStream(archive, entry)) {
      total += (chunk as Buffer).length;
      if (total > limit)
        throw new BackupIntegrityError(`entry ${JSON.stringify(entry.name)} inflates past ${limit} bytes`);
      chunks.push(chunk as Buffer);
    }
  } catch (error) {
    if (error instanceof BackupIntegrityError) throw error;
    throw new BackupIntegrityError(
      `entry ${JSON.stringify(entry.name)} is corrupt (${(error as Error).message})`,
    );
  }
  return Buffer.concat(chunks);
}

export const MANIFEST_LIMIT = 256 * 1024 * 1024;

export async function readManifest(archive: OpenArchive, zipPath: string): Promise<BackupManifest> {
  const entry = archive.entries.find((e) => e.name === MANIFEST_ENTRY);
  if (!entry)
    throw new BackupIntegrityError(
      `${zipPath} has no manifest (${MANIFEST_ENTRY}); it was not written by guarded-rollout or is incomplete`,
    );
  return parseManifest((await readSmallEntry(archive, entry, MANIFEST_LIMIT)).toString('utf8'), zipPath);
}
