// Stopping the pools' worker threads only where it is safe. Node (20 and 24 alike) aborts the
// whole process with `Assertion failed: init_done_ && "close before init"` when a worker is
// stopped while a zlib call is building its native handle: `worker.terminate()`, or the
// process exiting, can land in that window. A busy pool stopped that way crashed about one
// stop in a hundred (and killed a CI run). So a pool never stops a busy thread: it raises a flag
// in shared memory and posts a message; each thread checks the flag between files, acknowledges
// in its own slot and exits by itself. `worker.terminate()` is only the fallback for a thread
// that has not answered within the grace period. On process exit (which cannot await), the
// main thread waits for the acknowledgements with `Atomics.wait`, bounded.
import type { Worker } from 'node:worker_threads';

/** Inline worker code: `stopIfAsked()` exits the thread when its pool asked it to stop. Needs
 *  `workerData.control` (the stopper's shared memory) and `workerData.slot` (the thread's index)
 *  in scope as `workerData`. Call it first in the message handler and between files, never
 *  from inside a zlib call. */
export const STOP_SOURCE = `
  const stopControl = new Int32Array(workerData.control);
  const stopIfAsked = () => {
    if (Atomics.load(stopControl, 0) === 0) return;
    Atomics.store(stopControl, 1 + workerData.slot, 1);
    Atomics.notify(stopControl, 1 + workerData.slot);
    process.exit(0);
  };`;

/** Wakes an idle thread so that it runs `stopIfAsked()`. */
const STOP_MESSAGE = 'stop';

export class ThreadStopper {
  /** Shared memory: [0] stop asked, [1 + slot] that thread has stopped. */
  readonly control: SharedArrayBuffer;
  private readonly flags: Int32Array;
  private readonly live = new Map<number, Worker>();

  constructor(threads: number) {
    this.control = new SharedArrayBuffer(4 * (1 + threads));
    this.flags = new Int32Array(this.control);
    process.on('exit', this.onProcessExit);
  }

  /** `workerData` fields the thread's `STOP_SOURCE` needs. */
  workerData(slot: number): { control: SharedArrayBuffer; slot: number } {
    return { control: this.control, slot };
  }

  track(slot: number, worker: Worker): void {
    this.live.set(slot, worker);
    worker.once('exit', () => this.live.delete(slot));
  }

  /** Asks every thread to stop at its next safe point, without waiting. */
  ask(): void {
    Atomics.store(this.flags, 0, 1);
    for (const w of this.live.values()) w.postMessage(STOP_MESSAGE);
  }

  /** Stops every thread and waits until all have exited. */
  async stopAll(graceMs = 5_000): Promise<void> {
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
