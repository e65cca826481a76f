// Restoring many small files is bound by work per file: inflate, CRC-32 and SHA256 checks, then
// open, write, chown, chmod, utimes and close. The main thread reads the archive and copies each
// entry's compressed bytes into shared memory; a small pool of worker threads (one on two cores)
// inflates, checks and writes them, in batches, and the main thread writes files itself whenever
// every slot is queued (extract.ts), so both cores work. The worker's code is inline (evaluated),
// so the bundled actions and CLI need no extra file.
import { availableParallelism } from 'node:os';
import { MINOR_GC_SOURCE, RELEASING_ZLIB_SOURCE } from './workergc.js';
import { POOL_THREAD_SOURCE, PoolThreads } from './workerstop.js';

// Batches travel as columns (one string of paths, one Float64Array of numbers, one string of
// hashes): cloning 64 small objects per batch cost the main thread ~100 ms on 20,000 files.
// Integrity messages carry a NUL where the entry's name goes; the main thread fills it in.
const NUMS = 9; // offset, length, method, size, crc, mode, uid, gid, mtimeMs (NaN/0 when absent)
const WORKER_SOURCE = `(async () => {
  ${MINOR_GC_SOURCE}
  ${RELEASING_ZLIB_SOURCE}
  const { parentPort, workerData } = await import('node:worker_threads');
  ${POOL_THREAD_SOURCE}
  const fs = await import('node:fs');
  const { inflateRawSync, crc32 } = await import('node:zlib');
  const { createHash } = await import('node:crypto');
  let memory;
  const gc = await minorGc();
  class Integrity extends Error {}
  const N = ${NUMS};
  const check = (n, i, sha256) => {
    const offset = n[i * N], length = n[i * N + 1], method = n[i * N + 2], size = n[i * N + 3];
    const raw = memory.subarray(offset, offset + length);
    let data = raw;
    if (method !== 0) {
      try {
        data = releasingZlib(inflateRawSync, raw, { maxOutputLength: Math.max(1, size) });
      } catch (e) {
        if (e.code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError)
          throw new Integrity('entry \\0 inflates past its declared ' + size + ' bytes (under-declared size); refusing it');
        throw new Integrity('entry \\0 is corrupt (' + e.message + ')');
      }
    }
    if (data.length !== size)
      throw new Integrity('entry \\0 holds ' + data.length + ' bytes, not the declared ' + size);
    const crc = crc32(data) >>> 0;
    const want = n[i * N + 4];
    if (crc !== want)
      throw new Integrity('entry \\0 fails its CRC-32 check (stored ' + want.toString(16) + ', computed ' + crc.toString(16) + '); the backup is corrupt');
    if (sha256 && createHash('sha256').update(data).digest('hex') !== sha256)
      throw new Integrity('entry \\0 does not match its manifest SHA256; the backup is corrupt or was altered');
    return data;
  };
  parentPort.on('message', (batch) => {
    stopIfAsked();
    if (batch.memory) {
      memory = Buffer.from(batch.memory);
      return;
    }
    const paths = batch.paths.split('\\0');
    const n = batch.nums;
    const stats = new Float64Array(paths.length * 4);
    let i = 0;
    try {
      for (; i < paths.length; i++) {
        stopIfAsked();
        const sha256 = batch.shas.slice(i * 64, i * 64 + 64);
        const data = check(n, i, sha256 === '-'.repeat(64) ? '' : sha256);
        const fd = fs.openSync(paths[i], 'wx', 0o600);
        try {
          for (let off = 0; off < data.length; ) off += fs.writeSync(fd, data, off, data.length - off);
          const uid = n[i * N + 6];
          if (uid === uid) fs.fchownSync(fd, uid, n[i * N + 7]);
          fs.fchmodSync(fd, n[i * N + 5]);
          const mtimeMs = n[i * N + 8];
          if (mtimeMs) fs.futimesSync(fd, new Date(), new Date(mtimeMs));
          const st = fs.fstatSync(fd); // after the last change this restore makes to the file
          stats[i * 4] = st.ino;
          stats[i * 4 + 1] = st.ctimeMs;
          stats[i * 4 + 2] = st.mtimeMs;
          stats[i * 4 + 3] = st.mode & 0o7777;
        } finally {
          fs.closeSync(fd);
        }
      }
      parentPort.postMessage({ id: batch.id, stats }, [stats.buffer]);
      gc();
    } catch (e) {
      parentPort.postMessage({
        id: batch.id,
        index: i,
        error: (e && e.message) || String(e),
        code: e && e.code,
        integrity: e instanceof Integrity,
      });
    }
  });
})();`;

export interface FileToWrite {
  path: string;
  /** The entry's row in the caller's table: where its written status goes (see WriterPool). */
  index: number;
  /** The entry's stored bytes (compressed when method is 8). */
  raw: Uint8Array;
  /** Entry name, for messages. */
  name: string;
  /** Compression method: 0 stored, 8 deflate. */
  method: number;
  /** Declared uncompressed size: inflation stops past it. */
  size: number;
  crc: number;
  /** Manifest SHA256 to check; undefined skips the check. */
  sha256?: string;
  mode: number;
  uid?: number;
  gid?: number;
  mtimeMs?: number;
}

export class FileWriteError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    readonly path: string,
    /** True when the entry failed a check (size, CRC-32, SHA256, corrupt deflate data). */
    readonly integrity = false,
  ) {
    super(message);
  }
}

/** One batch of files is copied into one slot of shared memory: the memory in flight is exactly
 *  SLOTS x SLOT_BYTES, whatever the workers' garbage collectors do (transferring each file's own
 *  buffer let freed buffers pile up in the workers: ~80 MiB more peak RSS on 20,000 files). */
const SLOT_BYTES = 2 * 1024 * 1024;
const SLOTS = 4;
const BATCH_FILES = 64;

interface Batch {
  slot: number;
  indices: number[];
  paths: string[];
  names: string[];
  nums: number[];
  shas: string[];
}

const NO_HASH = '-'.repeat(64);

export class WriterPool {
  private readonly memory = new SharedArrayBuffer(SLOT_BYTES * SLOTS);
  private readonly view = Buffer.from(this.memory);
  private free: number[] = [];
  private batch: Batch | undefined;
  private used = 0;
  private nextId = 0;
  private next = 0;
  private inFlight = new Map<number, Batch>();
  private failure: FileWriteError | undefined;
  private waiters: Array<() => void> = [];
  private readonly threads: PoolThreads;

  /**
   * `written` receives each file's status once it is written and closed: at 4 x its `index`, the
   * inode, ctimeMs, mtimeMs and permission bits (fstat in the thread, after its last change to
   * the file), so the record of what a restore wrote needs no pass of lstat over the tree.
   */
  constructor(
    private readonly written: Float64Array | undefined,
    threads = Math.max(1, Math.min(2, availableParallelism() - 1)),
  ) {
    for (let i = 0; i < SLOTS; i++) this.free.push(i);
    this.threads = new PoolThreads(WORKER_SOURCE, threads, {
      what: 'writer',
      onMessage: (m: {
        id: number;
        stats?: Float64Array;
        index?: number;
        error?: string;
        code?: string;
        integrity?: boolean;
      }) => {
        const batch = this.inFlight.get(m.id);
        this.inFlight.delete(m.id);
        if (batch) this.free.push(batch.slot);
        if (batch && m.stats && this.written)
          for (let k = 0; k < batch.indices.length; k++)
            this.written.set(m.stats.subarray(4 * k, 4 * k + 4), 4 * batch.indices[k]!);
        if (m.error && !this.failure) {
          const at = m.index ?? 0;
          const name = JSON.stringify(batch?.names[at] ?? '');
          this.failure = new FileWriteError(
            m.integrity ? m.error.replace('\0', name) : m.error,
            m.code,
            batch?.paths[at] ?? '',
            m.integrity,
          );
        }
        this.wake();
      },
      // The restore fails: nothing waits forever for batches the thread will never answer.
      onDeath: (error) => this.failAll(error.message),
    });
    for (const w of this.threads.workers) w.postMessage({ memory: this.memory });
  }

  private failAll(message: string): void {
    if (!this.failure) this.failure = new FileWriteError(message, undefined, '');
    this.inFlight.clear();
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private check(): void {
    if (this.failure) throw this.failure;
  }

  /** Whether `add` would have to wait for a free slot for an entry of `bytes` stored bytes (the
   *  caller may then write that file itself instead of idling). */
  wouldWait(bytes: number): boolean {
    const roomInBatch = this.batch !== undefined && this.used + bytes <= SLOT_BYTES;
    return !roomInBatch && this.free.length === 0;
  }

  /** Whether `add` can take an entry of `bytes` stored bytes (at most SLOT_BYTES). */
  static fits(bytes: number): boolean {
    return bytes <= SLOT_BYTES;
  }

  /** Copies the entry's bytes into shared memory and queues it. Returns a promise only when it
   *  had to wait for a free slot (bounded memory): callers await it then, and otherwise go on
   *  without a turn of the event loop per file. `file.raw` may be reused once this returns. */
  add(file: FileToWrite): Promise<void> | undefined {
    this.check();
    if (this.batch && this.used + file.raw.length > SLOT_BYTES) this.send();
    if (!this.batch) {
      const slot = this.free.pop();
      if (slot === undefined)
        return new Promise<void>((r) => this.waiters.push(r)).then(() => this.add(file));
      this.batch = { slot, indices: [], paths: [], names: [], nums: [], shas: [] };
    }
    const b = this.batch;
    const offset = b.slot * SLOT_BYTES + this.used;
    this.view.set(file.raw, offset);
    this.used += file.raw.length;
    b.indices.push(file.index);
    b.paths.push(file.path);
    b.names.push(file.name);
    b.nums.push(
      offset,
      file.raw.length,
      file.method,
      file.size,
      file.crc,
      file.mode,
      file.uid ?? NaN,
      file.gid ?? NaN,
      file.mtimeMs ?? 0,
    );
    b.shas.push(file.sha256 ?? NO_HASH);
    if (b.paths.length >= BATCH_FILES) this.send();
    return undefined;
  }

  private send(): void {
    const b = this.batch;
    if (!b) return;
    this.batch = undefined;
    this.used = 0;
    if (b.paths.length === 0) {
      this.free.push(b.slot);
      return;
    }
    const id = this.nextId++;
    this.inFlight.set(id, b);
    const workers = this.threads.workers;
    workers[this.next++ % workers.length]!.postMessage({
      id,
      paths: b.paths.join('\0'),
      nums: Float64Array.from(b.nums),
      shas: b.shas.join(''),
    });
  }

  /** Waits until every queued file is written; throws the first failure. */
  async drain(): Promise<void> {
    this.send();
    while (this.inFlight.size > 0 && !this.failure) await new Promise<void>((r) => this.waiters.push(r));
    this.check();
  }

  async close(): Promise<void> {
    await this.threads.stopAll();
  }
}
