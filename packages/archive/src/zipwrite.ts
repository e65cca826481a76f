// A zip writer for backups, written here rather than taken from a library because the hot path
// is many small files: each entry is read, hashed and deflated synchronously in one go and
// appended to a 1 MiB buffer (one write and one archive-hash update per MiB), where a stream
// per entry (yazl) costs several event-loop round trips per file. Large files stream through in
// 1 MiB chunks with a data descriptor. Zip64 is used where sizes, offsets or counts need it.
// The archive's SHA256 is computed from the bytes as they are written, so no second read.
import { createHash, type Hash } from 'node:crypto';
import { writeSync } from 'node:fs';

const LOCAL = 0x04034b50;
const CENTRAL = 0x02014b50;
const DESCRIPTOR = 0x08074b50;
const EOCD = 0x06054b50;
const EOCD64 = 0x06064b50;
const LOCATOR64 = 0x07064b50;
const MAX32 = 0xffffffff;
const MAX16 = 0xffff;
const FLAG_DESCRIPTOR = 0x0008;
const FLAG_UTF8 = 0x0800;
/** "Made by" Unix, spec 6.3: the high half of external attributes is st_mode. */
const MADE_BY = (3 << 8) | 63;
const BUFFER_BYTES = 1024 * 1024;
/** A streamed entry whose file is at least this large gets Zip64 sizes from the start. */
const ZIP64_STREAM_THRESHOLD = 0xfff00000;

export interface ZipEntryMeta {
  /** UTF-8 name ("/"-separated; directories end with "/"). */
  name: Buffer;
  /** Full st_mode (type and permission bits). */
  mode: number;
  mtime: Date;
}

function dosDateTime(d: Date): { time: number; date: number } {
  const year = Math.min(Math.max(d.getFullYear(), 1980), 2107);
  return {
    time: (d.getHours() << 11) | (d.getMinutes() << 5) | (d.getSeconds() >> 1),
    date: ((year - 1980) << 9) | ((d.getMonth() + 1) << 5) | d.getDate(),
  };
}

export class ZipWriter {
  hash: Hash = createHash('sha256');
  /** Bytes written so far (including what is still buffered). */
  offset = 0;
  entryCount = 0;
  private buf = Buffer.allocUnsafe(BUFFER_BYTES);
  private used = 0;
  // Central records packed into 1 MiB blocks: a million entries must not mean a million Buffers.
  private central: Buffer[] = [];
  private block = Buffer.allocUnsafe(1024 * 1024);
  private blockUsed = 0;
  private centralBytes = 0;

  constructor(readonly fd: number) {}

  /** Writes at explicit positions, so a rewind (truncate) leaves no hole. */
  private put(chunk: Buffer, position: number): void {
    this.hash.update(chunk);
    for (let off = 0; off < chunk.length;)
      off += writeSync(this.fd, chunk, off, chunk.length - off, position + off);
  }

  private flush(): void {
    if (this.used === 0) return;
    this.put(this.buf.subarray(0, this.used), this.offset - this.used);
    this.used = 0;
  }

  /** A point to come back to: everything written after it can be undone (a file that changed
   *  while it was streamed is written again). */
  mark(): { offset: number; hash: Hash; entries: number } {
    this.flush();
    return { offset: this.offset, hash: this.hash.copy(), entries: this.entryCount };
  }

  rewind(mark: { offset: number; hash: Hash; entries: number }, truncate: (offset: number) => void): void {
    if (this.entryCount !== mark.entries) throw new Error('cannot rewind past a finished entry');
    this.used = 0;
    truncate(mark.offset);
    this.offset = mark.offset;
    this.hash = mark.hash;
  }

  write(data: Buffer): void {
    if (this.used + data.length > this.buf.length) this.flush();
    if (data.length >= this.buf.length) {
      this.put(data, this.offset);
    } else {
      data.copy(this.buf, this.used);
      this.used += data.length;
    }
    this.offset += data.length;
  }

  /** An entry whose bytes are all known: local header with final sizes, then the data. */
  addComplete(meta: ZipEntryMeta, data: Buffer, crc: number, size: number, method: 0 | 8): void {
    const zip64 = size >= MAX32 || data.length >= MAX32;
    const headerOffset = this.offset;
    this.localHeader(meta, method, 0, crc, data.length, size, zip64);
    this.write(data);
    this.centralRecord(meta, method, 0, crc, data.length, size, headerOffset);
  }

  /** Starts an entry whose data follows in chunks (large files); sizes come in a data descriptor. */
  beginStreamed(meta: ZipEntryMeta, expectedSize: number, method: 0 | 8): StreamedEntry {
    const zip64 = expectedSize >= ZIP64_STREAM_THRESHOLD;
    const headerOffset = this.offset;
    this.localHeader(meta, method, FLAG_DESCRIPTOR, 0, 0, 0, zip64);
    const start = this.offset;
    return {
      write: (chunk: Buffer) => this.write(chunk),
      end: (crc: number, size: number) => {
        const compressed = this.offset - start;
        const d = Buffer.alloc(zip64 ? 24 : 16);
        d.writeUInt32LE(DESCRIPTOR, 0);
        d.writeUInt32LE(crc >>> 0, 4);
        if (zip64) {
          d.writeBigUInt64LE(BigInt(compressed), 8);
          d.writeBigUInt64LE(BigInt(size), 16);
        } else {
          if (compressed >= MAX32 || size >= MAX32)
            throw new Error(`${meta.name.toString()} grew past 4 GiB while it was being read`);
          d.writeUInt32LE(compressed, 8);
          d.writeUInt32LE(size, 12);
        }
        this.write(d);
        this.centralRecord(meta, method, FLAG_DESCRIPTOR, crc, compressed, size, headerOffset);
      },
    };
  }

  private localHeader(
    meta: ZipEntryMeta,
    method: number,
    flags: number,
    crc: number,
    compressed: number,
    size: number,
    zip64: boolean,
  ): void {
    const { time, date } = dosDateTime(meta.mtime);
    const extraLen = zip64 ? 20 : 0;
    const h = Buffer.allocUnsafe(30 + meta.name.length + extraLen);
    h.writeUInt32LE(LOCAL, 0);
    h.writeUInt16LE(zip64 ? 45 : 20, 4);
    h.writeUInt16LE(flags | FLAG_UTF8, 6);
    h.writeUInt16LE(method, 8);
    h.writeUInt16LE(time, 10);
    h.writeUInt16LE(date, 12);
    h.writeUInt32LE(crc >>> 0, 14);
    h.writeUInt32LE(zip64 ? MAX32 : compressed, 18);
    h.writeUInt32LE(zip64 ? MAX32 : size, 22);
    h.writeUInt16LE(meta.name.length, 26);
    h.writeUInt16LE(extraLen, 28);
    meta.name.copy(h, 30);
    if (zip64) {
      const e = 30 + meta.name.length;
      h.writeUInt16LE(0x0001, e);
      h.writeUInt16LE(16, e + 2);
      h.writeBigUInt64LE(BigInt(size), e + 4);
      h.writeBigUInt64LE(BigInt(compressed), e + 12);
    }
    this.write(h);
  }

  private centralRecord(
    meta: ZipEntryMeta,
    method: number,
    flags: number,
    crc: number,
    compressed: number,
    size: number,
    headerOffset: number,
  ): void {
    const { time, date } = dosDateTime(meta.mtime);
    const big: number[] = [];
    if (size >= MAX32) big.push(size);
    if (compressed >= MAX32) big.push(compressed);
    if (headerOffset >= MAX32) big.push(headerOffset);
    const extraLen = big.length ? 4 + 8 * big.length : 0;
    const c = Buffer.allocUnsafe(46 + meta.name.length + extraLen);
    c.writeUInt32LE(CENTRAL, 0);
    c.writeUInt16LE(MADE_BY, 4);
    c.writeUInt16LE(big.length ? 45 : 20, 6);
    c.writeUInt16LE(flags | FLAG_UTF8, 8);
    c.writeUInt16LE(method, 10);
    c.writeUInt16LE(time, 12);
    c.writeUInt16LE(date, 14);
    c.writeUInt32LE(crc >>> 0, 16);
    c.writeUInt32LE(Math.min(compressed, MAX32), 20);
    c.writeUInt32LE(Math.min(size, MAX32), 24);
    c.writeUInt16LE(meta.name.length, 28);
    c.writeUInt16LE(extraLen, 30);
    c.writeUInt16LE(0, 32); // comment
    c.writeUInt16LE(0, 34); // disk
    c.writeUInt16LE(0, 36); // internal attributes
    const isDir = (meta.mode & 0o170000) === 0o040000;
    c.writeUInt32LE((((meta.mode & 0xffff) << 16) | (isDir ? 0x10 : 0)) >>> 0, 38);
    c.writeUInt32LE(Math.min(headerOffset, MAX32), 42);
    meta.name.copy(c, 46);
    if (big.length) {
      let e = 46 + meta.name.length;
      c.writeUInt16LE(0x0001, e);
      c.writeUInt16LE(8 * big.length, e + 2);
      e += 4;
      for (const v of big) {
        c.writeBigUInt64LE(BigInt(v), e);
        e += 8;
      }
    }
    if (this.blockUsed + c.length > this.block.length) {
      this.central.push(this.block.subarray(0, this.blockUsed));
      this.block = Buffer.allocUnsafe(1024 * 1024);
      this.blockUsed = 0;
    }
    c.copy(this.block, this.blockUsed);
    this.blockUsed += c.length;
    this.centralBytes += c.length;
    this.entryCount++;
  }

  /** Writes the central directory and end records; returns the archive's size and SHA256. */
  finish(): { sizeBytes: number; sha256: string } {
    const cdOffset = this.offset;
    this.central.push(this.block.subarray(0, this.blockUsed));
    for (const c of this.central) this.write(c);
    this.central = [];
    const cdSize = this.centralBytes;
    const n = this.entryCount;
    const zip64 = n >= MAX16 || cdOffset >= MAX32 || cdSize >= MAX32;
    if (zip64) {
      const eocd64Offset = this.offset;
      const r = Buffer.alloc(56);
      r.writeUInt32LE(EOCD64, 0);
      r.writeBigUInt64LE(44n, 4);
      r.writeUInt16LE(MADE_BY, 12);
      r.writeUInt16LE(45, 14);
      r.writeUInt32LE(0, 16);
      r.writeUInt32LE(0, 20);
      r.writeBigUInt64LE(BigInt(n), 24);
      r.writeBigUInt64LE(BigInt(n), 32);
      r.writeBigUInt64LE(BigInt(cdSize), 40);
      r.writeBigUInt64LE(BigInt(cdOffset), 48);
      this.write(r);
      const l = Buffer.alloc(20);
      l.writeUInt32LE(LOCATOR64, 0);
      l.writeUInt32LE(0, 4);
      l.writeBigUInt64LE(BigInt(eocd64Offset), 8);
      l.writeUInt32LE(1, 16);
      this.write(l);
    }
    const e = Buffer.alloc(22);
    e.writeUInt32LE(EOCD, 0);
    e.writeUInt16LE(Math.min(n, MAX16), 8);
    e.writeUInt16LE(Math.min(n, MAX16), 10);
    e.writeUInt32LE(Math.min(cdSize, MAX32), 12);
    e.writeUInt32LE(Math.min(cdOffset, MAX32), 16);
    this.write(e);
    this.flush();
    return { sizeBytes: this.offset, sha256: this.hash.digest('hex') };
  }
}

export interface StreamedEntry {
  write: (chunk: Buffer) => void;
  end: (crc: number, size: number) => void;
}
