// The "live tree changed since the deploy" protection of a rollback. A successful deploy records
// the live tree it left (every file's size, mode and SHA256) beside it, in
// `<parent>/.<name>.deployed-tree.json` — outside the tree, so a restore never replaces it. Before
// restoring, the rollback compares the live tree with that record: a file modified or added since
// (a hand-applied hotfix) would be silently discarded by the restore, so the rollback refuses
// unless --force. Removed files never block (the restore brings them back).
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  openSync,
  lstatSync,
  readdirSync,
  readFileSync,
  readSync,
  readlinkSync,
  renameSync,
  statSync,
  type Stats,
} from 'node:fs';
import { basename, dirname, join, sep } from 'node:path';
import { writeAll } from './durable.js';
import { BackupIntegrityError } from './errors.js';
import { sha256OfFileHere, sha256OfFileSync } from './read.js';
import type { RestoredTree } from './restore.js';

export interface DeployedTreeRecord {
  environment: string;
  recordedAt: string;
  target: string;
  version?: string;
  commit?: string;
  /** The paths (relative to target) the record covers; all of it when absent. */
  paths?: string[];
  /** `ino`, `ctimeMs` and `mtimeMs`: the file's status when recorded, when it had not changed
   *  within RACY_MS before (see walkTree); a check that finds them all equal needs no hash. */
  files: Record<
    string,
    { size: number; mode: number; sha256: string; ino?: number; ctimeMs?: number; mtimeMs?: number }
  >;
}

export interface LiveTreeChanges {
  /** The record compared with (its header: the per-file table is dropped once compared, so a
   *  rollback does not carry it through the restore, ~40 MiB at 100,000 files), or undefined
   *  when no deploy recorded one. */
  record: Omit<DeployedTreeRecord, 'files'> | undefined;
  recordPath: string;
  modified: string[];
  added: string[];
  removed: string[];
  /** How many files the record listed (0 without a record). */
  recordedFiles: number;
}

/** Where the record of `target` lives: beside it, never inside it. */
export function deployedTreeRecordPath(target: string): string {
  return join(dirname(target), `.${basename(target)}.deployed-tree.json`);
}

type FileInfo = DeployedTreeRecord['files'][string];

/** A file of the live tree as the walk finds it: its hash only when asked for. */
interface LiveFile {
  size: number;
  mode: number;
  /** Its status, when trustworthy as a stand-in for its bytes (see RACY_MS). */
  status: { ino: number; ctimeMs: number; mtimeMs: number } | undefined;
  sha256: () => string;
  /** Its hash needs a read of its bytes (a regular file whose hash is not known): the rollback's
   *  comparison reads these itself, yielding to a cancel. */
  mustRead?: true;
}

/**
 * How long before it is recorded a file's last change must be for its status to stand in for its
 * bytes. File times come from the kernel's coarse clock, at most one tick (10 ms at HZ=100, the
 * coarsest kernel setting) behind the fine clock: a change in the same tick as the last one
 * recorded could leave every field equal. A change recorded more than a tick before the record
 * (or the record file's mtime, on the file system's own clock) means that tick had ended, so any
 * later change gets a later ctime, which no user can set; whole-second file systems floor both
 * times alike and keep that order. Two ticks, for margin (was 100 ms: at 20,000 files restored on
 * tmpfs, ~19 % of them were then hashed again by the next rollback, ~50 ms). The same rule as
 * git's index ("racily clean" entries are hashed).
 */
export const RACY_MS = 20;

const statusOf = (
  st: Pick<Stats, 'ino' | 'ctimeMs' | 'mtimeMs'>,
  changedBeforeMs: number,
): LiveFile['status'] =>
  st.ctimeMs < changedBeforeMs - RACY_MS
    ? { ino: st.ino, ctimeMs: st.ctimeMs, mtimeMs: st.mtimeMs }
    : undefined;

/** Emits every regular file and symlink under `root` (relative, `/`-separated), symlinks not
 *  followed; only those under `paths` when given (the release's files, not the service's runtime
 *  data). */
function walkTree(
  root: string,
  paths: string[] | undefined,
  restored: RestoredTree | undefined,
  emit: (rel: string, file: LiveFile) => void,
  wallClock: () => number = Date.now,
): void {
  // "./app/" is "app".
  const roots = paths?.map((p) => p.replace(/^(\.\/+)+/, '').replace(/\/+$/, '') || '.');
  const wanted = (rel: string): boolean =>
    !roots?.length || roots.some((p) => p === '.' || rel === p || rel.startsWith(`${p}/`));
  // The roots a restore just swapped in are recorded from its plan, not read back: every file
  // there is the one it wrote, with the size, mode and SHA256 it checked against the verified
  // manifest while writing. Only their status is read (so the next check can skip hashing them),
  // and kept only for a file unchanged since staging ended.
  const restoredRoots = new Set(restored?.roots ?? []);
  const symlink = (path: string, st: Stats): LiveFile => {
    const sha256 = createHash('sha256')
      .update(`symlink:${readlinkSync(path)}`)
      .digest('hex');
    return { size: st.size, mode: st.mode & 0o7777, status: undefined, sha256: () => sha256 };
  };
  const table = restored?.table;
  for (let i = 0; table && i < table.count; i++) {
    const rel = table.path(i);
    if (!wanted(rel)) continue;
    const path = `${root}${sep}${rel}`;
    const type = table.type(i);
    if (type === 'file') {
      // As the restore's writers left it (fstat after their last change; the swap renames the
      // roots, which moves no file's status but a root file's ctime, and a ctime that differs
      // only costs that file a hash next time), or read now when unknown.
      const st = table.writtenStatus(i) ?? lstatSync(path);
      const known = table.sha256(i);
      emit(rel, {
        size: table.sizes[i]!,
        // setuid/setgid can be dropped by the kernel (chown, or a group the restoring user is
        // not in): the mode is the one on disk.
        mode: st.mode & 0o7777,
        status: known ? statusOf(st, restored!.stagedAtMs) : undefined,
        sha256: () => known ?? sha256OfFileSync(path),
        ...(known ? {} : { mustRead: true as const }),
      });
    } else if (type === 'symlink') emit(rel, symlink(path, lstatSync(path)));
  }
  // Relative paths are built as the walk descends (no path.relative per file: 20,000 files).
  const walk = (dir: string, relDir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = `${dir}${sep}${entry.name}`;
      const rel = relDir ? `${relDir}/${entry.name}` : entry.name;
      if (rel === '.guarded-rollout') continue; // the restore's own state (previous versions, journal)
      if (!relDir && restoredRoots.has(rel)) continue; // recorded above
      if (entry.isDirectory()) walk(path, rel);
      else if ((entry.isFile() || entry.isSymbolicLink()) && wanted(rel)) {
        const st = lstatSync(path);
        emit(
          rel,
          entry.isSymbolicLink()
            ? symlink(path, st)
            : {
                size: st.size,
                mode: st.mode & 0o7777,
                status: statusOf(st, wallClock()),
                sha256: () => sha256OfFileSync(path),
                mustRead: true,
              },
        );
      }
    }
  };
  if (existsSync(root)) walk(root, '');
}

/** Records the live tree a deploy (or a verified rollback) left, atomically. */
export function recordDeployedTree(
  target: string,
  meta: {
    environment: string;
    version?: string;
    commit?: string;
    paths?: string[];
    now?: () => Date;
    /** Set by a restore: its roots are recorded from the verified manifest, not read back. */
    restored?: RestoredTree;
    /** The real clock (ms) file times are compared with for RACY_MS; tests pin it. */
    wallClock?: () => number;
  },
): string {
  const head: Omit<DeployedTreeRecord, 'files'> = {
    environment: meta.environment,
    recordedAt: (meta.now ?? (() => new Date()))().toISOString(),
    target,
    ...(meta.version ? { version: meta.version } : {}),
    ...(meta.commit ? { commit: meta.commit } : {}),
    ...(meta.paths?.length ? { paths: meta.paths } : {}),
  };
  const path = deployedTreeRecordPath(target);
  // Written as the walk goes, one line per file: a tree of 100,000 files never becomes one object
  // and one string in memory. Each line goes straight into one reused buffer: lines kept as a
  // growing string until 256 KiB survived the young generation's collections and were promoted (a
  // rollback's heap went from 18 to 55 MB at its very end); recording a 100,000-file tree as a
  // deploy does peaked at 89-90 MiB RSS on Node 24 that way, 66-68 MiB this way.
  const fd = openSync(`${path}.tmp`, 'w', 0o644);
  const buffer = Buffer.allocUnsafe(256 * 1024);
  let used = 0;
  const put = (text: string): void => {
    // At most 3 bytes per UTF-16 unit: a line that might not fit is written after a flush.
    if (used + text.length * 3 > buffer.length) {
      writeAll(fd, buffer.subarray(0, used));
      used = 0;
      if (text.length * 3 > buffer.length) return writeAll(fd, Buffer.from(text));
    }
    used += buffer.write(text, used);
  };
  try {
    put(`${JSON.stringify(head).slice(0, -1)},"files":{`);
    let first = true;
    walkTree(
      target,
      meta.paths,
      meta.restored,
      (rel, file) => {
        // Written out by hand, not JSON.stringify of an object per file: numbers and a hex digest
        // print the same.
        const st = file.status;
        put(
          `${first ? '' : ','}\n${JSON.stringify(rel)}:{"size":${file.size},"mode":${file.mode},"sha256":"${file.sha256()}"${st ? `,"ino":${st.ino},"ctimeMs":${st.ctimeMs},"mtimeMs":${st.mtimeMs}` : ''}}`,
        );
        first = false;
      },
      meta.wallClock,
    );
    put('\n}}\n');
    writeAll(fd, buffer.subarray(0, used));
  } finally {
    closeSync(fd);
  }
  renameSync(`${path}.tmp`, path);
  return path;
}

/** The record cannot be read as one (hand-edited, truncated by a full disk outside the tool). */
export class DeployedTreeRecordError extends Error {}

/**
 * The record's per-file table, compact: path -> row, with each row's mode in a typed array and
 * its SHA256 as 32 bytes of one buffer. Parsed whole (`JSON.parse`), 100,000 files became
 * 100,000 objects, 100,000 hex strings and one dictionary: ~40 MiB that V8 kept committed for
 * the restore after it (a rollback over a recorded 100,000-file tree peaked at 203 MiB RSS).
 */
class RecordTable {
  readonly rows = new Map<string, number>();
  modes: Uint32Array;
  digests: Buffer;
  seen: Uint8Array;
  /** Per row: size, ino, ctimeMs, mtimeMs (NaN when the record has no status for it). */
  status: Float64Array;

  constructor(capacity: number) {
    this.modes = new Uint32Array(capacity);
    this.digests = Buffer.alloc(capacity * 32);
    this.seen = new Uint8Array(capacity);
    this.status = new Float64Array(capacity * 4);
  }

  add(path: string, info: unknown): boolean {
    const { size, mode, sha256, ino, ctimeMs, mtimeMs } = (info ?? {}) as Partial<FileInfo>;
    if (typeof mode !== 'number' || typeof sha256 !== 'string' || sha256.length !== 64) return false;
    let row = this.rows.get(path);
    if (row === undefined) {
      row = this.rows.size;
      if (row === this.modes.length) this.grow();
      this.rows.set(path, row);
    }
    // Hex decoding stops at the first character that is not hex: fewer than 32 bytes then.
    if (this.digests.write(sha256, row * 32, 32, 'hex') !== 32) return false;
    this.modes[row] = mode;
    const complete =
      typeof size === 'number' &&
      typeof ino === 'number' &&
      typeof ctimeMs === 'number' &&
      typeof mtimeMs === 'number';
    const at = row * 4;
    this.status[at] = complete ? size : NaN;
    this.status[at + 1] = complete ? ino : NaN;
    this.status[at + 2] = complete ? ctimeMs : NaN;
    this.status[at + 3] = complete ? mtimeMs : NaN;
    return true;
  }

  /** The live file's status is the recorded one: its bytes are the recorded ones. */
  /** Statuses recorded with a change time from this on are not trusted (see liveTreeChanges). */
  trustBeforeMs = -Infinity;

  unchanged(row: number, file: LiveFile): boolean {
    const s = file.status;
    const at = row * 4;
    return (
      s !== undefined &&
      this.status[at + 2]! < this.trustBeforeMs &&
      this.status[at] === file.size &&
      this.status[at + 1] === s.ino &&
      this.status[at + 2] === s.ctimeMs &&
      this.status[at + 3] === s.mtimeMs
    );
  }

  private grow(): void {
    const n = Math.max(16, this.modes.length * 2);
    const modes = new Uint32Array(n);
    modes.set(this.modes);
    const digests = Buffer.alloc(n * 32);
    this.digests.copy(digests);
    const seen = new Uint8Array(n);
    seen.set(this.seen);
    const status = new Float64Array(n * 4);
    status.set(this.status);
    this.modes = modes;
    this.digests = digests;
    this.seen = seen;
    this.status = status;
  }
}

const RECORD_LINE_HEAD = '"files":{';
const RECORD_CHUNK_LINES = 512;

/** The first line of a record this tool wrote (its header) with its newline, read alone: the
 *  automatic rollback needs only that, not the 19 MB of a 100,000-file record. Undefined when the
 *  record is not in that layout or its first line is longer than HEAD_READ_BYTES. */
const HEAD_READ_BYTES = 64 * 1024;
function firstLineOf(recordPath: string): Buffer | undefined {
  const fd = openSync(recordPath, 'r');
  try {
    const head = Buffer.allocUnsafe(HEAD_READ_BYTES);
    const n = readSync(fd, head, 0, HEAD_READ_BYTES, 0);
    const end = head.subarray(0, n).indexOf(10);
    return end > 0 && head.toString('utf8', 0, end).endsWith(RECORD_LINE_HEAD)
      ? head.subarray(0, end + 1)
      : undefined;
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads a record: its header, and (unless `headerOnly`) its files. A record this tool wrote has
 * one file per line (`recordDeployedTree`), read here a chunk of lines at a time into a
 * RecordTable; anything else that is valid JSON of the same shape is read whole. Throws DeployedTreeRecordError naming
 * the file and what is wrong.
 */
function readRecord(
  recordPath: string,
  headerOnly: boolean,
): { record: Omit<DeployedTreeRecord, 'files'>; table: RecordTable | undefined } {
  const bytes = (headerOnly && firstLineOf(recordPath)) || readFileSync(recordPath);
  const bad = (why: string): DeployedTreeRecordError =>
    new DeployedTreeRecordError(`the deployed-tree record ${recordPath} ${why}`);
  const headerOf = (value: unknown): Omit<DeployedTreeRecord, 'files'> => {
    const v = value as Partial<DeployedTreeRecord> | null;
    if (!v || typeof v !== 'object' || typeof v.environment !== 'string' || typeof v.recordedAt !== 'string')
      throw bad('has no "environment" and "recordedAt" strings');
    if (v.paths !== undefined && !(Array.isArray(v.paths) && v.paths.every((p) => typeof p === 'string')))
      throw bad('has a "paths" that is not a list of strings');
    const { files: _files, ...head } = v;
    return head as Omit<DeployedTreeRecord, 'files'>;
  };
  const firstEnd = bytes.indexOf(10);
  const firstLine = bytes.toString('utf8', 0, firstEnd < 0 ? bytes.length : firstEnd);
  if (firstEnd > 0 && firstLine.endsWith(RECORD_LINE_HEAD)) {
    let record;
    try {
      record = headerOf(JSON.parse(`${firstLine}}}`));
    } catch (error) {
      if (error instanceof DeployedTreeRecordError) throw error;
      throw bad(`is not valid JSON on line 1 (${(error as Error).message})`);
    }
    if (headerOnly) return { record, table: undefined };
    // The record ends with a line "}}"; every line before it, after the first, holds one file.
    let close = bytes.length;
    while (
      close > firstEnd &&
      (bytes[close - 1] === 10 || bytes[close - 1] === 13 || bytes[close - 1] === 32)
    )
      close--;
    const bodyEnd = close - 2;
    if (bodyEnd <= firstEnd || bytes[bodyEnd - 1] !== 10 || bytes.toString('latin1', bodyEnd, close) !== '}}')
      throw bad('ends early (no closing "}}"): it was cut off');
    let lines = 0;
    for (let i = bytes.indexOf(10, firstEnd + 1); i >= 0 && i < bodyEnd; i = bytes.indexOf(10, i + 1))
      lines++;
    const table = new RecordTable(lines);
    const addAll = (member: Record<string, unknown>, where: string): void => {
      for (const path of Object.keys(member))
        if (!table.add(path, member[path]))
          throw bad(`has no numeric "mode" and 64-hex "sha256" for ${JSON.stringify(path)} (${where})`);
    };
    const body = (text: string): string => {
      const t = text.trimEnd();
      return t.endsWith(',') ? t.slice(0, -1) : t;
    };
    // Parsed RECORD_CHUNK_LINES lines at a time (`"path":{...},` per line): one parse per line was
    // 2.5 times slower (250 ms for 100,000 files); a chunk that fails is parsed line by line to
    // name the line.
    for (let start = firstEnd + 1, line = 2; start < bodyEnd;) {
      let stop = start;
      let n = 0;
      while (n < RECORD_CHUNK_LINES && stop < bodyEnd) {
        stop = bytes.indexOf(10, stop) + 1;
        n++;
      }
      try {
        addAll(JSON.parse(`{${body(bytes.toString('utf8', start, stop))}}`) as Record<string, unknown>, '');
      } catch {
        // Again line by line, to name the line.
        for (let at = start, l = line; at < stop; l++) {
          const next = bytes.indexOf(10, at) + 1;
          let one: Record<string, unknown>;
          try {
            one = JSON.parse(`{${body(bytes.toString('utf8', at, next))}}`) as Record<string, unknown>;
          } catch (error) {
            throw bad(`is not valid JSON on line ${l} (${(error as Error).message})`);
          }
          addAll(one, `line ${l}`);
          at = next;
        }
        throw bad(`is not valid JSON between lines ${line} and ${line + n - 1} (a missing comma?)`);
      }
      start = stop;
      line += n;
    }
    return { record, table };
  }
  let parsed: DeployedTreeRecord;
  try {
    parsed = JSON.parse(bytes.toString('utf8')) as DeployedTreeRecord;
  } catch (error) {
    throw bad(`is not valid JSON (${(error as Error).message})`);
  }
  const record = headerOf(parsed);
  if (headerOnly) return { record, table: undefined };
  if (!parsed.files || typeof parsed.files !== 'object') throw bad('has no "files" table');
  const paths = Object.keys(parsed.files);
  const table = new RecordTable(paths.length);
  for (const path of paths)
    if (!table.add(path, parsed.files[path]))
      throw bad(`has no numeric "mode" and 64-hex "sha256" for ${JSON.stringify(path)}`);
  return { record, table };
}

/** The header of the record of `target`'s last deploy (what it covers), without its files. */
export function readDeployedTreeHeader(target: string): Omit<DeployedTreeRecord, 'files'> | undefined {
  const recordPath = deployedTreeRecordPath(target);
  return existsSync(recordPath) ? readRecord(recordPath, true).record : undefined;
}

/** A cancel (Ctrl-C, the runner's) arrived while the live tree was compared with the record. */
export class LiveTreeCompareCancelledError extends Error {
  constructor() {
    super('cancelled while comparing the live tree with the record of the last deploy');
    this.name = 'LiveTreeCompareCancelledError';
  }
}

/** Between two files to hash, yield to the event loop (a cancel's handler) at least this often. */
const YIELD_EVERY_MS = 50;

export interface LiveTreeCompareOptions {
  /** Stops the comparison at its next yield (LiveTreeCompareCancelledError). */
  signal?: AbortSignal;
  /** Told once, before hashing, when the files to hash hold more than PROGRESS_BYTES. */
  onProgress?: (line: string) => void;
}
const PROGRESS_BYTES = 256 * 1024 * 1024;

/**
 * Compares the live tree with the record of the last deploy. The walk reads statuses only; the
 * files whose status is not the recorded one are hashed afterwards, on this thread but yielding
 * to the event loop (between files every YIELD_EVERY_MS, inside one every 64 MiB): the comparison
 * runs before a rollback, when the runner's cancel (SIGKILL 10 s after its SIGINT) or an
 * operator's Ctrl-C must still be heard — a tree whose statuses all changed (chmod -R, a copy) is
 * read whole (seconds per GiB).
 */
export async function liveTreeChanges(
  target: string,
  options: LiveTreeCompareOptions = {},
): Promise<LiveTreeChanges> {
  const { signal } = options;
  const recordPath = deployedTreeRecordPath(target);
  if (!existsSync(recordPath))
    return { record: undefined, recordPath, modified: [], added: [], removed: [], recordedFiles: 0 };
  const { record, table } = readRecord(recordPath, false);
  const files = table!;
  // The racy rule once more, on the file system's own clock (git compares with its index file's
  // mtime): a status is trusted only for a change well before the record was written. Recording
  // already left out files changed just before it by this machine's clock; this also holds where
  // the file system's clock is not ours (a network file system whose server lags).
  files.trustBeforeMs = statSync(recordPath).mtimeMs - RACY_MS;
  const modified: string[] = [];
  const added: string[] = [];
  const digest = Buffer.alloc(32);
  const differs = (row: number, hex: string): boolean => {
    digest.write(hex, 'hex');
    return files.digests.compare(digest, 0, 32, row * 32, row * 32 + 32) !== 0;
  };
  // Compared as the walk goes, each recorded file marked once seen (no table of the live tree:
  // 100,000 more entries); what is left was removed.
  // A file whose status is the recorded one is not read (100,000 files: seconds of hashing).
  // Only the relative names are kept (the row is looked up again, the full path rebuilt), not an
  // object per file: a tree whose statuses all changed lists every file here.
  const toHash: string[] = [];
  let bytesToHash = 0;
  walkTree(target, record.paths, undefined, (rel, file) => {
    const row = files.rows.get(rel);
    if (row === undefined) return void added.push(rel);
    files.seen[row] = 1;
    if (files.modes[row] !== file.mode) return void modified.push(rel);
    if (files.unchanged(row, file)) return;
    if (file.mustRead) {
      toHash.push(rel);
      bytesToHash += file.size;
    } else if (differs(row, file.sha256())) modified.push(rel);
  });
  if (signal?.aborted) throw new LiveTreeCompareCancelledError();
  if (bytesToHash > PROGRESS_BYTES)
    options.onProgress?.(
      `comparing the live tree ${target} with the record of the last deploy: ${toHash.length} files changed status since it, reading ${(bytesToHash / 1024 ** 3).toFixed(1)} GiB`,
    );
  // Between files every YIELD_EVERY_MS (many small files), inside one every 64 MiB (its hash).
  let lastYield = Date.now();
  for (const rel of toHash) {
    if (Date.now() - lastYield >= YIELD_EVERY_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      lastYield = Date.now();
      if (signal?.aborted) throw new LiveTreeCompareCancelledError();
    }
    const row = files.rows.get(rel)!;
    let hex: string;
    try {
      hex = await sha256OfFileHere(
        `${target}${sep}${rel}`,
        signal,
        () => new LiveTreeCompareCancelledError(),
      );
    } catch (error) {
      // Replaced by a FIFO or a device since the walk: a change, never opened for reading.
      if (error instanceof BackupIntegrityError) {
        modified.push(rel);
        continue;
      }
      // Gone since the walk: removed (which never blocks: the restore brings it back).
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        files.seen[row] = 0;
        continue;
      }
      throw error;
    }
    if (differs(row, hex)) modified.push(rel);
  }
  const removed: string[] = [];
  for (const [path, row] of files.rows) if (!files.seen[row]) removed.push(path);
  return {
    record,
    recordPath,
    modified: modified.sort(),
    added: added.sort(),
    removed: removed.sort(),
    recordedFiles: files.rows.size,
  };
}

/** One line naming what changed, at most a few paths of each kind. */
export function describeLiveTreeChanges(changes: LiveTreeChanges): string {
  const few = (paths: string[]): string =>
    paths.slice(0, 5).join(', ') + (paths.length > 5 ? ` and ${paths.length - 5} more` : '');
  return [
    changes.modified.length ? `modified: ${few(changes.modified)}` : '',
    changes.added.length ? `added: ${few(changes.added)}` : '',
  ]
    .filter(Boolean)
    .join('; ');
}
