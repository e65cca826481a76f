// Reading a backup without trusting it: the `.sha256` companion, the central directory (zipread.ts)
// and the manifest. Every safety decision is ours (see safety.ts).
import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { Worker } from 'node:worker_threads';
import { createInflateRaw, inflateRawSync, crc32 } from 'node:zlib';
import { BackupIntegrityError, RestoreCancelledError } from './errors.js';
import { HOLD_SOURCE, boundExternalMemory, heldForWorker } from './heapguard.js';
import { releasingZlib } from './workergc.js';
import { MANIFEST_ENTRY, ManifestReader, type BackupManifest } from './manifest.js';
import {
  ArchiveWindow,
  dataStart,
  locateCentralDirectory,
  readCentralDirectory,
  type ArchiveEntry,
  type CentralDirectoryLocation,
  type OpenArchive,
} from './zipread.js';

export type { ArchiveEntry, ArchiveEntryType, OpenArchive } from './zipread.js';

export interface ChecksumLine {
  expected: string;
  name: string;
  path: string;
}

/** Reads a regular file fully; a FIFO, device or directory is refused before it is opened. */
function readRegularFile(path: string, what: string, limit: number): Buffer {
  let st;
  try {
    st = statSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      throw new BackupIntegrityError(
        `${path} is missing: a backup without its checksum is incomplete (interrupted or copied without it) and is never restored`,
      );
    throw new BackupIntegrityError(
      `${what} ${path} cannot be read (${code ?? (error as Error).message}); check its permissions`,
    );
  }
  if (!st.isFile()) throw new BackupIntegrityError(`${what} ${path} is not a regular file`);
  if (st.size > limit)
    throw new BackupIntegrityError(`${what} ${path} is ${st.size} bytes; at most ${limit} expected`);
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    if (!fstatSync(fd).isFile()) throw new BackupIntegrityError(`${what} ${path} is not a regular file`);
    const b = Buffer.alloc(limit + 1);
    let got = 0;
    while (got < b.length) {
      const n = readSync(fd, b, got, b.length - got, null);
      if (n === 0) break;
      got += n;
    }
    return b.subarray(0, Math.min(got, limit));
  } finally {
    closeSync(fd);
  }
}

/** Reads `<zip>.sha256`; refuses a missing, malformed or foreign checksum file. */
export function readChecksumFile(zipPath: string): ChecksumLine {
  const path = `${zipPath}.sha256`;
  const text = readRegularFile(path, 'checksum file', 64 * 1024).toString('utf8');
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

let hashBuffer: Buffer | undefined;

/** SHA256 of an open file's bytes, read from the start. One 1 MiB buffer for every call (this is
 *  synchronous), not one per call: a live-tree check hashes every file of the tree, and a new
 *  4 MiB buffer per file kept a 100,000-file check's external memory churning. Never a caller's
 *  scratch buffer, whose bytes it may be compared with (the backup's re-read check). */
export function sha256OfFd(fd: number): string {
  const hash = createHash('sha256');
  const b = (hashBuffer ??= Buffer.allocUnsafeSlow(1024 * 1024));
  for (
    let pos = 0, n = readSync(fd, b, 0, b.length, 0);
    n > 0;
    pos += n, n = readSync(fd, b, 0, b.length, pos)
  )
    hash.update(b.subarray(0, n));
  return hash.digest('hex');
}

/** SHA256 of a regular file, read in 1 MiB blocks (no stream machinery per block; a multi-GiB
 *  file is never read into memory at once). */
export function sha256OfFileSync(path: string): string {
  const st = statSync(path);
  if (!st.isFile()) throw new BackupIntegrityError(`${path} is not a regular file`);
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    return sha256OfFd(fd);
  } finally {
    closeSync(fd);
  }
}

const HASH_WORKER_SOURCE = `(async () => {
  const { parentPort, workerData } = await import('node:worker_threads');
  ${HOLD_SOURCE}
  parentPort.postMessage({ ready: true });
  const fs = await import('node:fs');
  const { createHash } = await import('node:crypto');
  try {
    const fd = fs.openSync(workerData.path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    try {
      if (!fs.fstatSync(fd).isFile()) throw Object.assign(new Error('not a regular file'), { code: 'EINVAL' });
      const hash = createHash('sha256');
      const b = Buffer.allocUnsafe(4 * 1024 * 1024);
      for (let n = fs.readSync(fd, b, 0, b.length, null); n > 0; n = fs.readSync(fd, b, 0, b.length, null))
        hash.update(b.subarray(0, n));
      parentPort.postMessage({ hex: hash.digest('hex') });
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    parentPort.postMessage({ error: (e && e.message) || String(e), code: e && e.code });
  }
})();`;

/** Archives at least this big are hashed on a worker thread while the main thread reads their
 *  central directory and manifest (below it, starting a thread costs more than it saves). */
const HASH_IN_WORKER_BYTES = 16 * 1024 * 1024;

const checksumCancelled = (zipPath: string): RestoreCancelledError =>
  new RestoreCancelledError(`cancelled while the checksum of ${zipPath} was computed`);

/** `signal`: a cancel ends the thread and rejects at once (RestoreCancelledError), not once the
 *  whole archive is read: 5 GiB from a disk reading 150 MB/s is ~35 s, past the runner's 10 s. */
function sha256OfFileInWorker(path: string, onReady: () => void, signal?: AbortSignal): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const w = new Worker(HASH_WORKER_SOURCE, { eval: true, workerData: { path, ...heldForWorker() } });
    const onAbort = (): void => {
      void w.terminate();
      reject(checksumCancelled(path));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const settled = (): void => signal?.removeEventListener('abort', onAbort);
    w.on('message', (m: { ready?: true; hex?: string; error?: string; code?: string }) => {
      if (m.ready) return onReady();
      settled();
      void w.terminate();
      if (m.hex) resolvePromise(m.hex);
      else reject(Object.assign(new Error(m.error ?? 'hashing failed'), { code: m.code }));
    });
    w.once('error', (error) => {
      settled();
      reject(error);
    });
  });
}

/** Blocks between two turns of the event loop when hashing on this thread: 64 MiB, ~0.1 s. */
const HASH_TURN_BYTES = 64 * 1024 * 1024;

/** SHA256 of a regular file on this thread that lets the event loop run every HASH_TURN_BYTES, so
 *  a signal handler runs and a cancel (`signal`) is seen then: it throws `cancelled()` (for the
 *  backup's checksum, RestoreCancelledError). One caller at a time: the 1 MiB buffer is shared. */
export async function sha256OfFileHere(
  path: string,
  signal?: AbortSignal,
  cancelled: () => Error = () => checksumCancelled(path),
): Promise<string> {
  const st = statSync(path);
  if (!st.isFile()) throw new BackupIntegrityError(`${path} is not a regular file`);
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const hash = createHash('sha256');
    const b = (hashBuffer ??= Buffer.allocUnsafeSlow(1024 * 1024));
    for (let pos = 0, sinceTurn = 0; ;) {
      const n = readSync(fd, b, 0, b.length, pos);
      if (n === 0) break;
      hash.update(b.subarray(0, n));
      pos += n;
      sinceTurn += n;
      if (sinceTurn >= HASH_TURN_BYTES) {
        sinceTurn = 0;
        await new Promise((turn) => setImmediate(turn));
        if (signal?.aborted) throw cancelled();
      }
    }
    return hash.digest('hex');
  } finally {
    closeSync(fd);
  }
}

/** Checks the archive against its `.sha256`; returns the digest. Never skippable. The checks
 *  before hashing run synchronously, so a caller may start this, read the archive's structure,
 *  and only then await it (see openVerified in verify.ts). `onThisThread`: hash even a large
 *  archive on this thread (no worker thread), letting the event loop run every 64 MiB. `signal`:
 *  a cancel rejects with RestoreCancelledError without reading on. */
export async function verifyChecksum(
  zipPath: string,
  onThreadReady: () => void = () => {},
  onThisThread = false,
  signal?: AbortSignal,
): Promise<string> {
  if (signal?.aborted) throw checksumCancelled(zipPath);
  let st;
  try {
    st = statSync(zipPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new BackupIntegrityError(`backup ${zipPath} does not exist`);
    throw new BackupIntegrityError(
      `backup ${zipPath} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); check its permissions`,
    );
  }
  if (!st.isFile()) throw new BackupIntegrityError(`backup ${zipPath} is not a regular file`);
  const line = readChecksumFile(zipPath);
  let actual: string;
  try {
    actual = await (st.size < HASH_IN_WORKER_BYTES
      ? sha256OfFileSync(zipPath)
      : onThisThread
        ? sha256OfFileHere(zipPath, signal)
        : sha256OfFileInWorker(zipPath, onThreadReady, signal));
  } catch (error) {
    if (error instanceof BackupIntegrityError || error instanceof RestoreCancelledError) throw error;
    throw new BackupIntegrityError(
      `backup ${zipPath} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); check its permissions`,
    );
  }
  if (actual !== line.expected) {
    throw new BackupIntegrityError(
      `checksum mismatch for ${zipPath}: ${line.path} says ${line.expected}, the file hashes to ${actual}; the backup is corrupt or was altered`,
    );
  }
  return actual;
}

/** A central directory this big (about 25,000 entries of ours) makes tables worth waiting for
 *  `threadsReady` before building them. */
const WAIT_BEFORE_TABLES_BYTES = 2 * 1024 * 1024;

/**
 * Opens the archive and lists every central-directory entry (bounded by `maxEntries`).
 * `threadsReady`: when the caller started a worker thread just before (the checksum's), settled
 * once that thread has set the young-generation hold again. V8 resets the hold whenever it sets
 * up an isolate, and building a large archive's tables meanwhile (everything survives) grew the
 * young generation to its 32 MiB maximum in some runs and not in others: a 100,000-file rollback
 * peaked at 163-168 or at 186-209 MiB. Small archives do not wait (~25 ms of a thread's start).
 * `located`: the central directory when the caller already found it (its descriptor becomes the
 * archive's).
 */
export async function openArchive(
  zipPath: string,
  maxEntries: number,
  threadsReady?: Promise<unknown>,
  located?: CentralDirectoryLocation,
): Promise<OpenArchive> {
  const location = located ?? locateCentralDirectory(zipPath, maxEntries);
  if (threadsReady && location.cdSize >= WAIT_BEFORE_TABLES_BYTES) {
    try {
      await threadsReady;
    } catch {
      // the thread's failure is the checksum's to report
    }
  }
  return readCentralDirectory(location);
}

/** Reads an entry fully into memory, refusing more than `limit` bytes whatever its header claims,
 *  and checking its CRC-32. */
export function readSmallEntry(archive: OpenArchive, entry: ArchiveEntry, limit: number): Buffer {
  const show = JSON.stringify(entry.name);
  if (entry.uncompressedSize > limit || entry.compressedSize > limit + 1024 * 1024) {
    throw new BackupIntegrityError(
      `entry ${show} is ${entry.uncompressedSize} bytes; at most ${limit} expected`,
    );
  }
  const win = new ArchiveWindow(archive, Math.max(64 * 1024, entry.compressedSize + 64 * 1024 + 30));
  const start = dataStart(archive, win, entry);
  const raw = win.get(start, entry.compressedSize);
  if (!raw) throw new BackupIntegrityError(`entry ${show} is cut short; the backup is truncated`);
  const data = inflateEntry(entry, raw);
  if (data.length !== entry.uncompressedSize)
    throw new BackupIntegrityError(
      `entry ${show} holds ${data.length} bytes, not the declared ${entry.uncompressedSize}`,
    );
  if (crc32(data) >>> 0 !== entry.crc32 >>> 0)
    throw new BackupIntegrityError(`entry ${show} fails its CRC-32 check; the backup is corrupt`);
  return data;
}

/** Inflates (or copies) one entry's bytes; stops the moment the output passes the declared size. */
export function inflateEntry(entry: ArchiveEntry, raw: Buffer): Buffer {
  const show = JSON.stringify(entry.name);
  if (entry.compressionMethod === 0) return raw;
  try {
    return releasingZlib(inflateRawSync, raw, { maxOutputLength: Math.max(1, entry.uncompressedSize) });
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    if (e.code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError)
      throw new BackupIntegrityError(
        `entry ${show} inflates past its declared ${entry.uncompressedSize} bytes (under-declared size); refusing it`,
      );
    throw new BackupIntegrityError(`entry ${show} is corrupt (${e.message})`);
  }
}

export const MANIFEST_LIMIT = 256 * 1024 * 1024;
/** A manifest up to this size (about 40,000 entries) is read whole; a larger one as it inflates,
 *  never held whole (see ManifestReader). */
const WHOLE_MANIFEST_BYTES = 8 * 1024 * 1024;

let storedChunk: Buffer | undefined;
/** Whether a stream is using `storedChunk` (it yields while it reads, so another may start). */
let storedChunkBusy = false;
const ignoreError = (): void => undefined;

/** Streams one entry's data (starting at `start`) to `sink` in pieces of at most 1 MiB: stored
 *  bytes are read into one reused buffer, deflated ones inflate off the main thread. Stops the
 *  moment the output passes `declaredSize`; checks the size and CRC-32 at the end. Whatever
 *  `sink` throws ends the stream and is thrown. */
export async function streamEntryData(
  archive: OpenArchive,
  entry: ArchiveEntry,
  start: number,
  declaredSize: number,
  sink: (piece: Buffer) => void,
): Promise<void> {
  const show = JSON.stringify(entry.name);
  let crc = 0;
  let bytes = 0;
  const take = (piece: Buffer): void => {
    bytes += piece.length;
    if (bytes > declaredSize)
      throw new BackupIntegrityError(
        `entry ${show} inflates past its declared ${declaredSize} bytes (under-declared size); refusing it`,
      );
    crc = crc32(piece, crc);
    sink(piece);
  };
  const CHUNK = 1024 * 1024;
  const readInto = (b: Buffer, pos: number, len: number): Buffer => {
    let got = 0;
    while (got < len) {
      const n = readSync(archive.fd, b, got, len - got, pos + got);
      if (n === 0) throw new BackupIntegrityError(`entry ${show} is cut short; the backup is truncated`);
      got += n;
    }
    return b.subarray(0, len);
  };
  const end = start + entry.compressedSize;
  if (entry.compressionMethod === 0) {
    // One buffer serves every piece of every stored entry. A buffer per entry was garbage V8 did
    // not collect in time: the main thread streams without allocating on the heap, so nothing
    // triggers a collection, and a 1 GiB restore of 8 MiB stored files grew by 1 MiB per file
    // (80 MiB more RSS on Node 24). Read synchronously, it yields to the event loop every 32 MiB,
    // so a cancel's signal handler runs (and the sink's check stops it) inside a 5 GiB file too;
    // a second stream running meanwhile gets a buffer of its own.
    const shared = !storedChunkBusy;
    const chunk = shared ? (storedChunk ??= Buffer.allocUnsafeSlow(CHUNK)) : Buffer.allocUnsafeSlow(CHUNK);
    if (shared) storedChunkBusy = true;
    try {
      for (let pos = start, k = 0; pos < end; pos += CHUNK, k++) {
        if (k % 32 === 31) await new Promise((r) => setImmediate(r));
        take(readInto(chunk, pos, Math.min(CHUNK, end - pos)));
      }
    } finally {
      if (shared) storedChunkBusy = false;
    }
  } else {
    const inflate = createInflateRaw({ chunkSize: 256 * 1024 });
    const done = new Promise<void>((resolvePromise, reject) => {
      inflate.on('data', (piece: Buffer) => {
        try {
          take(piece);
        } catch (error) {
          inflate.destroy();
          reject(error);
        }
      });
      inflate.on('error', (error) =>
        reject(
          error instanceof BackupIntegrityError
            ? error
            : new BackupIntegrityError(`entry ${show} is corrupt (${error.message})`),
        ),
      );
      inflate.on('end', () => resolvePromise());
    });
    done.catch(() => undefined);
    try {
      for (let pos = start; pos < end && !inflate.destroyed; pos += CHUNK) {
        boundExternalMemory();
        const len = Math.min(CHUNK, end - pos);
        if (!inflate.write(readInto(Buffer.allocUnsafe(len), pos, len)))
          await new Promise<void>((r) => inflate.once('drain', r).once('close', r));
      }
      inflate.end();
      await done;
    } finally {
      // The stream outlives this call: what runs after it (a restore's whole planning, up to its
      // first real wait) runs inside the stream's last callback, which the promise chain resumed
      // from, and that frame holds the stream. Without its listeners it no longer holds `sink`
      // and what the sink filled (a 100,000-entry manifest stayed alive through planning and
      // extraction). `ignoreError` is defined outside: a closure made here would hold this scope.
      inflate.removeAllListeners().on('error', ignoreError).destroy();
    }
  }
  if (bytes !== declaredSize)
    throw new BackupIntegrityError(`entry ${show} holds ${bytes} bytes, not the declared ${declaredSize}`);
  if (crc >>> 0 !== entry.crc32 >>> 0)
    throw new BackupIntegrityError(
      `entry ${show} fails its CRC-32 check (stored ${entry.crc32.toString(16)}, computed ${(crc >>> 0).toString(16)}); the backup is corrupt`,
    );
}

/** Reads and checks the manifest (ManifestReader), whole up to `wholeUpTo` bytes and as it
 *  inflates above: its size, CRC-32 and layout are checked as for any entry, and damage is
 *  reported as damage (size, CRC) before any complaint about the JSON it produced. */
export async function readManifest(
  archive: OpenArchive,
  zipPath: string,
  wholeUpTo = WHOLE_MANIFEST_BYTES,
): Promise<BackupManifest> {
  const entry = archive.entries.find((e) => e.name === MANIFEST_ENTRY);
  if (!entry)
    throw new BackupIntegrityError(
      `${zipPath} has no manifest (${MANIFEST_ENTRY}); it was not written by guarded-rollout or is incomplete`,
    );
  if (entry.uncompressedSize > MANIFEST_LIMIT || entry.compressedSize > MANIFEST_LIMIT + 1024 * 1024)
    throw new BackupIntegrityError(
      `entry ${JSON.stringify(entry.name)} is ${entry.uncompressedSize} bytes; at most ${MANIFEST_LIMIT} expected`,
    );
  const reader = new ManifestReader(zipPath);
  if (entry.uncompressedSize <= wholeUpTo && entry.compressedSize <= wholeUpTo) {
    // Read and inflated at once, here: the stream's pieces, callbacks and zlib's thread-pool
    // round trips cost more than the text (a 20,000-entry verify spent ~40 ms there).
    reader.push(readSmallEntry(archive, entry, wholeUpTo));
    return reader.end();
  }
  const start = dataStart(archive, new ArchiveWindow(archive, 64 * 1024), entry);
  let parseError: unknown;
  await streamEntryData(archive, entry, start, entry.uncompressedSize, (piece) => {
    if (parseError !== undefined) return;
    try {
      reader.push(piece);
    } catch (error) {
      parseError = error; // thrown once the bytes are known to be intact
    }
  });
  if (parseError !== undefined) throw parseError;
  return reader.end();
}
