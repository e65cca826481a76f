// The pools' worker threads (deflatepool.ts, writerpool.ts): started, watched and stopped in one
// place. Stopping is the delicate part. Node (20 and 24 alike) aborts the whole process with
// `Assertion failed: init_done_ && "close before init"` when a worker is stopped while a zlib
// call is building its native handle: `worker.terminate()`, or the process exiting, can land in
// that window. A busy pool stopped that way crashed about one stop in a hundred (and killed a CI
// run). So a pool never stops a busy thread: it raises a flag in shared memory and posts a
// message; each thread checks the flag between files, acknowledges in its own slot and exits by
// itself. `worker.terminate()` is only the fallback for a thread that has not answered within the
// grace period. On process exit (which cannot await), the main thread waits for the
// acknowledgements with `Atomics.wait`, bounded.
import { Worker } from 'node:worker_threads';
import { HOLD_SOURCE, heldForWorker } from './heapguard.js';

/** Inline code every pool thread runs first (in its async function, with `workerData` in scope):
 *  the young-generation hold, and `stopIfAsked()`, which exits the thread when its pool asked it
 *  to stop. Call `stopIfAsked()` first in the message handler and between files, never from
 *  inside a zlib call. */
export const POOL_THREAD_SOURCE = `
  ${HOLD_SOURCE}
  const stopControl = new Int32Array(workerData.control);
  const stopIfAsked = () => {
    if (Atomics.load(stopControl, 0) === 0) return;
    Atomics.store(stopControl, 1 + workerData.slot, 1);
    Atomics.notify(stopControl, 1 + workerData.slot);
    process.exit(0);
  };`;

/** Wakes an idle thread so that it runs `stopIfAsked()`. */
const STOP_MESSAGE = 'stop';

export interface PoolThreadsOptions {
  /** Named when a thread dies: "a <what> thread stopped unexpectedly (exit code N)". */
  what: string;
  /** Given to every thread, beside the fields POOL_THREAD_SOURCE needs. */
  workerData?: Record<string, unknown>;
  onMessage: (message: never) => void;
  /** A thread died (an error, or an exit nobody asked for): fail whatever it could owe, so
   *  nothing waits forever for an answer that will not come. */
  onDeath: (error: Error) => void;
}

export class PoolThreads {
  /** The threads, in start order (for handing out batches). */
  readonly workers: Worker[] = [];
  /** Shared memory: [0] stop asked, [1 + slot] that thread has stopped. */
  private readonly flags: Int32Array;
  private readonly live = new Map<number, Worker>();
  private closing = false;

  /** Starts `count` threads running `source` (which includes POOL_THREAD_SOURCE). */
  constructor(source: string, count: number, options: PoolThreadsOptions) {
    const control = new SharedArrayBuffer(4 * (1 + count));
    this.flags = new Int32Array(control);
    process.on('exit', this.onProcessExit);
    for (let slot = 0; slot < count; slot++) {
      const w = new Worker(source, {
        eval: true,
        workerData: { ...options.workerData, control, slot, ...heldForWorker() },
        resourceLimits: { maxYoungGenerationSizeMb: 4 },
      });
      w.on('message', (message) => options.onMessage(message as never));
      w.on('error', options.onDeath);
      w.on('exit', (code) => {
        this.live.delete(slot);
        if (!this.closing)
          options.onDeath(new Error(`a ${options.what} thread stopped unexpectedly (exit code ${code})`));
      });
      this.live.set(slot, w);
      this.workers.push(w);
    }
  }

  /** Asks every thread to stop at its next safe point, without waiting (for a pool that is
   *  closing, see stopAll; otherwise each exit is reported as a death). */
  ask(): void {
    Atomics.store(this.flags, 0, 1);
    for (const w of this.live.values()) w.postMessage(STOP_MESSAGE);
  }

  /** Stops every thread and waits until all have exited. */
  async stopAll(graceMs = 5_000): Promise<void> {
    this.closing = true;
    process.off('exit', this.onProcessExit);
    const exited = [...this.live.values()].map((w) => new Promise((r) => w.once('exit', r)));
    this.ask();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(exited),
      new Promise((r) => {
        timer = setTimeout(r, graceMs);
      }),
    ]);
    clearTimeout(timer);
    // Still running after the grace period: stuck (a hung write), not in a short zlib call.
    await Promise.all([...this.live.values()].map((w) => w.terminate()));
    this.live.clear();
  }

  /** The process is exiting with threads still running (a command failed without closing its
   *  pool): let them reach a safe point first, for at most 2 s. */
  private readonly onProcessExit = (): void => {
    this.ask();
    const deadline = Date.now() + 2_000;
    for (const slot of this.live.keys()) {
      for (;;) {
        const left = deadline - Date.now();
        if (Atomics.load(this.flags, 1 + slot) === 1 || left <= 0) break;
        Atomics.wait(this.flags, 1 + slot, 0, left);
      }
    }
  };
}
