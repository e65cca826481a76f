// Creating a backup: one streaming pass that reads each file once, hashes it for the manifest,
// compresses it (or stores it when it is already dense), and hashes the archive bytes as they go
// to disk. Memory stays bounded whatever the tree's size; yazl writes Zip64 when sizes need it.
// The zip is written under a temporary name, fsynced and renamed; the `.sha256` comes last, so a
// killed backup never leaves a file that looks complete.
import { createHash, type Hash } from 'node:crypto';
import {
  closeSync,
  createReadStream,
  createWriteStream,
  fsyncSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
} from 'node:fs';
import { basename, extname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { deflateRawSync } from 'node:zlib';
import yazl from 'yazl';
import { ConfigError, TOOL_NAME, TOOL_VERSION } from '@guarded-rollout/config';
import { EvidenceLog } from '@guarded-rollout/evidence';
import { collectEntries, type SourceEntry } from './collect.js';
import { MANIFEST_ENTRY, MANIFEST_FORMAT, type BackupManifest, type ManifestEntry } from './manifest.js';
import {
  DEFAULT_OUT_DIR,
  DEFAULT_PREFIX,
  applyRetention,
  assertEnvironmentName,
  assertPrefix,
  backupLockPath,
  sweepInterruptedBackups,
  uniqueBackupFileName,
} from './naming.js';
import { acquireLock, isProcessAlive } from './lock.js';
import { repairInterruptedSwap } from './swap.js';
import { freeBytes, fsyncDirectory, writeFileAtomic } from './durable.js';

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
const SMALL_FILE_BYTES = 256 * 1024;
// yazl's Entry.FILE_DATA_DONE (index.js); only used to skip finished entries, never to write.
const YAZL_FILE_DATA_DONE = 3;
const SAMPLE_BYTES = 64 * 1024;
// Formats that are compressed already: deflating them costs CPU and gains nothing.
const DENSE_EXTENSIONS = new Set(
  '.zip .gz .tgz .bz2 .xz .zst .7z .rar .jpg .jpeg .png .gif .webp .avif .heic .mp4 .mov .mkv .webm .mp3 .ogg .flac .pdf .woff .woff2 .jar .whl'.split(
    ' ',
  ),
);

/** Decides store vs deflate from the extension and a 64 KiB sample: random-looking data is stored. */
export function chooseCompression(entry: SourceEntry, level: number): number {
  if (level === 0) return 0;
  if (DENSE_EXTENSIONS.has(extname(entry.path).toLowerCase())) return 0;
  // A tiny file gains a few bytes from deflate and costs a compressor instance.
  if (entry.size < 512) return 0;
  if (entry.size < 16 * 1024) return level;
  const fd = openSync(entry.abs, 'r');
  try {
    const sample = Buffer.allocUnsafe(SAMPLE_BYTES);
    const n = readSync(fd, sample, 0, SAMPLE_BYTES, 0);
    const packed = deflateRawSync(sample.subarray(0, n), { level: 1 });
    return packed.length > n * 0.9 ? 0 : level;
  } finally {
    closeSync(fd);
  }
}

const COALESCE_BYTES = 1024 * 1024;

/** Passes bytes through in chunks of about 1 MiB, hashing and counting them on the way. */
class CoalescingHasher extends Transform {
  bytes = 0;
  private parts: Buffer[] = [];
  private pending = 0;
  constructor(private readonly hash: Hash) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.parts.push(chunk);
    this.pending += chunk.length;
    if (this.pending >= COALESCE_BYTES) this.release();
    callback();
  }
  override _flush(callback: TransformCallback): void {
    this.release();
    callback();
  }
  private release(): void {
    if (this.pending === 0) return;
    const data = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts, this.pending);
    this.parts = [];
    this.pending = 0;
    this.hash.update(data);
    this.bytes += data.length;
    this.push(data);
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

function plan(options: BackupOptions, extraEntries: SourceEntry[] = []): Plan {
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
  return {
    environment,
    prefix,
    outDir,
    baseDir,
    root,
    createdAt,
    finalPath: join(outDir, uniqueBackupFileName(outDir, prefix, environment, createdAt)),
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
  mkdirSync(outDir, { recursive: true });
  // One backup of an environment at a time: names are chosen and leftovers swept under the lock.
  const lock = acquireLock(
    backupLockPath(outDir, prefix, environment),
    `a backup of environment "${environment}"`,
    options.now,
  );
  const notes: string[] = lock.tookOver ? [lock.tookOver] : [];
  let dumpDir: string | undefined;
  try {
    notes.push(...sweepInterruptedBackups(outDir, environment, prefix, isProcessAlive));
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
      });
      if (!result.ok) {
        throw new ConfigError(
          `dump command ${describeCommandResult(result, timeoutMs)}; no backup was written. Output:\n${result.outputTail}`,
          {
            field: 'dump-command',
          },
        );
      }
      for (const e of collectEntries(dumpDir, ['.']))
        extra.push({ ...e, path: `${DUMP_DIR_ENTRY}/${e.path}` });
      if (extra.length)
        extra.unshift({
          abs: dumpDir,
          path: DUMP_DIR_ENTRY,
          type: 'directory',
          size: 0,
          mode: 0o755,
          mtimeMs: Date.now(),
        });
    }
    const p = plan(options, extra);
    return { ...(await writeArchive(p, options, level)), notes };
  } finally {
    if (dumpDir) rmSync(dumpDir, { recursive: true, force: true });
    lock.release();
  }
}

async function writeArchive(
  p: Plan,
  options: BackupOptions,
  level: number,
): Promise<Omit<BackupResult, 'notes'>> {
  const tmpPath = join(p.outDir, `.${basename(p.finalPath)}.partial-${process.pid}`);
  const fd = openSync(tmpPath, 'wx');
  const archiveHash = createHash('sha256');
  let sizeBytes = 0;
  const manifestEntries: ManifestEntry[] = [];
  const zip = new yazl.ZipFile();
  try {
    await new Promise<void>((resolvePromise, reject) => {
      let failed = false;
      const fail = (error: unknown): void => {
        if (failed) return;
        failed = true;
        (zip.outputStream as unknown as import('node:stream').Readable).destroy();
        reject(error instanceof Error ? error : new Error(String(error)));
      };
      zip.on('error', fail);
      const out = createWriteStream('', { fd, autoClose: false });
      out.on('error', fail);
      out.on('finish', () => {
        if (!failed) resolvePromise();
      });
      // yazl emits many small chunks (each header, 16 KiB of deflate output); gathering them
      // into 1 MiB writes saves most of the write syscalls and hash calls.
      const coalesce = new CoalescingHasher(archiveHash);
      coalesce.on('error', fail);
      zip.outputStream.pipe(coalesce).pipe(out);
      coalesce.on('end', () => {
        sizeBytes = coalesce.bytes;
      });

      const files = p.entries.filter((e) => e.type === 'file');
      let pending = files.length;
      // yazl looks for the next entry to write by scanning its entry list from the start, which
      // is quadratic in the entry count (minutes at 100,000 files). Finished entries are moved
      // aside now and then, and put back in order before end() writes the central directory.
      const internal = zip as unknown as { entries?: Array<{ state?: number }> };
      const finished: Array<{ state?: number }> = [];
      let sinceTrim = 0;
      const trimFinishedEntries = (): void => {
        if (++sinceTrim < 512 || !Array.isArray(internal.entries)) return;
        sinceTrim = 0;
        let k = 0;
        while (k < internal.entries.length && internal.entries[k]!.state === YAZL_FILE_DATA_DONE) k++;
        if (k > 0) finished.push(...internal.entries.splice(0, k));
      };
      const finishManifest = (): void => {
        const manifest: BackupManifest = {
          format: MANIFEST_FORMAT,
          environment: p.environment,
          version: options.version ?? null,
          commit: options.commit ?? null,
          createdAt: p.createdAt.toISOString(),
          tool: TOOL_NAME,
          toolVersion: TOOL_VERSION,
          fileCount: files.length,
          totalBytes: manifestEntries.reduce((s, e) => s + (e.type === 'file' ? e.size : 0), 0),
          entries: manifestEntries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
        };
        zip.addBuffer(Buffer.from(`${JSON.stringify(manifest, null, 1)}\n`), MANIFEST_ENTRY, {
          mtime: p.createdAt,
          mode: 0o100644,
          compress: true,
        });
        if (Array.isArray(internal.entries) && finished.length)
          internal.entries.unshift(...finished.splice(0));
        zip.end();
      };

      for (const entry of p.entries) {
        const mtime = new Date(entry.mtimeMs);
        if (entry.type === 'directory') {
          zip.addEmptyDirectory(entry.path, { mtime, mode: 0o040000 | entry.mode });
          manifestEntries.push({
            path: entry.path,
            type: 'directory',
            size: 0,
            mode: entry.mode,
            mtimeMs: entry.mtimeMs,
          });
        } else if (entry.type === 'symlink') {
          zip.addBuffer(Buffer.from(entry.target!), entry.path, {
            mtime,
            mode: 0o120000 | entry.mode,
            compress: false,
          });
          manifestEntries.push({
            path: entry.path,
            type: 'symlink',
            size: entry.size,
            mode: entry.mode,
            target: entry.target!,
            mtimeMs: entry.mtimeMs,
          });
        } else {
          const compressionLevel = chooseCompression(entry, level);
          // Opened only when its turn comes, so a tree of 100,000 files never holds 100,000 descriptors.
          zip.addReadStreamLazy(
            entry.path,
            { mtime, mode: 0o100000 | entry.mode, size: entry.size, compressionLevel },
            (cb) => {
              const hash = createHash('sha256');
              let bytes = 0;
              const done = (): void => {
                if (bytes !== entry.size) {
                  fail(
                    new Error(
                      `${entry.abs} changed while it was being backed up (${entry.size} bytes expected, ${bytes} read); run the backup again when it is quiet`,
                    ),
                  );
                  return;
                }
                manifestEntries.push({
                  path: entry.path,
                  type: 'file',
                  size: bytes,
                  mode: entry.mode,
                  sha256: hash.digest('hex'),
                  mtimeMs: entry.mtimeMs,
                });
                trimFinishedEntries();
                if (--pending === 0) finishManifest();
              };
              if (entry.size <= SMALL_FILE_BYTES) {
                // Small files in one synchronous read: four thread-pool round trips per file
                // (open, read, read, close) dominate a tree of many tiny files.
                let data: Buffer;
                try {
                  data = readFileSync(entry.abs);
                } catch (error) {
                  fail(new Error(`cannot read ${entry.abs}: ${(error as Error).message}`));
                  return;
                }
                hash.update(data);
                bytes = data.length;
                const stream = Readable.from([data], { objectMode: false });
                stream.once('end', done);
                cb(null, stream);
                return;
              }
              const stream = createReadStream(entry.abs, { highWaterMark: 1024 * 1024 });
              stream.on('error', (error) => fail(new Error(`cannot read ${entry.abs}: ${error.message}`)));
              stream.on('data', (chunk) => {
                hash.update(chunk as Buffer);
                bytes += (chunk as Buffer).length;
              });
              stream.on('end', done);
              cb(null, stream);
            },
          );
        }
      }
      if (files.length === 0) finishManifest();
    });
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(tmpPath, { force: true });
    throw error;
  }
  closeSync(fd);
  // A link, not a rename: it fails instead of replacing a zip that has this name.
  linkSync(tmpPath, p.finalPath);
  rmSync(tmpPath, { force: true });
  fsyncDirectory(p.outDir);
  const sha256 = archiveHash.digest('hex');
  const sha256Path = `${p.finalPath}.sha256`;
  writeFileAtomic(sha256Path, `${sha256}  ${checksumName(p.finalPath, p.root)}\n`);
  const deleted =
    options.keep !== undefined ? applyRetention(p.outDir, p.environment, options.keep, p.prefix) : [];
  return {
    dryRun: false,
    backupPath: p.finalPath,
    sha256,
    sha256Path,
    sizeBytes,
    fileCount: manifestEntries.filter((e) => e.type === 'file').length,
    totalBytes: p.totalBytes,
    deleted,
  };
}

function dryRun(options: BackupOptions): BackupResult {
  const p = plan(options);
  const logPath = join(resolve(p.root, options.logDir ?? '.'), 'backup-dryrun.log');
  const log = new EvidenceLog(logPath, {
    kind: 'backup-dryrun',
    tool: `${TOOL_NAME} backup`,
    environment: p.environment,
    ...(options.now ? { now: options.now } : {}),
  });
  const files = p.entries.filter((e) => e.type === 'file');
  const free = freeBytes(p.outDir);
  log.line(
    `destination: ${p.finalPath} (+ .sha256, written last)`,
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
