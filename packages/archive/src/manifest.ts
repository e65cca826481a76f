// The manifest every backup carries as its last zip entry: what was backed up, from which release,
// and each entry's size, mode and SHA256, so a restore can check the archive against its own claims.
import { crc32, createDeflateRaw } from 'node:zlib';
import { BackupIntegrityError } from './errors.js';

export const MANIFEST_ENTRY = '.guarded-rollout-backup.json';
export const MANIFEST_FORMAT = 'guarded-rollout-backup/1';

export type ManifestEntryType = 'file' | 'directory' | 'symlink';

export interface ManifestEntry {
  path: string;
  type: ManifestEntryType;
  /** Bytes of the file (0 for directories; the link text length for symlinks). */
  size: number;
  /** Permission bits including setuid/setgid/sticky, e.g. 0o2775 for a setgid directory. */
  mode: number;
  /** Owner and group ids at backup time (restored when the restore runs as root). */
  uid?: number;
  gid?: number;
  /** Hex SHA256 of the file's bytes (files only). */
  sha256?: string;
  /** Link text (symlinks only). */
  target?: string;
  mtimeMs?: number;
  /** Bytes the file took on disk when that was less than its size (a sparse file: a database or
   *  image file with holes): a restore leaves holes where whole blocks are zero, as
   *  `cp --sparse=auto` does, and counts these bytes for the free-disk check. Files only. */
  allocated?: number;
  /** The path of another file entry of this backup (the first in archive order) that was the
   *  same file (a hard link): a restore links this path to it instead of writing a copy. The zip
   *  still holds the bytes, so `unzip` gives a copy. Files only. */
  hardlink?: string;
}

export interface BackupManifest {
  format: typeof MANIFEST_FORMAT;
  environment: string;
  version: string | null;
  commit: string | null;
  createdAt: string;
  tool: string;
  toolVersion: string;
  fileCount: number;
  totalBytes: number;
  entries: ManifestEntry[];
}

/** Parses and shape-checks a manifest read from an archive (its content is untrusted). */
export function parseManifest(text: string, source: string): BackupManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw notJson(source, error);
  }
  return checkManifest(raw, source);
}

const notJson = (source: string, error: unknown): BackupIntegrityError =>
  new BackupIntegrityError(
    `${source}: manifest ${MANIFEST_ENTRY} is not valid JSON (${(error as Error).message})`,
  );

function checkManifest(raw: unknown, source: string): BackupManifest {
  const m = raw as Partial<BackupManifest>;
  const bad = (what: string): never => {
    throw new BackupIntegrityError(`${source}: manifest ${MANIFEST_ENTRY} ${what}`);
  };
  if (!m || typeof m !== 'object') bad('is not an object');
  if (m.format !== MANIFEST_FORMAT)
    bad(`has format ${JSON.stringify(m.format)}; expected "${MANIFEST_FORMAT}"`);
  if (typeof m.environment !== 'string') bad('lacks "environment"');
  if (typeof m.createdAt !== 'string') bad('lacks "createdAt"');
  if (!Array.isArray(m.entries)) bad('lacks "entries"');
  const types = new Set(['file', 'directory', 'symlink']);
  const entries = m.entries!;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (
      !e ||
      typeof e.path !== 'string' ||
      !types.has(e.type) ||
      typeof e.size !== 'number' ||
      typeof e.mode !== 'number'
    ) {
      bad(`entries[${i}] is malformed (needs path, type, size, mode)`);
    }
    if (e.type === 'file' && !isSha256Hex(e.sha256)) bad(`entries[${i}] (${e.path}) lacks a sha256`);
    if (e.hardlink !== undefined && !(e.type === 'file' && typeof e.hardlink === 'string'))
      bad(
        `entries[${i}] (${e.path}) has "hardlink" ${JSON.stringify(e.hardlink)}; expected the path of another file entry, on a file`,
      );
    if (e.allocated !== undefined && !(typeof e.allocated === 'number' && e.allocated >= 0))
      bad(
        `entries[${i}] (${e.path}) has "allocated" ${JSON.stringify(e.allocated)}; expected a number of bytes`,
      );
  }
  return m as BackupManifest;
}

const LOWER_HEX = new Uint8Array(128);
for (const c of '0123456789abcdef') LOWER_HEX[c.charCodeAt(0)] = 1;

/** 64 lowercase hex digits. A loop, not /^[0-9a-f]{64}$/: the regex took ~7 ms of a
 *  20,000-entry verify's ~140, this ~3. */
function isSha256Hex(value: unknown): boolean {
  if (typeof value !== 'string' || value.length !== 64) return false;
  for (let i = 0; i < 64; i++) if (LOWER_HEX[value.charCodeAt(i)] !== 1) return false;
  return true;
}

/** The line that opens the entries in the layout the tool writes (see ManifestReader). */
const ENTRIES_OPEN = '"entries":[';

/**
 * Reads a manifest as it inflates, never holding its whole text: 100,000 entries are ~19 MB of
 * JSON, which as bytes plus one string came to ~40 MB of a restore's peak memory. The tool
 * writes the manifest (ManifestWriter) as valid JSON laid out one value per line (JSON escapes
 * every newline inside a string, so a raw newline is always between values), with the totals in
 * the closing line because they are known only at the end:
 *
 *   {"format":…,"toolVersion":"…","entries":[
 *   {"path":"a",…},
 *   {"path":"b",…}
 *   ],"fileCount":1,"totalBytes":3}
 *
 * so whole lines are parsed as they arrive, many at a time (`[` + lines + `]`, one JSON.parse per
 * megabyte). Anything not in this layout (manifests written before it, or by hand) is read whole
 * and parsed at once, as before. A layout that starts like ours but breaks it later (a value
 * spread over lines, a missing or extra comma, text after the end) is refused as invalid JSON,
 * which it is or which the tool never writes (either way, every time, however the pieces fall).
 */
export class ManifestReader {
  private state: 'head' | 'entries' | 'closed' | 'whole' = 'head';
  private pending: Buffer[] = [];
  private head: Record<string, unknown> | undefined;
  private tail: Record<string, unknown> = {};
  private readonly entries: ManifestEntry[] = [];
  private trailingComma = false;

  constructor(private readonly source: string) {}

  push(chunk: Buffer): void {
    if (this.state === 'whole') {
      this.pending.push(chunk);
      return;
    }
    const nl = chunk.lastIndexOf(10);
    if (nl < 0) {
      this.pending.push(chunk);
      return;
    }
    const region = this.pending.length
      ? Buffer.concat([...this.pending, chunk.subarray(0, nl + 1)])
      : chunk.subarray(0, nl + 1);
    this.pending = nl + 1 < chunk.length ? [chunk.subarray(nl + 1)] : [];
    this.lines(region);
  }

  end(): BackupManifest {
    if (this.state === 'whole')
      return parseManifest(Buffer.concat(this.pending).toString('utf8'), this.source);
    const rest = Buffer.concat(this.pending);
    this.pending = [];
    if (rest.length) this.lines(Buffer.concat([rest, Buffer.from('\n')]));
    if ((this.state as string) === 'whole') return this.end(); // changed by lines()
    if (this.state !== 'closed')
      throw notJson(this.source, new Error('the text ends before the entries are closed'));
    return checkManifest({ ...this.head, ...this.tail, entries: this.entries }, this.source);
  }

  /** Complete lines, each ending in a newline. */
  private lines(region: Buffer): void {
    let text = region.toString('utf8');
    if (this.state === 'head') {
      const first = text.indexOf('\n');
      const line = text.slice(0, first);
      if (!line.endsWith(ENTRIES_OPEN) || !line.startsWith('{')) {
        this.state = 'whole';
        this.pending.unshift(region);
        return;
      }
      try {
        this.head = JSON.parse(`${line}]}`) as Record<string, unknown>;
      } catch (error) {
        throw notJson(this.source, error);
      }
      this.state = 'entries';
      text = text.slice(first + 1);
      if (!text) return;
    }
    let body = text.slice(0, -1);
    if (this.state === 'closed') {
      if (body.trim()) throw notJson(this.source, new Error('text follows the end of the manifest'));
      return;
    }
    let lastStart = body.lastIndexOf('\n') + 1;
    if (!body.startsWith(']', lastStart) && !body.endsWith(',')) {
      // The last entry: it is followed by the closing line, which may come in the next piece.
      this.pending.unshift(Buffer.from(`${body.slice(lastStart)}\n`));
      body = body.slice(0, Math.max(0, lastStart - 1));
      lastStart = body.lastIndexOf('\n') + 1;
    }
    const closing = body.startsWith(']', lastStart);
    if (closing) {
      // "]}" or "],"fileCount":N,…}": the totals the writer knew only at the end.
      const last = body.slice(lastStart);
      if (last !== ']}') {
        let tail: unknown;
        try {
          if (!last.startsWith('],'))
            throw new Error(`unexpected closing line ${JSON.stringify(last.slice(0, 40))}`);
          tail = JSON.parse(`{${last.slice(2)}`);
        } catch (error) {
          throw notJson(this.source, error);
        }
        if (tail && typeof tail === 'object' && 'entries' in tail)
          throw notJson(this.source, new Error('the closing line repeats "entries"'));
        this.tail = tail as Record<string, unknown>;
      }
      body = body.slice(0, Math.max(0, lastStart - 1));
      this.state = 'closed';
    }
    if (!body) {
      if (closing && this.trailingComma)
        throw notJson(this.source, new Error('a comma follows the last entry'));
      return;
    }
    if (closing === body.endsWith(','))
      throw notJson(
        this.source,
        new Error(closing ? 'a comma follows the last entry' : 'an entry is not followed by a comma'),
      );
    if (!closing) body = body.slice(0, -1);
    let values: unknown;
    try {
      values = JSON.parse(`[${body}]`);
    } catch (error) {
      throw notJson(this.source, error);
    }
    // One value per line, whatever the pieces: a value spread over lines is refused every time,
    // not only when a piece happens to split it.
    let lines = 1;
    for (let i = body.indexOf('\n'); i >= 0; i = body.indexOf('\n', i + 1)) lines++;
    if ((values as unknown[]).length !== lines)
      throw notJson(this.source, new Error('an entry is spread over several lines'));
    for (const v of values as ManifestEntry[]) this.entries.push(v);
    this.trailingComma = !closing;
  }
}

/**
 * Writes a manifest in the layout ManifestReader reads, as the backup goes: each entry becomes a
 * line of JSON at once and is deflated on the thread pool, so 100,000 entries are ~7 MB of
 * compressed text instead of ~24 MB of objects kept to the end. Entries are in archive order.
 */
export class ManifestWriter {
  fileCount = 0;
  totalBytes = 0;
  private count = 0;
  private text: string;
  private crc = 0;
  private size = 0;
  private readonly deflate = createDeflateRaw({ level: 6, chunkSize: 256 * 1024 });
  private readonly compressed: Buffer[] = [];
  private waiting: Promise<void> | undefined;
  private failure: Error | undefined;

  constructor(head: Omit<BackupManifest, 'entries' | 'fileCount' | 'totalBytes'>) {
    this.text = `${JSON.stringify(head).slice(0, -1)},"entries":[\n`;
    this.deflate.on('data', (c: Buffer) => this.compressed.push(c));
    this.deflate.on('error', (error) => (this.failure = error));
  }

  add(entry: ManifestEntry): void {
    if (this.failure) throw this.failure;
    if (entry.type === 'file') {
      this.fileCount++;
      this.totalBytes += entry.size;
    }
    this.text += `${this.count++ ? ',\n' : ''}${JSON.stringify(entry)}`;
    if (this.text.length >= 256 * 1024) this.flush();
  }

  /** Set while the deflate stream is behind; await it before adding much more. */
  get ready(): Promise<void> | undefined {
    return this.waiting;
  }

  /** Closes the document: the compressed bytes, with the CRC-32 and size of the text. */
  async finish(): Promise<{ chunks: Buffer[]; crc: number; size: number }> {
    if (this.failure) throw this.failure;
    this.text += `\n],${JSON.stringify({ fileCount: this.fileCount, totalBytes: this.totalBytes }).slice(1)}\n`;
    this.flush();
    await new Promise<void>((resolvePromise, reject) => {
      this.deflate.once('end', () => resolvePromise());
      this.deflate.once('error', reject);
      this.deflate.end();
      this.deflate.resume();
    });
    if (this.failure) throw this.failure;
    return { chunks: this.compressed, crc: this.crc, size: this.size };
  }

  private flush(): void {
    const b = Buffer.from(this.text);
    this.text = '';
    this.crc = crc32(b, this.crc);
    this.size += b.length;
    if (!this.deflate.write(b))
      // Also on an error or close: a stream that failed never drains, and a backup must not wait
      // for it forever (the next add() or finish() reports the failure).
      this.waiting ??= new Promise<void>((r) => {
        const done = (): void => {
          this.deflate.off('drain', done).off('error', done).off('close', done);
          this.waiting = undefined;
          r();
        };
        this.deflate.on('drain', done).on('error', done).on('close', done);
      });
  }
}
