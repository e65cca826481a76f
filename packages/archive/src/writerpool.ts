// Restoring many small files is bound by work per file: inflate, CRC-32 and SHA256 checks, then
// open, write, chown, chmod, utimes and close. The main thread only reads the archive and copies
// each entry's compressed bytes into shared memory; a small pool of worker threads inflates,
// checks and writes them, in batches, so both cores work. The worker's code is inline
// (evaluated), so the bundled actions and CLI need no extra file.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

const WORKER_SOURCE = `(async () => {
  const { parentPort } = await import('node:worker_threads');
  const fs = await import('node:fs');
  const { inflateRawSync, crc32 } = await import('node:zlib');
  const { createHash } = await import('node:crypto');
  let memory;
  class Integrity extends Error {}
  const check = (f) => {
    const show = JSON.stringify(f.name);
    const raw = memory.subarray(f.offset, f.offset + f.length);
    let data = raw;
    if (f.method !== 0) {
      try {
        data = inflateRawSync(raw, { maxOutputLength: Math.max(1, f.size) });
      } catch (e) {
        if (e.code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError)
          throw new Integrity('entry ' + show + ' inflates past its declared ' + f.size + ' bytes (under-declared size); refusing it');
        throw new Integrity('entry ' + show + ' is corrupt (' + e.message + ')');
      }
    }
    if (data.length !== f.size)
      throw new Integrity('entry ' + show + ' holds ' + data.length + ' bytes, not the declared ' + f.size);
    const crc = crc32(data) >>> 0;
    if (crc !== f.crc)
      throw new Integrity('entry ' + show + ' fails its CRC-32 check (stored ' + f.crc.toString(16) + ', computed ' + crc.toString(16) + '); the backup is corrupt');
    if (f.sha256 && createHash('sha256').update(data).digest('hex') !== f.sha256)
      throw new Integrity('entry ' + show + ' does not match its manifest SHA256; the backup is corrupt or was altered');
    return data;
  };
  parentPort.on('message', (batch) => {
    if (batch.memory) {
      memory = Buffer.from(batch.memory);
      return;
    }
    let current = '';
    try {
      for (const f of batch.files) {
        current = f.path;
        const data = check(f);
        const fd = fs.openSync(f.path, 'wx', 0o600);
        try {
          for (let off = 0; off < data.length; ) off += fs.writeSync(fd, data, off, data.length - off);
          if (f.uid !== undefined) fs.fchownSync(fd, f.uid, f.gid);
          fs.fchmodSync(fd, f.mode);
          if (f.mtimeMs) fs.futimesSync(fd, new Date(), new Date(f.mtimeMs));
        } finally {
          fs.closeSync(fd);
        }
      }
      parentPort.postMessage({ id: batch.id });
    } catch (e) {
      parentPort.postMessage({
        id: batch.id,
        error: (e && e.message) || String(e),
        code: e && e.code,
        path: current,
        integrity: e instanceof Integrity,
      });
    }
  });
})();`;

export interface FileToWrite {
  path: string;
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

type Queued = Omit<FileToWrite, 'raw'> & { offset: number; length: number };

export class WriterPool {
  private workers: Worker[] = [];
  private readonly memory = new SharedArrayBuffer(SLOT_BYTES * SLOTS);
  private readonly view = Buffer.from(this.memory);
  private free: number[] = [];
  private slot: number | undefined;
  private batch: Queued[] = [];
  private used = 0;
  private nextId = 0;
  private next = 0;
  private inFlight = new Map<number, number>();
  private failure: FileWriteError | undefined;
  private waiters: Array<() => void> = [];

  constructor(threads = Math.max(1, Math.min(2, availableParallelism()))) {
    for (let i = 0; i < SLOTS; i++) this.free.push(i);
    for (let i = 0; i < threads; i++) {
      const w = new Worker(WORKER_SOURCE, { eval: true, resourceLimits: { maxYoungGenerationSizeMb: 4 } });
      w.postMessage({ memory: this.memory });
      w.on(
        'message',
        (m: { id: number; error?: string; code?: string; path?: string; integrity?: boolean }) => {
          const slot = this.inFlight.get(m.id);
          this.inFlight.delete(m.id);
          if (slot !== undefined) this.free.push(slot);
          if (m.error && !this.failure)
            this.failure = new FileWriteError(m.error, m.code, m.path ?? '', m.integrity);
          this.wake();
        },
      );
      w.on('error', (error) => {
        if (!this.failure) this.failure = new FileWriteError(error.message, undefined, '');
        this.inFlight.clear();
        this.wake();
      });
      this.workers.push(w);
    }
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private check(): void {
    if (this.failure) throw this.failure;
  }

  /** Whether `add` can take an entry of `bytes` stored bytes (at most SLOT_BYTES). */
  static fits(bytes: number): boolean {
    return bytes <= SLOT_BYTES;
  }

  /** Copies the entry's bytes into shared memory and queues it; waits for a free slot (bounded
   *  memory). The caller may reuse `file.raw` as soon as this returns. */
  async add(file: FileToWrite): Promise<void> {
    this.check();
    if (this.slot !== undefined && this.used + file.raw.length > SLOT_BYTES) this.send();
    while (this.slot === undefined) {
      this.slot = this.free.pop();
      if (this.slot === undefined) {
        await new Promise<void>((r) => this.waiters.push(r));
        this.check();
      }
    }
    const offset = this.slot * SLOT_BYTES + this.used;
    this.view.set(file.raw, offset);
    this.used += file.raw.length;
    const { raw: _raw, ...meta } = file;
    this.batch.push({ ...meta, offset, length: file.raw.length });
    if (this.batch.length >= BATCH_FILES) this.send();
  }

  private send(): void {
    if (this.slot === undefined) return;
    if (this.batch.length === 0) {
      this.free.push(this.slot);
      this.slot = undefined;
      return;
    }
    const id = this.nextId++;
    this.inFlight.set(id, this.slot);
    this.workers[this.next++ % this.workers.length]!.postMessage({ id, files: this.batch });
    this.batch = [];
    this.used = 0;
    this.slot = undefined;
  }

  /** Waits until every queued file is written; throws the first failure. */
  async drain(): Promise<void> {
    this.send();
    while (this.inFlight.size > 0 && !this.failure) await new Promise<void>((r) => this.waiters.push(r));
    this.check();
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
    this.workers = [];
  }
}
