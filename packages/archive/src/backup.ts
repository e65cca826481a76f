// Creating a backup: one pass that reads each file once, checks it did not change while read
// (size, mtime and ctime before and after; re-read up to 3 times), hashes it for the manifest,
// compresses it (or stores it when it is already dense), and hashes the archive bytes as they go
// to disk (zipwrite.ts). Small files are read here and hashed and deflated by worker threads in
// batches (deflatepool.ts), then appended in walk order; large ones stream in 1 MiB chunks with
// deflate running on the thread pool beside the hashing. The zip is written under a dot-name and
// fsynced; then its `.sha256` is written (atomically) and only then is the zip hard-linked to its
// unique name, so at every instant each `dhash_*.zip` has its `.sha256`: a killed backup leaves at
// worst an orphan `.sha256` (no zip), which no `dhash_*.zip` glob matches and the next backup sweeps.
import { createHash } from 'node:crypto';
import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
  type Stats,
} from 'node:fs';
import { basename, extname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { constants as zlibConstants, crc32, deflateRawSync } from 'node:zlib';
import { ConfigError } from '@guarded-rollout/config/errors';
import { TOOL_NAME, TOOL_VERSION } from '@guarded-rollout/config/version';
import { openEvidenceLog } from './logfile.js';
import { collectEntries, sourcePath, type SourceEntry } from './collect.js';
import { describeFsError, fsErrorLine, isFsError } from './fserrors.js';
import { BackupCancelledError, BackupWriteError } from './errors.js';
import { DEFAULT_CAPS } from './safety.js';
import { ZipWriter, type ZipEntryMeta } from './zipwrite.js';
import { DeflatePool, compressionThreads } from './deflatepool.js';
import { HeapGuard, boundExternalMemory } from './heapguard.js';
import { deflateRawReleasing, releasingZlib } from './workergc.js';
import { sha256OfFd } from './read.js';
import { MANIFEST_ENTRY, MANIFEST_FORMAT, ManifestWriter } from './manifest.js';
import {
  DEFAULT_OUT_DIR,
  DEFAULT_PREFIX,
  applyRetention,
  assertEnvironmentName,
  assertPrefix,
  backupLockPath,
  listNames,
  sweepInterruptedBackups,
  uniqueBackupFileName,
} from './naming.js';
import { acquireLock, isProcessAlive } from './lock.js';
import { repairInterruptedSwap } from './swap.js';
import { freeBytes, fsyncDirectory, partialName, writeFileAtomic } from './durable.js';

export { freeBytes, fsyncDirectory, writeFileAtomic } from './durable.js';
import { describeCommandResult, runShellCommand } from './process.js';
import { RESERVED_STATE_DIR } from './safety.js';
import { formatBytes } from './units.js';

export interface BackupOptions {
  environment: string;
  /** Files, directories or globs, relative to `baseDir`. */
  paths: string[];
  /** Archive paths are relative to this directory (default: `cwd`). */
  baseDir?: string;
  /** Directory the backup is written to (default `backups`, relative to `cwd`). */
  outDir?: string;
  prefix?: string;
  /** Keep the newest N complete backups of this environment; undefined keeps all. */
  keep?: number;
  /** Shell command run first; it writes dump files into $GUARDED_ROLLOUT_DUMP_DIR, stored under `_dump/`. */
  dumpCommand?: string;
  dumpTimeoutMs?: number;
  version?: string;
  commit?: string;
  /** 0 stores everything; 1-9 deflates compressible files at that level (default 6, like `zip`). */
  compressionLevel?: number;
  dryRun?: boolean;
  /** Where `backup-dryrun.log` goes (default `cwd`). */
  logDir?: string;
  /** The repository root the `.sha256`'s file name is written relative to (default process.cwd()). */
  cwd?: string;
  now?: () => Date;
  /** A cancel: the backup stops at its next file or 1 MiB piece (a dump command's process group
   *  is stopped), its partial archive is removed and BackupCancelledError is thrown. Once the
   *  `.sha256` is being written the backup completes: it is never left half-named. */
  signal?: AbortSignal;
}

/** Throws BackupCancelledError when the backup's signal has aborted. */
function stopIfCancelled(signal: AbortSignal | undefined, partial?: string): void {
  if (!signal?.aborted) return;
  throw new BackupCancelledError(
    `backup cancelled${partial ? `; its partial archive ${partial} was removed` : ''}; no backup was made`,
  );
}

export interface BackupResult {
  dryRun: boolean;
  backupPath: string;
  sha256: string;
  sha256Path: string;
  sizeBytes: number;
  fileCount: number;
  totalBytes: number;
  deleted: string[];
  logPath?: string;
  /** Dry-run only: 'fail' when the destination lacks the free disk the backup needs. */
  dryRunStatus?: 'pass' | 'fail';
  /** What was cleaned up or repaired first (leftovers of interrupted runs), one line each. */
  notes: string[];
}

export const DUMP_DIR_ENTRY = '_dump';
/** Files up to this size are read, hashed and deflated in one synchronous step. */
const SMALL_FILE_BYTES = 1024 * 1024;
const SAMPLE_BYTES = 64 * 1024;
/** Below this many small files, starting worker threads costs more than it saves. */
const POOL_MIN_FILES = 200;
const READ_ATTEMPTS = 3;
// Formats that are compressed already: deflating them costs CPU and gains nothing.
const DENSE_EXTENSIONS = new Set(
  '.zip .gz .tgz .bz2 .xz .zst .7z .rar .jpg .jpeg .png .gif .webp .avif .heic .mp4 .mov .mkv .webm .mp3 .ogg .flac .pdf .woff .woff2 .jar .whl'.split(
    ' ',
  ),
);

/** Decides store vs deflate from the extension and a 64 KiB sample: random-looking data is stored. */
export function chooseCompression(entry: SourceEntry, level: number, openFd?: number): number {
  if (level === 0) return 0;
  if (DENSE_EXTENSIONS.has(extname(entry.path).toLowerCase())) return 0;
  // A tiny file gains a few bytes from deflate and costs a compressor instance.
  if (entry.size < 512) return 0;
  if (entry.size < 16 * 1024) return level;
  const fd = openFd ?? openSync(sourcePath(entry), 'r');
  try {
    const sample = Buffer.allocUnsafe(SAMPLE_BYTES);
    const n = readSync(fd, sample, 0, SAMPLE_BYTES, 0);
    const packed = releasingZlib(deflateRawSync, sample.subarray(0, n), { level: 1 });
    return packed.length > n * 0.9 ? 0 : level;
  } finally {
    if (openFd === undefined) closeSync(fd);
  }
}

/** The name the `.sha256` line carries: the zip's path from the repository root when it lies
 *  inside it, so `sha256sum -c backups/x.zip.sha256` works verbatim from the root. */
export function checksumName(zipPath: string, root: string): string {
  const rel = relative(root, zipPath);
  const inside = rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
  return (inside ? rel : zipPath).split(sep).join('/');
}

interface Plan {
  environment: string;
  prefix: string;
  outDir: string;
  baseDir: string;
  root: string;
  createdAt: Date;
  finalPath: string;
  entries: SourceEntry[];
  totalBytes: number;
}

/** `seen`: names the out directory held before leftovers were swept; they stay used names. */
function plan(options: BackupOptions, extraEntries: SourceEntry[] = [], seen: string[] = []): Plan {
  const environment = assertEnvironmentName(options.environment);
  const prefix = assertPrefix(options.prefix ?? DEFAULT_PREFIX);
  const root = resolve(options.cwd ?? process.cwd());
  const baseDir = resolve(root, options.baseDir ?? '.');
  const outDir = resolve(root, options.outDir ?? DEFAULT_OUT_DIR);
  const createdAt = (options.now ?? (() => new Date()))();
  const entries = [
    ...collectEntries(baseDir, options.paths, [outDir, join(baseDir, RESERVED_STATE_DIR)]),
    ...extraEntries,
  ];
  const totalBytes = entries.reduce((sum, e) => sum + (e.type === 'file' ? e.size : 0), 0);
  // Refused when it is made, never at restore time: every backup written restores by default.
  if (entries.length > DEFAULT_CAPS.maxEntries)
    throw new ConfigError(
      `paths: ${entries.length} entries under ${baseDir}, more than a restore accepts by default (${DEFAULT_CAPS.maxEntries}); back up fewer paths per backup`,
      { field: 'paths' },
    );
  return {
    environment,
    prefix,
    outDir,
    baseDir,
    root,
    createdAt,
    finalPath: join(outDir, uniqueBackupFileName(outDir, prefix, environment, createdAt, seen)),
    entries,
    totalBytes,
  };
}

function validateLevel(level: number | undefined): number {
  const l = level ?? 6;
  if (!Number.isInteger(l) || l < 0 || l > 9) {
    throw new ConfigError(
      `compression-level: ${JSON.stringify(level)} is not a whole number from 0 (store) to 9`,
      { field: 'compression-level' },
    );
  }
  return l;
}

/** Creates a verified backup (or, with `dryRun`, only writes `backup-dryrun.log`). */
export async function createBackup(options: BackupOptions): Promise<BackupResult> {
  const level = validateLevel(options.compressionLevel);
  if (options.keep !== undefined && (!Number.isInteger(options.keep) || options.keep < 1)) {
    throw new ConfigError(`keep: ${JSON.stringify(options.keep)} is not a whole number of at least 1`, {
      field: 'keep',
    });
  }
  if (options.dryRun) return dryRun(options);

  const root = resolve(options.cwd ?? process.cwd());
  const outDir = resolve(root, options.outDir ?? DEFAULT_OUT_DIR);
  const environment = assertEnvironmentName(options.environment);
  const prefix = assertPrefix(options.prefix ?? DEFAULT_PREFIX);
  // One backup of an environment at a time: names are chosen and leftovers swept under the lock.
  let lock: ReturnType<typeof acquireLock>;
  let seen: string[];
  const notes: string[] = [];
  try {
    mkdirSync(outDir, { recursive: true });
    lock = acquireLock(
      backupLockPath(outDir, prefix, environment),
      `a backup of environment "${environment}"`,
      options.now,
    );
  } catch (error) {
    throw outDirError(error, outDir);
  }
  if (lock.tookOver) notes.push(lock.tookOver);
  let dumpDir: string | undefined;
  try {
    stopIfCancelled(options.signal);
    try {
      // Names the sweep removes (an orphan `.sha256`, a temp zip) were used: never given out again.
      seen = listNames(outDir);
      notes.push(...sweepInterruptedBackups(outDir, environment, prefix, isProcessAlive));
    } catch (error) {
      throw outDirError(error, outDir);
    }
    // A restore killed mid-swap in the tree being backed up is finished first, so the backup
    // never captures a half-swapped tree.
    notes.push(...repairInterruptedSwap(resolve(root, options.baseDir ?? '.')));
    const extra: SourceEntry[] = [];
    if (options.dumpCommand) {
      dumpDir = mkdtempSync(join(outDir, `.dump-${environment}-${process.pid}-`));
      const timeoutMs = options.dumpTimeoutMs ?? 30 * 60_000;
      const result = await runShellCommand(options.dumpCommand, {
        cwd: resolve(root, options.baseDir ?? '.'),
        env: { ...process.env, GUARDED_ROLLOUT_DUMP_DIR: dumpDir },
        timeoutMs,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      if (result.cancelled) stopIfCancelled(options.signal);
      if (!result.ok) {
        throw new ConfigError(
          `dump command ${describeCommandResult(result, timeoutMs)}; no backup was written. Output:\n${result.outputTail}`,
          {
            field: 'dump-command',
          },
        );
      }
      for (const e of collectEntries(dumpDir, ['.']))
        extra.push({ ...e, abs: sourcePath(e), path: `${DUMP_DIR_ENTRY}/${e.path}` });
      if (extra.length)
        extra.unshift({
          root: dumpDir,
          abs: dumpDir,
          path: DUMP_DIR_ENTRY,
          type: 'directory',
          size: 0,
          mode: 0o755,
          mtimeMs: Date.now(),
        });
    }
    const p = plan(options, extra, seen);
    stopIfCancelled(options.signal);
    return { ...(await writeArchive(p, options, level)), notes };
  } finally {
    if (dumpDir) rmSync(dumpDir, { recursive: true, force: true });
    lock.release();
  }
}

/** A file system error in the backup directory, as one line naming it and what to do. */
function outDirError(error: unknown, outDir: string): unknown {
  if (!isFsError(error)) return error;
  return new BackupWriteError(
    `${fsErrorLine(error, 'write')}; the backup directory ${outDir} must be writable (or choose another --out directory); nothing was written`,
  );
}

/** Changed between two stats of one open file: the bytes read may mix two states. */
function moved(a: Stats, b: Stats): boolean {
  return a.size !== b.size || a.mtimeMs !== b.mtimeMs || a.ctimeMs !== b.ctimeMs || a.ino !== b.ino;
}

/** Changed within the last 2 s: possibly still being written (see readSmallConsistent). */
function recentlyChanged(st: Stats): boolean {
  return Date.now() - Math.max(st.mtimeMs, st.ctimeMs) < 2000;
}

function openSource(entry: SourceEntry): number {
  try {
    // O_NOFOLLOW: a file swapped for a symlink since the walk is refused, not followed;
    // O_NONBLOCK: one swapped for a FIFO cannot hang the open (its fstat then refuses it).
    return openSync(sourcePath(entry), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    throw new ConfigError(`cannot read ${sourcePath(entry)}: ${describeFsError(error)}`, { field: 'paths' });
  }
}

function changedError(entry: SourceEntry): ConfigError {
  return new ConfigError(
    `${sourcePath(entry)} kept changing while it was read (${READ_ATTEMPTS} attempts: its size, mtime or ctime moved during each read), so no consistent copy could be taken; stop its writer during the backup, or use --dump-command to write a consistent snapshot (e.g. a database dump) and back that up`,
    { field: 'paths' },
  );
}

/** Reads a small file whole, checking it did not change while read (re-read up to 3 times).
 *  The bytes land in `scratch` when they fit: valid only until the next call (every caller copies
 *  or writes them at once), so 20,000 files are not 20,000 buffers for the collector. */
function readSmallConsistent(entry: SourceEntry, scratch: Buffer): { data: Buffer; stat: Stats } {
  for (let attempt = 1; attempt <= READ_ATTEMPTS; attempt++) {
    const fd = openSource(entry);
    try {
      const before = fstatSync(fd);
      if (!before.isFile())
        throw new ConfigError(`${sourcePath(entry)} is no longer a regular file; it is not backed up`, {
          field: 'paths',
        });
      // One byte more than its size, to notice a file that grows during the read.
      const data =
        before.size < scratch.length
          ? scratch.subarray(0, before.size + 1)
          : Buffer.allocUnsafe(before.size + 1);
      let got = 0;
      while (got < data.length) {
        const n = readSync(fd, data, got, data.length - got, got);
        if (n === 0) break;
        got += n;
      }
      const after = fstatSync(fd);
      if (got === before.size && !moved(before, after)) {
        const bytes = data.subarray(0, got);
        // mtime/ctime tick coarsely (a few ms): a file written within that tick can change with
        // no visible stat change, so a recently changed file must also read the same twice.
        if (!recentlyChanged(before) || sha256OfFd(fd) === createHash('sha256').update(bytes).digest('hex'))
          return { data: bytes, stat: before };
      }
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      throw new ConfigError(`cannot read ${sourcePath(entry)}: ${describeFsError(error)}`, {
        field: 'paths',
      });
    } finally {
      closeSync(fd);
    }
  }
  throw changedError(entry);
}

/** Worth deflating at all: not level 0, not tiny, not an already dense format. */
function compressible(entry: SourceEntry, size: number, level: number): boolean {
  return level > 0 && size >= 512 && !DENSE_EXTENSIONS.has(extname(entry.path).toLowerCase());
}

/** Store or deflate, decided from the extension and (over 64 KiB) a level-1 sample. The same
 *  rule runs in deflatepool.ts's workers. */
function compressInMemory(entry: SourceEntry, data: Buffer, level: number): { method: 0 | 8; body: Buffer } {
  if (!compressible(entry, data.length, level)) return { method: 0, body: data };
  if (data.length > SAMPLE_BYTES) {
    const sample = releasingZlib(deflateRawSync, data.subarray(0, SAMPLE_BYTES), { level: 1 });
    if (sample.length > SAMPLE_BYTES * 0.9) return { method: 0, body: data };
  }
  // A small window and hash table for small files: the same output format, less set-up per file.
  const windowBits = Math.max(9, Math.min(15, Math.ceil(Math.log2(data.length + 1))));
  const body = releasingZlib(deflateRawSync, data, { level, windowBits, memLevel: windowBits < 13 ? 7 : 8 });
  return body.length < data.length ? { method: 8, body } : { method: 0, body: data };
}

function metaFor(entry: SourceEntry, typeBits: number): ZipEntryMeta {
  const name = entry.type === 'directory' ? `${entry.path}/` : entry.path;
  return { name: Buffer.from(name, 'utf8'), mode: typeBits | entry.mode, mtime: new Date(entry.mtimeMs) };
}

/** Streams a large file into the archive; returns its size and SHA256, or undefined when it
 *  changed during the read (the caller rewinds the archive and tries again). */
/** BFINAL=1, fixed Huffman, end-of-block: closes a stream of sync-flushed deflate pieces. */
const FINAL_EMPTY_BLOCK = Buffer.from([0x03, 0x00]);

function deflatePiece(data: Buffer, level: number, dictionary: Buffer | undefined): Promise<Buffer> {
  return deflateRawReleasing(data, {
    level,
    finishFlush: zlibConstants.Z_SYNC_FLUSH,
    ...(dictionary ? { dictionary } : {}),
  });
}

/**
 * The 1 MiB buffers a backup reads its large files' pieces into, made at its first large file and
 * used for all of them (one backup writes one file at a time). A fresh buffer per piece was kept
 * until a full collection on Node 24 (zlib's handle holds its input): a 1 GiB backup peaked at
 * 170-187 MiB RSS there, 98 MiB on Node 20; and buffers per file would be promoted, then wait for
 * a full collection on either.
 */
const PIECE_BUFFERS = 4;
const PIECE_BYTES = 1024 * 1024;
type PieceBuffers = () => Buffer[];
function pieceBuffers(): PieceBuffers {
  let buffers: Buffer[] | undefined;
  return () => (buffers ??= Array.from({ length: PIECE_BUFFERS }, () => Buffer.allocUnsafeSlow(PIECE_BYTES)));
}

async function streamLargeFile(
  zip: ZipWriter,
  entry: SourceEntry,
  level: number,
  pieces: PieceBuffers,
  checkCancel: () => void,
): Promise<{ size: number; sha256: string; stat: Stats } | undefined> {
  const fd = openSource(entry);
  try {
    const before = fstatSync(fd);
    if (!before.isFile())
      throw new ConfigError(`${sourcePath(entry)} is no longer a regular file; it is not backed up`, {
        field: 'paths',
      });
    const method = chooseCompression({ ...entry, size: before.size }, level, fd) === 0 ? 0 : 8;
    const out = zip.beginStreamed(metaFor(entry, 0o100000), before.size, method);
    const hash = createHash('sha256');
    let crc = 0;
    let size = 0;
    // Deflate in independent 1 MiB pieces, several at once on the thread pool (as pigz does):
    // each piece is primed with the previous piece's last 32 KiB as its dictionary (almost no
    // loss of ratio) and ends in a sync flush at a byte boundary, so the pieces concatenate into
    // one valid deflate stream, closed by an empty final block. One stream was one core.
    const inFlight: Array<Promise<Buffer>> = [];
    // Piece k is read into buffer k mod PIECE_BUFFERS: piece k-4 is deflated by then (at most 3
    // are in flight), and the dictionary is piece k-1's.
    const buffers = pieces();
    let dictionary: Buffer | undefined;
    for (let k = 0; ; k++) {
      boundExternalMemory();
      checkCancel();
      const chunk = buffers[k % PIECE_BUFFERS]!;
      let n: number;
      try {
        n = readSync(fd, chunk, 0, PIECE_BYTES, size);
      } catch (error) {
        throw new ConfigError(`cannot read ${sourcePath(entry)}: ${describeFsError(error)}`, {
          field: 'paths',
        });
      }
      if (n === 0) break;
      // A stored file is read and written synchronously: let a signal's handler run now and then.
      if (k % 32 === 31) await new Promise((r) => setImmediate(r));
      const part = chunk.subarray(0, n);
      hash.update(part);
      crc = crc32(part, crc);
      size += n;
      if (method === 8) {
        const piece = deflatePiece(part, level, dictionary);
        piece.catch(() => undefined); // awaited in order below
        inFlight.push(piece);
        dictionary = part.subarray(Math.max(0, n - 32 * 1024));
        while (inFlight.length >= PIECE_BUFFERS) out.write(await inFlight.shift()!);
      } else out.write(part);
    }
    if (method === 8) {
      while (inFlight.length) out.write(await inFlight.shift()!);
      out.write(FINAL_EMPTY_BLOCK);
    }
    const after = fstatSync(fd);
    if (size !== before.size || moved(before, after)) return undefined;
    const digest = hash.digest('hex');
    if (recentlyChanged(before) && sha256OfFd(fd) !== digest) return undefined;
    out.end(crc, size);
    return { size, sha256: digest, stat: before };
  } finally {
    closeSync(fd);
  }
}

async function writeArchive(
  p: Plan,
  options: BackupOptions,
  level: number,
): Promise<Omit<BackupResult, 'notes'>> {
  const tmpPath = join(p.outDir, partialName(basename(p.finalPath)));
  let fd: number;
  try {
    fd = openSync(tmpPath, 'wx', 0o644);
  } catch (error) {
    throw new BackupWriteError(`cannot create ${tmpPath}: ${describeFsError(error, 'backup-write')}`);
  }
  const manifest = new ManifestWriter({
    format: MANIFEST_FORMAT,
    environment: p.environment,
    version: options.version ?? null,
    commit: options.commit ?? null,
    createdAt: p.createdAt.toISOString(),
    tool: TOOL_NAME,
    toolVersion: TOOL_VERSION,
  });
  const zip = new ZipWriter(fd);
  let sizeBytes = 0;
  let sha256 = '';
  const scratch = Buffer.allocUnsafe(SMALL_FILE_BYTES + 1);
  const smallFiles = p.entries.filter((e) => e.type === 'file' && e.size <= SMALL_FILE_BYTES).length;
  const pool =
    level > 0 && smallFiles >= POOL_MIN_FILES
      ? new DeflatePool(level, compressionThreads(smallFiles))
      : undefined;
  // Entries are appended in walk order; a pooled file's entry waits for its batch to come back.
  const pending: Array<Promise<() => void>> = [];
  const queue = (item: Promise<() => void>): void => {
    item.catch(() => undefined); // awaited in order below; no unhandled rejection meanwhile
    pending.push(item);
  };
  const applyOldest = async (): Promise<void> => (await pending.shift()!)();
  const settle = async (): Promise<void> => {
    pool?.send();
    while (pending.length) await applyOldest();
  };
  try {
    try {
      // Each walk entry is dropped once its manifest entry exists: 100,000 entries would otherwise
      // hold both records (~330 and ~250 bytes each) until the end.
      const walked = p.entries;
      p.entries = [];
      const heap = new HeapGuard();
      const pieces = pieceBuffers();
      const links = new HardLinks();
      for (let i = 0; i < walked.length; i++) {
        heap.tick();
        stopIfCancelled(options.signal, tmpPath);
        if (manifest.ready) await manifest.ready;
        const entry = walked[i]!;
        walked[i] = undefined as unknown as SourceEntry;
        const owner = entry.uid !== undefined ? { uid: entry.uid, gid: entry.gid! } : {};
        if (entry.type === 'directory') {
          queue(
            Promise.resolve(() => {
              zip.addComplete(metaFor(entry, 0o040000), Buffer.alloc(0), 0, 0, 0);
              manifest.add({
                path: entry.path,
                type: 'directory',
                size: 0,
                mode: entry.mode,
                ...owner,
                mtimeMs: entry.mtimeMs,
              });
            }),
          );
        } else if (entry.type === 'symlink') {
          queue(
            Promise.resolve(() => {
              const data = Buffer.from(entry.target!);
              zip.addComplete(metaFor(entry, 0o120000), data, crc32(data), data.length, 0);
              manifest.add({
                path: entry.path,
                type: 'symlink',
                size: data.length,
                mode: entry.mode,
                ...owner,
                target: entry.target!,
                mtimeMs: entry.mtimeMs,
              });
            }),
          );
        } else if (entry.size <= SMALL_FILE_BYTES) {
          const { data, stat } = readSmallConsistent(entry, scratch);
          if (data.length > SMALL_FILE_BYTES) {
            // Grew past the small-file path since the walk: stream it instead.
            await settle();
            await addLarge(zip, { ...entry, size: data.length }, level, manifest, pieces, links, () =>
              stopIfCancelled(options.signal, tmpPath),
            );
            continue;
          }
          if (pool) {
            if (!pool.canAdd(data.length)) {
              pool.send();
              while (!pool.canAdd(data.length)) await applyOldest();
            }
            const size = data.length;
            const meta = metaFor({ ...entry, mtimeMs: stat.mtimeMs }, 0o100000);
            queue(
              pool.add(data, compressible(entry, size, level)).then((d) => () => {
                zip.addComplete(meta, d.body, d.crc, size, d.method);
                pool.release(d);
                manifest.add({
                  path: entry.path,
                  type: 'file',
                  size,
                  mode: stat.mode & 0o7777,
                  uid: stat.uid,
                  gid: stat.gid,
                  sha256: d.sha256,
                  mtimeMs: stat.mtimeMs,
                  ...links.fields(entry, d.sha256),
                });
              }),
            );
            continue;
          }
          await settle();
          const { method, body } = compressInMemory(entry, data, level);
          zip.addComplete(
            metaFor({ ...entry, mtimeMs: stat.mtimeMs }, 0o100000),
            body,
            crc32(data),
            data.length,
            method,
          );
          const digest = createHash('sha256').update(data).digest('hex');
          manifest.add({
            path: entry.path,
            type: 'file',
            size: data.length,
            mode: stat.mode & 0o7777,
            uid: stat.uid,
            gid: stat.gid,
            sha256: digest,
            mtimeMs: stat.mtimeMs,
            ...links.fields(entry, digest),
          });
        } else {
          await settle();
          await addLarge(zip, entry, level, manifest, pieces, links, () =>
            stopIfCancelled(options.signal, tmpPath),
          );
        }
      }
      await settle();
      await pool?.close(); // its threads' memory is given back before the manifest is built
      await writeManifest(zip, p, manifest);
      ({ sizeBytes, sha256 } = zip.finish());
      fsyncSync(fd);
      // The last point a cancel stops it: from here on the backup is named and complete.
      stopIfCancelled(options.signal, tmpPath);
    } catch (error) {
      if (error instanceof ConfigError || error instanceof BackupCancelledError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      if (code)
        throw new BackupWriteError(
          `cannot write the backup ${tmpPath}: ${describeFsError(error, 'backup-write')}; nothing was kept`,
        );
      throw error;
    }
  } catch (error) {
    closeSync(fd);
    rmSync(tmpPath, { force: true });
    throw error;
  } finally {
    await pool?.close();
  }
  closeSync(fd);
  // The `.sha256` first, then the zip's name: `ls backups/dhash_*.zip` never sees a zip without
  // its checksum, even after a kill -9 between the two (at worst an orphan `.sha256` is left,
  // which no `dhash_*.zip` glob matches and the next backup sweeps).
  const sidecar = `${p.finalPath}.sha256`;
  let wroteSidecar = false;
  let linked = false;
  try {
    writeFileAtomic(sidecar, `${sha256}  ${checksumName(p.finalPath, p.root)}\n`);
    wroteSidecar = true;
    // A link, not a rename: it fails instead of replacing a zip that has this name.
    linkSync(tmpPath, p.finalPath);
    linked = true;
    rmSync(tmpPath, { force: true });
    fsyncDirectory(p.outDir);
  } catch (error) {
    // Only what this run made: a name someone else holds is never removed.
    if (linked) rmSync(p.finalPath, { force: true });
    if (wroteSidecar) rmSync(sidecar, { force: true });
    rmSync(join(p.outDir, partialName(basename(sidecar))), { force: true });
    rmSync(tmpPath, { force: true });
    throw new BackupWriteError(
      `cannot finish the backup ${p.finalPath}: ${describeFsError(error, 'backup-write')}; nothing was kept`,
    );
  }
  const deleted =
    options.keep !== undefined ? applyRetention(p.outDir, p.environment, options.keep, p.prefix) : [];
  return {
    dryRun: false,
    backupPath: p.finalPath,
    sha256,
    sha256Path: `${p.finalPath}.sha256`,
    sizeBytes,
    fileCount: manifest.fileCount,
    totalBytes: manifest.totalBytes,
    deleted,
  };
}

/** The manifest, last entry of the zip: deflated as the backup went (ManifestWriter), copied in. */
async function writeManifest(zip: ZipWriter, p: Plan, manifest: ManifestWriter): Promise<void> {
  const { chunks, crc, size } = await manifest.finish();
  const out = zip.beginStreamed(
    { name: Buffer.from(MANIFEST_ENTRY), mode: 0o100644, mtime: p.createdAt },
    0,
    8,
  );
  for (const c of chunks) out.write(c);
  out.end(crc, size);
}

/** `allocated` for a file that takes less on disk than its size (holes): only large files are
 *  looked at, and only where the platform reports blocks (not Windows). */
function sparseOf(stat: Stats, size: number): { allocated?: number } {
  const allocated = typeof stat.blocks === 'number' ? stat.blocks * 512 : size;
  return allocated < size ? { allocated } : {};
}

/** Hard links between entries (SourceEntry.hardlink), in manifest order. A later path names the
 *  first only when the bytes read for it are the first's: a file changed between the two reads is
 *  kept as the copy it was read as, so a backup never claims a link its restore would refuse. */
class HardLinks {
  private readonly digests = new Map<string, string>();
  fields(entry: SourceEntry, sha256: string): { hardlink?: string } {
    if (entry.inode !== undefined && entry.hardlink === undefined) this.digests.set(entry.path, sha256);
    return entry.hardlink !== undefined && this.digests.get(entry.hardlink) === sha256
      ? { hardlink: entry.hardlink }
      : {};
  }
}

/** A large file, re-read from its start (archive rewound) when it changed during the read. */
async function addLarge(
  zip: ZipWriter,
  entry: SourceEntry,
  level: number,
  manifest: ManifestWriter,
  pieces: PieceBuffers,
  links: HardLinks,
  checkCancel: () => void,
): Promise<void> {
  for (let attempt = 1; attempt <= READ_ATTEMPTS; attempt++) {
    const mark = zip.mark();
    const r = await streamLargeFile(zip, entry, level, pieces, checkCancel);
    if (r) {
      manifest.add({
        path: entry.path,
        type: 'file',
        size: r.size,
        mode: r.stat.mode & 0o7777,
        uid: r.stat.uid,
        gid: r.stat.gid,
        sha256: r.sha256,
        mtimeMs: r.stat.mtimeMs,
        ...sparseOf(r.stat, r.size),
        ...links.fields(entry, r.sha256),
      });
      return;
    }
    zip.rewind(mark, (offset) => ftruncateSync(zip.fd, offset));
  }
  throw changedError(entry);
}

function dryRun(options: BackupOptions): BackupResult {
  const p = plan(options);
  const logPath = join(resolve(p.root, options.logDir ?? '.'), 'backup-dryrun.log');
  const log = openEvidenceLog(
    logPath,
    {
      kind: 'backup-dryrun',
      tool: `${TOOL_NAME} backup`,
      environment: p.environment,
      ...(options.now ? { now: options.now } : {}),
    },
    'run it where the log directory is writable (default: the current directory)',
  );
  const files = p.entries.filter((e) => e.type === 'file');
  const free = freeBytes(p.outDir);
  log.line(
    `destination: ${p.finalPath} (+ .sha256, written before the zip takes its name)`,
    `base directory: ${p.baseDir}`,
    `included paths: ${options.paths.join(', ')}`,
    options.dumpCommand ? `dump command (not run in dry-run): ${options.dumpCommand}` : 'dump command: none',
    `retention: ${options.keep !== undefined ? `keep newest ${options.keep}` : 'keep all'}`,
    `entries: ${p.entries.length} (${files.length} files, ${p.entries.filter((e) => e.type === 'directory').length} directories, ${p.entries.filter((e) => e.type === 'symlink').length} symlinks)`,
    `total size: ${p.totalBytes} bytes (${formatBytes(p.totalBytes)})`,
    `free disk at destination: ${free === undefined ? 'unknown' : `${free} bytes (${formatBytes(free)})`}`,
    '',
    'would include:',
    ...p.entries
      .slice(0, 1000)
      .map(
        (e) =>
          `  ${e.type === 'directory' ? 'dir ' : e.type === 'symlink' ? 'link' : 'file'} ${e.path}${e.type === 'file' ? ` (${e.size} bytes)` : e.type === 'symlink' ? ` -> ${e.target}` : ''}`,
      ),
    ...(p.entries.length > 1000 ? [`  ... and ${p.entries.length - 1000} more`] : []),
  );
  // An upper bound: stored size can exceed the input slightly (headers), never by more than this.
  const needed = p.totalBytes + p.entries.length * 200 + 1024 * 1024;
  const enough = free === undefined || free >= needed;
  log.finish(
    enough ? 'pass' : 'fail',
    enough
      ? `would back up ${files.length} files (${formatBytes(p.totalBytes)}) to ${p.finalPath}`
      : `not enough free disk: need about ${formatBytes(needed)}, have ${formatBytes(free ?? 0)}`,
    {
      environment: p.environment,
      destination: p.finalPath,
      file_count: files.length,
      entry_count: p.entries.length,
      total_bytes: p.totalBytes,
      free_bytes: free ?? null,
    },
  );
  return {
    dryRun: true,
    dryRunStatus: enough ? 'pass' : 'fail',
    backupPath: p.finalPath,
    sha256: '',
    sha256Path: `${p.finalPath}.sha256`,
    sizeBytes: 0,
    fileCount: files.length,
    totalBytes: p.totalBytes,
    deleted: [],
    logPath,
    notes: [],
  };
}
