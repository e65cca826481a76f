// A deliberately naive zip writer for hostile test archives: it writes whatever names, sizes and
// CRCs it is told, which no well-behaved library would.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';
import { MANIFEST_ENTRY, MANIFEST_FORMAT, type ManifestEntry } from '../src/index.js';

export interface RawEntry {
  name: string | Buffer;
  data?: Buffer;
  /** Unix st_mode (type + permissions); default regular file 0644. */
  mode?: number;
  deflate?: boolean;
  /** Lie about the uncompressed size. */
  declaredSize?: number;
  /** No local header or data of its own: the central record points at entry N's (overlap). */
  sharesDataOf?: number;
}

export function buildZip(entries: RawEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  const offsets: number[] = [];
  for (const e of entries) {
    offsets.push(offset);
    const name = Buffer.isBuffer(e.name) ? e.name : Buffer.from(e.name, 'utf8');
    const data = e.data ?? Buffer.alloc(0);
    const body = e.deflate ? deflateRawSync(data) : data;
    const crc = crc32(data);
    const size = e.declaredSize ?? data.length;
    const method = e.deflate ? 8 : 0;
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt16LE(0x800, 6);
    lh.writeUInt16LE(method, 8);
    lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(body.length, 18);
    lh.writeUInt32LE(size, 22);
    lh.writeUInt16LE(name.length, 26);
    if (e.sharesDataOf === undefined) locals.push(lh, name, body);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE((3 << 8) | 20, 4);
    ch.writeUInt16LE(20, 6);
    ch.writeUInt16LE(0x800, 8);
    ch.writeUInt16LE(method, 10);
    ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(body.length, 20);
    ch.writeUInt32LE(size, 24);
    ch.writeUInt16LE(name.length, 28);
    ch.writeUInt32LE(((e.mode ?? 0o100644) << 16) >>> 0, 38);
    ch.writeUInt32LE(e.sharesDataOf === undefined ? offset : offsets[e.sharesDataOf]!, 42);
    centrals.push(ch, name);
    if (e.sharesDataOf === undefined) offset += 30 + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

/** A manifest claiming exactly what the entries claim (so the test reaches the check it aims at). */
export function manifestFor(entries: RawEntry[], environment = 'production'): RawEntry {
  const list: ManifestEntry[] = entries.map((e) => {
    const name = Buffer.isBuffer(e.name) ? e.name.toString('latin1') : e.name;
    const kind = (e.mode ?? 0o100644) & 0o170000;
    const type = kind === 0o120000 ? 'symlink' : kind === 0o040000 ? 'directory' : 'file';
    const data = e.data ?? Buffer.alloc(0);
    return {
      path: name
        .split('/')
        .filter((p) => p && p !== '.')
        .join('/'),
      type,
      size: e.declaredSize ?? data.length,
      mode: (e.mode ?? 0o644) & 0o777,
      ...(type === 'file' ? { sha256: createHash('sha256').update(data).digest('hex') } : {}),
    };
  });
  const manifest = {
    format: MANIFEST_FORMAT,
    environment,
    version: null,
    commit: null,
    createdAt: '2026-11-23T22:00:00.000Z',
    tool: 'test',
    toolVersion: '0',
    fileCount: list.length,
    totalBytes: 0,
    entries: list,
  };
  return { name: MANIFEST_ENTRY, data: Buffer.from(JSON.stringify(manifest)) };
}

/** Writes a zip and a matching `.sha256` (so only the archive's content is under test). */
export function writeZipWithChecksum(path: string, zip: Buffer): void {
  writeFileSync(path, zip);
  writeChecksum(path);
}

export function writeChecksum(path: string, bytes?: Buffer): void {
  const data = bytes ?? readFileSync(path);
  writeFileSync(`${path}.sha256`, `${createHash('sha256').update(data).digest('hex')}  ${basename(path)}\n`);
}
