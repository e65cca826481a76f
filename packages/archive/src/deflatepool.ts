// Backing up many small files is bound by deflate (about half the time of a 20,000-file backup).
// The main thread reads each file (checking it did not change while read) into shared memory;
// a small pool of worker threads computes its CRC-32 and SHA256 and deflates it, writing the
// compressed bytes back over the input when they are smaller. The main thread then appends the
// entries to the zip in their original order. Memory in flight is fixed: (threads + 2) x SLOT_BYTES.
// The worker's code is inline (evaluated), so the bundled actions and CLI need no extra file.
import { availableParallelism } from 'node:os';
import { MINOR_GC_SOURCE, RELEASING_ZLIB_SOURCE } from './workergc.js';
import { POOL_THREAD_SOURCE, PoolThreads } from './workerstop.js';

const WORKER_SOURCE = `(async () => {
  ${MINOR_GC_SOURCE}
  ${RELEASING_ZLIB_SOURCE}
  const gc = await minorGc();
  const { parentPort, workerData } = await import('node:worker_threads');
  ${POOL_THREAD_SOURCE}
  const { deflateRawSync, crc32 } = await import('node:zlib');
  const { createHash } = await import('node:crypto');
  const memory = Buffer.from(workerData.memory);
  const level = workerData.level;
  const SAMPLE = 64 * 1024;
  parentPort.on('message', (batch) => {
    stopIfAsked();
    try {
      const out = [];
      for (const f of batch.files) {
        stopIfAsked();
        const data = memory.subarray(f.offset, f.offset + f.length);
        const crc = crc32(data) >>> 0;
        const sha256 = createHash('sha256').update(data).digest('hex');
        let method = 0;
        let stored = f.length;
        let dense = !f.compress;
        if (!dense && f.length > SAMPLE)
          dense = releasingZlib(deflateRawSync, data.subarray(0, SAMPLE), { level: 1 }).length > SAMPLE * 0.9;
        if (!dense) {
          // A small window and hash table for small files: same format, less set-up per file.
          const windowBits = Math.max(9, Math.min(15, Math.ceil(Math.log2(f.length + 1))));
          const body = releasingZlib(deflateRawSync, data, { level, windowBits, memLevel: windowBits < 13 ? 7 : 8 });
          if (body.length < f.length) {
            body.copy(memory, f.offset);
            method = 8;
            stored = body.length;
          }
        }
        out.push({ crc, sha256, method, stored });
      }
      parentPort.postMessage({ id: batch.id, out });
      gc();
    } catch (e) {
      parentPort.postMessage({ id: batch.id, error: (e && e.message) || String(e) });
    }
  });
})();`;

export interface Deflated {
  crc: number;
  sha256: string;
  method: 0 | 8;
  /** The entry's bytes as stored in the zip (compressed when method is 8); valid until `release`. */
  body: Buffer;
}

const SLOT_BYTES = 2 * 1024 * 1024;
/** Slots beyond one per thread: one being filled here, one whose results are being appended. */
const SPARE_SLOTS = 2;
const BATCH_FILES = 128;

interface Slot {
  index: number;
  files: Array<{ offset: number; length: number; compress: boolean }>;
  used: number;
  waiting: Array<{ resolve: (d: Deflated) => void; reject: (e: Error) => void }>;
  /** Files of this slot not yet released by the caller. */
  open: number;
}

/** From this many small files on, a backup compresses on one thread: its peak is the steady
 *  state with the threads alive, and a second thread (~17 MiB on Node 24) took a 100,000-file
 *  backup to 168-173 MiB there (one thread and three slots: 147-150 MiB, 8.5-8.8 s instead of
 *  6.9-7.3 s, still 0.8x of `zip -r -q` + `sha256sum`). Smaller backups keep two for their time. */
const ONE_THREAD_FILES = 32 * 1024;

/** How many compression threads a backup of `smallFiles` pooled files starts. */
export function compressionThreads(smallFiles: number, cores = availableParallelism()): number {
  return smallFiles >= ONE_THREAD_FILES ? 1 : Math.max(1, Math.min(2, cores));
}

export class DeflatePool {
  private readonly memory: SharedArrayBuffer;
  private readonly view: Buffer;
  private free: number[] = [];
  private current: Slot | undefined;
  private inFlight = new Map<number, Slot>();
  private nextId = 0;
  private next = 0;
  private failure: Error | undefined;
  private readonly threads: PoolThreads;

  constructor(level: number, threads = Math.max(1, Math.min(2, availableParallelism()))) {
    const slots = threads + SPARE_SLOTS;
    this.memory = new SharedArrayBuffer(SLOT_BYTES * slots);
    this.view = Buffer.from(this.memory);
    for (let i = 0; i < slots; i++) this.free.push(i);
    this.threads = new PoolThreads(WORKER_SOURCE, threads, {
      what: 'compression',
      workerData: { memory: this.memory, level },
      onMessage: (m: {
        id: number;
        error?: string;
        out?: Array<Omit<Deflated, 'body'> & { stored: number }>;
      }) => {
        const slot = this.inFlight.get(m.id);
        this.inFlight.delete(m.id);
        if (!slot) return;
        if (m.error) return this.fail(new Error(`compressing a batch of files failed: ${m.error}`), slot);
        slot.files.forEach((f, i) => {
          const r = m.out![i]!;
          const d: Deflated = {
            crc: r.crc,
            sha256: r.sha256,
            method: r.method,
            body: this.view.subarray(f.offset, f.offset + r.stored),
          };
          this.owner.set(d, slot);
          slot.waiting[i]!.resolve(d);
        });
      },
      // Every batch the thread could owe fails.
      onDeath: (error) => this.failAll(error),
    });
  }

  private failAll(error: Error): void {
    this.failure ??= error;
    for (const slot of this.inFlight.values()) this.fail(error, slot);
    this.inFlight.clear();
  }

  private fail(error: Error, slot: Slot): void {
    this.failure ??= error;
    for (const w of slot.waiting) w.reject(error);
  }

  /** Largest file `add` takes. */
  static readonly maxFileBytes = SLOT_BYTES;

  /** True when `add` can take a file now without a free slot being needed, or one is free. */
  canAdd(bytes: number): boolean {
    return (this.current !== undefined && this.current.used + bytes <= SLOT_BYTES) || this.free.length > 0;
  }

  /** Copies `data` into shared memory and queues it. The returned promise settles once its batch
   *  is compressed; call `release` for each result once its body has been written. Callers must
   *  check `canAdd` first (and release earlier results when it is false). */
  add(data: Buffer, compress: boolean): Promise<Deflated> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.current && this.current.used + data.length > SLOT_BYTES) this.send();
    if (!this.current) {
      const index = this.free.pop();
      if (index === undefined) throw new Error('DeflatePool.add without a free slot');
      this.current = { index, files: [], used: 0, waiting: [], open: 0 };
    }
    const slot = this.current;
    const offset = slot.index * SLOT_BYTES + slot.used;
    data.copy(this.view, offset);
    slot.used += data.length;
    slot.files.push({ offset, length: data.length, compress });
    slot.open++;
    const promise = new Promise<Deflated>((resolve, reject) => slot.waiting.push({ resolve, reject }));
    promise.catch(() => undefined);
    if (slot.files.length >= BATCH_FILES) this.send();
    return promise;
  }

  /** Each result's slot, by the result itself. Not by its offset: an empty file shares its offset
   *  with the file after it, and keyed so the second release found nothing, its slot was never
   *  reused, and a backup whose small files included empty ones crashed once every slot was lost
   *  ("internal error: ... is not a function"). */
  private owner = new Map<Deflated, Slot>();

  /** The caller is done with `d.body`: its slot is reused once every file in it is released. */
  release(d: Deflated): void {
    const slot = this.owner.get(d);
    if (!slot) return;
    this.owner.delete(d);
    if (--slot.open === 0) this.free.push(slot.index);
  }

  /** Hands the batch being filled to a worker (before waiting for any of its results). */
  send(): void {
    const slot = this.current;
    if (!slot) return;
    this.current = undefined;
    if (this.failure) return this.fail(this.failure, slot);
    const id = this.nextId++;
    this.inFlight.set(id, slot);
    const workers = this.threads.workers;
    workers[this.next++ % workers.length]!.postMessage({ id, files: slot.files });
  }

  async close(): Promise<void> {
    await this.threads.stopAll();
  }
}
