// Reading a zip without trusting it: the end records and central directory are parsed here
// (Zip64 included) into compact entries, in 4 MiB blocks so a million entries never means one
// huge buffer. No library's reader is used because every safety decision is ours: overlapping
// entries (the Fifield construction: many central records sharing one compressed stream) are
// refused from the central directory alone, each local header must name the same file as its
// central record, and data is read through a sequential window (few reads for many small files).
import { isUtf8 } from 'node:buffer';
import { closeSync, constants, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { BackupIntegrityError, UnsafeArchiveError } from './errors.js';

const LOCAL = 0x04034b50;
const CENTRAL = 0x02014b50;
const EOCD = 0x06054b50;
const EOCD64 = 0x06064b50;
const LOCATOR64 = 0x07064b50;
const MAX32 = 0xffffffff;
const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const S_IFDIR = 0o040000;

export type ArchiveEntryType = 'file' | 'directory' | 'symlink';

export interface ArchiveEntry {
  /** Decoded name exactly as stored (not normalised). */
  name: string;
  /** False when the stored bytes are not valid UTF-8 (they would not survive a round trip). */
  nameValid: boolean;
  type: ArchiveEntryType;
  /** Permission bits including setuid/setgid/sticky (0o7777 mask), or a default. */
  mode: number;
  compressedSize: number;
  uncompressedSize: number;
  crc32: number;
  compressionMethod: number;
  encrypted: boolean;
  flags: number;
  localHeaderOffset: number;
  /** Where the next entry's local header (or the central directory) begins: this entry's data
   *  must end before it. */
  limit: number;
  /** Length of the stored name in bytes. */
  nameBytes?: number;
}

export interface OpenArchive {
  path: string;
  fd: number;
  size: number;
  entries: ArchiveEntry[];
  centralOffset: number;
  close: () => void;
}

function readAt(fd: number, length: number, position: number): Buffer {
  const b = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, b, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got === length ? b : b.subarray(0, got);
}

function damaged(path: string, what: string): BackupIntegrityError {
  return new BackupIntegrityError(`${path} is not a readable zip (${what}); it is truncated or corrupt`);
}

/** Where an archive's central directory is, from its end record: the cheap first half of
 *  opening it (a few reads at the end), before the table of every entry is built. */
export interface CentralDirectoryLocation {
  path: string;
  fd: number;
  size: number;
  count: number;
  cdOffset: number;
  cdSize: number;
}

/** Opens `zipPath` (a regular file; anything else is refused before it is opened for reading)
 *  and lists every central-directory entry, refusing more than `maxEntries` and any overlap. */
export function openArchiveSync(zipPath: string, maxEntries: number): OpenArchive {
  return readCentralDirectory(locateCentralDirectory(zipPath, maxEntries));
}

/** Opens the archive and finds its central directory; the descriptor is closed on error. */
export function locateCentralDirectory(zipPath: string, maxEntries: number): CentralDirectoryLocation {
  // A FIFO or device in place of the zip must not hang the open: refused before, and O_NONBLOCK
  // covers a swap between the check and the open (the fstat below refuses it then).
  let pre;
  try {
    pre = statSync(zipPath);
  } catch (error) {
    throw new BackupIntegrityError(
      `backup ${zipPath} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); check the path and its permissions`,
    );
  }
  if (!pre.isFile())
    throw new BackupIntegrityError(`${zipPath} is not a regular file; a backup is always a plain file`);
  const fd = openSync(zipPath, constants.O_RDONLY | constants.O_NONBLOCK);
  let ok = false;
  try {
    const st = fstatSync(fd);
    if (!st.isFile())
      throw new BackupIntegrityError(`${zipPath} is not a regular file; a backup is always a plain file`);
    const size = st.size;
    const tailLen = Math.min(size, 22 + 0xffff);
    const tail = readAt(fd, tailLen, size - tailLen);
    let e = -1;
    for (let i = tail.length - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === EOCD) {
        e = i;
        break;
      }
    }
    if (e < 0) throw damaged(zipPath, 'no end-of-central-directory record');
    const eocdPos = size - tailLen + e;
    let count = tail.readUInt16LE(e + 10);
    let cdSize = tail.readUInt32LE(e + 12);
    let cdOffset = tail.readUInt32LE(e + 16);
    let cdEnd = eocdPos;
    if (count === 0xffff || cdSize === MAX32 || cdOffset === MAX32) {
      const loc = readAt(fd, 20, eocdPos - 20);
      if (eocdPos < 20 || loc.length < 20 || loc.readUInt32LE(0) !== LOCATOR64)
        throw damaged(zipPath, 'Zip64 locator missing');
      const pos = Number(loc.readBigUInt64LE(8));
      const r = readAt(fd, 56, pos);
      if (r.length < 56 || r.readUInt32LE(0) !== EOCD64) throw damaged(zipPath, 'Zip64 end record missing');
      count = Number(r.readBigUInt64LE(32));
      cdSize = Number(r.readBigUInt64LE(40));
      cdOffset = Number(r.readBigUInt64LE(48));
      cdEnd = pos;
    }
    if (cdOffset + cdSize > cdEnd) throw damaged(zipPath, 'central directory runs past its end record');
    // The manifest entry is ours, not the tree's: it does not count against the cap.
    if (count > maxEntries + 1) {
      throw new BackupIntegrityError(
        `${zipPath} declares ${count} entries, more than the cap of ${maxEntries} (max-entries); refusing it as a possible zip bomb`,
      );
    }
    ok = true;
    return { path: zipPath, fd, size, count, cdOffset, cdSize };
  } finally {
    if (!ok) closeSync(fd);
  }
}

/** Lists every central-directory entry and checks that no two overlap; the descriptor is closed
 *  on error. */
export function readCentralDirectory(location: CentralDirectoryLocation): OpenArchive {
  const { path: zipPath, fd, size, count, cdOffset, cdSize } = location;
  let ok = false;
  try {
    const entries: ArchiveEntry[] = [];
    const BLOCK = 4 * 1024 * 1024;
    let pos = cdOffset;
    let buf = Buffer.alloc(0);
    let at = 0;
    const need = (n: number): boolean => {
      if (buf.length - at >= n) return true;
      const left = buf.subarray(at);
      const more = readAt(fd, Math.min(Math.max(BLOCK, n), cdOffset + cdSize - pos), pos);
      pos += more.length;
      buf = Buffer.concat([left, more]);
      at = 0;
      return buf.length >= n;
    };
    for (let i = 0; i < count; i++) {
      if (!need(46) || buf.readUInt32LE(at) !== CENTRAL)
        throw damaged(zipPath, `central directory record ${i + 1} of ${count} is missing or damaged`);
      const nameLen = buf.readUInt16LE(at + 28);
      const extraLen = buf.readUInt16LE(at + 30);
      const commentLen = buf.readUInt16LE(at + 32);
      const recLen = 46 + nameLen + extraLen + commentLen;
      if (!need(recLen)) throw damaged(zipPath, `central directory record ${i + 1} is cut short`);
      const flags = buf.readUInt16LE(at + 8);
      let compressedSize = buf.readUInt32LE(at + 20);
      let uncompressedSize = buf.readUInt32LE(at + 24);
      let localHeaderOffset = buf.readUInt32LE(at + 42);
      // Zip64 extended information: only the fields that are saturated, in this order.
      let x = at + 46 + nameLen;
      const xEnd = x + extraLen;
      while (x + 4 <= xEnd) {
        const id = buf.readUInt16LE(x);
        const len = buf.readUInt16LE(x + 2);
        if (id === 0x0001) {
          let f = x + 4;
          const take = (): number => {
            if (f + 8 > x + 4 + len) throw damaged(zipPath, `Zip64 field of entry ${i + 1} is short`);
            const v = Number(buf.readBigUInt64LE(f));
            f += 8;
            return v;
          };
          if (uncompressedSize === MAX32) uncompressedSize = take();
          if (compressedSize === MAX32) compressedSize = take();
          if (localHeaderOffset === MAX32) localHeaderOffset = take();
        }
        x += 4 + len;
      }
      const utf8 = (flags & 0x800) !== 0;
      const name = buf.toString(utf8 ? 'utf8' : 'latin1', at + 46, at + 46 + nameLen);
      // Invalid UTF-8 always decodes to U+FFFD, so only a name holding one needs its bytes
      // checked (no view of the bytes per entry: 20,000 of them were ~5 ms of a verify).
      const nameValid = !utf8 || !name.includes('\uFFFD') || isUtf8(buf.subarray(at + 46, at + 46 + nameLen));
      const madeBy = buf.readUInt16LE(at + 4);
      const attrs = madeBy >> 8 === 3 ? buf.readUInt32LE(at + 38) >>> 16 : 0;
      const kind = attrs & S_IFMT;
      const type: ArchiveEntryType =
        kind === S_IFLNK ? 'symlink' : kind === S_IFDIR || name.endsWith('/') ? 'directory' : 'file';
      entries.push({
        name,
        nameValid,
        type,
        mode: attrs & 0o7777 || (type === 'directory' ? 0o755 : 0o644),
        compressedSize,
        uncompressedSize,
        crc32: buf.readUInt32LE(at + 16),
        compressionMethod: buf.readUInt16LE(at + 10),
        encrypted: (flags & 0x1) !== 0,
        flags,
        localHeaderOffset,
        limit: cdOffset,
        nameBytes: nameLen,
      });
      at += recLen;
    }
    // Overlap: in offset order, each entry's header + data must end before the next begins.
    let ascending = true;
    for (let i = 1; i < entries.length && ascending; i++)
      ascending = entries[i - 1]!.localHeaderOffset <= entries[i]!.localHeaderOffset;
    // Our own archives list entries in offset order: sort only a foreign one.
    const byOffset = ascending
      ? entries
      : [...entries].sort((a, b) => a.localHeaderOffset - b.localHeaderOffset);
    for (let i = 0; i < byOffset.length; i++) {
      const cur = byOffset[i]!;
      const next = i + 1 < byOffset.length ? byOffset[i + 1]!.localHeaderOffset : cdOffset;
      cur.limit = next;
      const minimalEnd =
        cur.localHeaderOffset +
        30 +
        (cur.nameBytes ?? Buffer.byteLength(cur.name, cur.flags & 0x800 ? 'utf8' : 'latin1'));
      if (cur.type === 'file' && minimalEnd + cur.compressedSize > next) {
        throw new UnsafeArchiveError(
          `${zipPath}: entry ${JSON.stringify(cur.name)} overlaps the next entry or the central directory (its data would reach byte ${minimalEnd + cur.compressedSize}, the next part starts at ${next}); refusing an overlapping-entry zip bomb`,
        );
      }
    }
    ok = true;
    return {
      path: zipPath,
      fd,
      size,
      entries,
      centralOffset: cdOffset,
      close: () => {
        try {
          closeSync(fd);
        } catch {
          // already closed
        }
      },
    };
  } finally {
    if (!ok) closeSync(fd);
  }
}

/** Sequential reads through a window: many small entries cost one read per window, not two each. */
export class ArchiveWindow {
  private buf: Buffer;
  private start = 0;
  private end = 0;
  constructor(
    private readonly archive: OpenArchive,
    readonly size = 2 * 1024 * 1024,
  ) {
    this.buf = Buffer.allocUnsafe(size);
  }

  /** Bytes [pos, pos+len), or undefined when `len` is larger than the window. */
  get(pos: number, len: number): Buffer | undefined {
    if (len > this.size) return undefined;
    if (pos < this.start || pos + len > this.end) {
      let got = 0;
      const want = Math.min(this.size, this.archive.size - pos);
      while (got < want) {
        const n = readSync(this.archive.fd, this.buf, got, want - got, pos + got);
        if (n === 0) break;
        got += n;
      }
      this.start = pos;
      this.end = pos + got;
      if (pos + len > this.end) return undefined;
    }
    return this.buf.subarray(pos - this.start, pos - this.start + len);
  }
}

/** Checks `entry`'s local header and returns where its data starts. */
export function dataStart(archive: OpenArchive, win: ArchiveWindow, entry: ArchiveEntry): number {
  const show = JSON.stringify(entry.name);
  const h = win.get(entry.localHeaderOffset, 30);
  if (!h || h.readUInt32LE(0) !== LOCAL)
    throw new BackupIntegrityError(
      `${archive.path}: entry ${show} has no local header where the central directory says; the backup is corrupt`,
    );
  const nameLen = h.readUInt16LE(26);
  const extraLen = h.readUInt16LE(28);
  const raw = win.get(entry.localHeaderOffset + 30, nameLen);
  const expected = Buffer.from(entry.name, entry.flags & 0x800 ? 'utf8' : 'latin1');
  if (!raw || !raw.equals(expected))
    throw new BackupIntegrityError(
      `${archive.path}: entry ${show}'s local header names another file; the backup is corrupt or crafted`,
    );
  const start = entry.localHeaderOffset + 30 + nameLen + extraLen;
  if (start + entry.compressedSize > entry.limit)
    throw new UnsafeArchiveError(
      `${archive.path}: entry ${show} overlaps the next entry; refusing an overlapping-entry zip bomb`,
    );
  return start;
}
