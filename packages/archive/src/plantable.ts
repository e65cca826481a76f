// The checked plan as columns, for extraction and for the record of what a restore wrote. The
// per-entry objects planning needs (central directory, manifest and plan entries: ~40 MB at
// 100,000 entries, each an object with its own strings) are released once this table holds what
// is left to do (~13 MB at 100,000 entries, outside V8's heap), before the writer threads start:
// at peak, a restore holds the table, not the objects. Paths are kept as UTF-8 bytes, not
// strings: 100,000 surviving strings scattered over the pages planning filled kept those pages
// resident after a full collection (45 MiB of old space for 17 MiB live).
import type { ArchiveEntry, ArchiveEntryType } from './zipread.js';
import type { ExtractionPlan } from './safety.js';

const TYPES: readonly ArchiveEntryType[] = ['file', 'directory', 'symlink'];
const UTF8_NAME = 1;
const HAS_DIGEST = 2;
const HAS_OWNER = 4;
/** The backup found the file sparse (manifest `allocated`): written with holes. */
const SPARSE = 8;

export class PlanTable {
  readonly count: number;
  private readonly pathBytes: Buffer;
  private readonly pathEnds: Float64Array; // not 32-bit: a sum past 4 GiB must not wrap
  private readonly types: Uint8Array;
  private readonly bits: Uint8Array;
  private readonly methods: Uint8Array;
  readonly modes: Uint16Array;
  readonly crcs: Uint32Array;
  /** Declared (uncompressed) sizes. */
  readonly sizes: Float64Array;
  private readonly offsets: Float64Array;
  private readonly compressed: Float64Array;
  private readonly limits: Float64Array;
  private readonly owners: Float64Array;
  /** Manifest mtimes (0 when absent). */
  readonly mtimes: Float64Array;
  private readonly digests: Buffer;
  /** Each file's status as extraction left it, 4 per entry: inode, ctimeMs, mtimeMs and
   *  permission bits, from fstat after the last change the restore made to it (NaN when not
   *  written). Set by extractPlan when it writes; the record of the restored tree reads it. */
  written: Float64Array | undefined;
  /** Stored names that are not their path (a directory's trailing "/"). */
  private readonly names = new Map<number, string>();
  private readonly linkTargets = new Map<number, string>();
  /** Entry i -> the entry it is a hard link of (manifest "hardlink", checked by planning). */
  readonly hardlinks = new Map<number, number>();

  constructor(plan: ExtractionPlan) {
    const n = plan.entries.length;
    this.count = n;
    this.pathEnds = new Float64Array(n);
    let bytes = 0;
    plan.entries.forEach((p, i) => (this.pathEnds[i] = bytes += Buffer.byteLength(p.path)));
    this.pathBytes = Buffer.allocUnsafeSlow(bytes);
    this.types = new Uint8Array(n);
    this.bits = new Uint8Array(n);
    this.methods = new Uint8Array(n);
    this.modes = new Uint16Array(n);
    this.crcs = new Uint32Array(n);
    this.sizes = new Float64Array(n);
    this.offsets = new Float64Array(n);
    this.compressed = new Float64Array(n);
    this.limits = new Float64Array(n);
    this.owners = new Float64Array(2 * n);
    this.mtimes = new Float64Array(n);
    this.digests = Buffer.alloc(32 * n);
    plan.entries.forEach((p, i) => {
      const s = p.source;
      const m = p.manifest;
      this.pathBytes.write(p.path, i ? this.pathEnds[i - 1]! : 0);
      if (s.name !== p.path) this.names.set(i, s.name);
      this.types[i] = TYPES.indexOf(p.type);
      this.methods[i] = s.compressionMethod; // 0 or 8: planning refused any other
      this.modes[i] = p.mode;
      this.crcs[i] = s.crc32 >>> 0;
      this.sizes[i] = p.size;
      this.offsets[i] = s.localHeaderOffset;
      this.compressed[i] = s.compressedSize;
      this.limits[i] = s.limit;
      this.mtimes[i] = m?.mtimeMs || 0;
      let bits = s.flags & 0x800 ? UTF8_NAME : 0;
      if (m?.sha256) {
        this.digests.write(m.sha256, 32 * i, 32, 'hex');
        bits |= HAS_DIGEST;
      }
      if (m && Number.isInteger(m.uid) && Number.isInteger(m.gid)) {
        this.owners[2 * i] = m.uid!;
        this.owners[2 * i + 1] = m.gid!;
        bits |= HAS_OWNER;
      }
      if (m?.allocated !== undefined && p.type === 'file') bits |= SPARSE;
      this.bits[i] = bits;
      if (p.linkTarget !== undefined) this.linkTargets.set(i, p.linkTarget);
    });
    const linked = plan.entries.some((p) => p.manifest?.hardlink !== undefined);
    if (linked) {
      const index = new Map(plan.entries.map((p, i) => [p.path, i]));
      plan.entries.forEach((p, i) => {
        const first = p.manifest?.hardlink;
        if (first !== undefined && index.has(first)) this.hardlinks.set(i, index.get(first)!);
      });
    }
  }

  /** Whether the backup found file i sparse (it is then written with holes). */
  sparse(i: number): boolean {
    return (this.bits[i]! & SPARSE) !== 0;
  }

  /** Normalised relative path of entry i, "/"-separated (valid UTF-8: planning checked it). */
  path(i: number): string {
    return this.pathBytes.toString('utf8', i ? this.pathEnds[i - 1]! : 0, this.pathEnds[i]!);
  }

  /** Bytes of entry i's path: a parent's path is always shorter than its children's. */
  pathLength(i: number): number {
    return this.pathEnds[i]! - (i ? this.pathEnds[i - 1]! : 0);
  }

  type(i: number): ArchiveEntryType {
    return TYPES[this.types[i]!]!;
  }

  /** The entry's name exactly as stored in the archive. */
  name(i: number): string {
    return this.names.get(i) ?? this.path(i);
  }

  /** The manifest's hex SHA256 of a file, when it lists one. */
  sha256(i: number): string | undefined {
    return this.bits[i]! & HAS_DIGEST ? this.digests.toString('hex', 32 * i, 32 * i + 32) : undefined;
  }

  owner(i: number): { uid: number; gid: number } | undefined {
    return this.bits[i]! & HAS_OWNER ? { uid: this.owners[2 * i]!, gid: this.owners[2 * i + 1]! } : undefined;
  }

  /** What extraction left of file i (see `written`), or undefined when unknown. */
  writtenStatus(i: number): { ino: number; ctimeMs: number; mtimeMs: number; mode: number } | undefined {
    const w = this.written;
    if (!w || Number.isNaN(w[4 * i])) return undefined;
    return { ino: w[4 * i]!, ctimeMs: w[4 * i + 1]!, mtimeMs: w[4 * i + 2]!, mode: w[4 * i + 3]! };
  }

  linkTarget(i: number): string | undefined {
    return this.linkTargets.get(i);
  }

  offset(i: number): number {
    return this.offsets[i]!;
  }

  /** In JSON (a result printed whole), the count: the columns are megabytes on a large tree. */
  toJSON(): { entries: number } {
    return { entries: this.count };
  }

  /** The central-directory fields that reading the entry's data needs (made per call). */
  source(i: number): ArchiveEntry {
    return {
      name: this.name(i),
      nameValid: true,
      type: this.type(i),
      mode: this.modes[i]!,
      compressedSize: this.compressed[i]!,
      uncompressedSize: this.sizes[i]!,
      crc32: this.crcs[i]!,
      compressionMethod: this.methods[i]!,
      encrypted: false,
      flags: this.bits[i]! & UTF8_NAME ? 0x800 : 0,
      localHeaderOffset: this.offsets[i]!,
      limit: this.limits[i]!,
    };
  }
}
