// Writing many small restored files is system-call bound (open, write, chown, chmod, utimes,
// close: six calls per file) while the main thread inflates and hashes. A small pool of worker
// threads does the system calls, in batches, so both overlap and use the machine's cores. The
// worker's code is inline (evaluated), so the bundled actions and CLI need no extra file.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

const WORKER_SOURCE = `(async () => {
  const { parentPort } = await import('node:worker_threads');
  const fs = await import('node:fs');
  parentPort.on('message', (batch) => {
    let current = '';
    try {
      for (const f of batch.files) {
        current = f.path;
        const fd = fs.openSync(f.path, 'wx', 0o600);
        try {
          const d = f.data;
          for (let off = 0; off < d.length; ) off += fs.writeSync(fd, d, off, d.length - off);
          if (f.uid !== undefined) fs.fchownSync(fd, f.uid, f.gid);
          fs.fchmodSync(fd, f.mode);
          if (f.mtimeMs) fs.futimesSync(fd, new Date(), new Date(f.mtimeMs));
        } finally {
          fs.closeSync(fd);
        }
      }
      parentPort.postMessage({ id: batch.id });
    } catch (e) {
      parentPort.postMessage({ id: batch.id, error: (e && e.message) || String(e), code: e && e.code, path: current });
    }
  });
})();`;

export interface FileToWrite {
  path: string;
  data: Uint8Array;
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
  ) {
    super(message);
  }
}

const BATCH_FILES = 64;
const BATCH_BYTES = 2 * 1024 * 1024;
const MAX_IN_FLIGHT_BYTES = 16 * 1024 * 1024;

export class WriterPool {
  private workers: Worker[] = [];
  private batch: FileToWrite[] = [];
  private batchBytes = 0;
  private nextId = 0;
  private next = 0;
  private inFlight = new Map<number, number>();
  private inFlightBytes = 0;
  private failure: FileWriteError | undefined;
  private waiters: Array<() => void> = [];

  constructor(threads = Math.max(1, Math.min(2, availableParallelism()))) {
    for (let i = 0; i < threads; i++) {
      const w = new Worker(WORKER_SOURCE, { eval: true });
      w.on('message', (m: { id: number; error?: string; code?: string; path?: string }) => {
        this.inFlightBytes -= this.inFlight.get(m.id) ?? 0;
        this.inFlight.delete(m.id);
        if (m.error && !this.failure) this.failure = new FileWriteError(m.error, m.code, m.path ?? '');
        this.wake();
      });
      w.on('error', (error) => {
        if (!this.failure) this.failure = new FileWriteError(error.message, undefined, '');
        this.inFlight.clear();
        this.inFlightBytes = 0;
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

  /** Queues a file; waits when too many bytes are in flight (bounded memory). */
  async add(file: FileToWrite): Promise<void> {
    this.check();
    this.batch.push(file);
    this.batchBytes += file.data.length;
    if (this.batch.length >= BATCH_FILES || this.batchBytes >= BATCH_BYTES) this.send();
    while (this.inFlightBytes > MAX_IN_FLIGHT_BYTES && !this.failure)
      await new Promise<void>((r) => this.waiters.push(r));
    this.check();
  }

  private send(): void {
    if (this.batch.length === 0) return;
    const id = this.nextId++;
    const files = this.batch;
    this.batch = [];
    this.inFlight.set(id, this.batchBytes);
    this.inFlightBytes += this.batchBytes;
    this.batchBytes = 0;
    // Each file's bytes own their ArrayBuffer (see add's callers), so they move without a copy.
    const transfer = files.map((f) => f.data.buffer as ArrayBuffer);
    this.workers[this.next++ % this.workers.length]!.postMessage({ id, files }, transfer);
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

/** A copy of `data` that owns its whole ArrayBuffer (transferable without dragging a window along). */
export function ownBuffer(data: Uint8Array): Uint8Array {
  if (
    data.byteOffset === 0 &&
    data.byteLength === data.buffer.byteLength &&
    !(data.buffer instanceof SharedArrayBuffer)
  )
    return data;
  const copy = new Uint8Array(data.byteLength);
  copy.set(data);
  return copy;
}
