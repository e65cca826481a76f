// Bounds the main thread's old-generation garbage on archives of many entries. V8 lets the old
// generation grow well past its live size before it collects it, and a backup or restore
// promotes short-lived per-file objects (they outlive a scavenge while their batch is in a worker
// thread): the same 100,000-file backup peaked anywhere from 192 to 272 MiB RSS from run to run,
// with ~55 MB live. From LARGE_ENTRIES entries on, a full collection every COLLECT_EVERY entries (tens of
// milliseconds each, about 4 % of such a backup) holds it at about 170 MiB every time, and one
// before a restore's extraction frees what planning left; smaller jobs never pay for it. `gc` is
// reached through V8's own flag, as in the pools' workers (workergc.ts); where that is
// unavailable nothing is collected early.
import { getHeapSpaceStatistics, getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** From this many entries on, a job bounds its old generation (see above). */
export const LARGE_ENTRIES = 32 * 1024;
const COLLECT_EVERY = 8 * 1024;

/**
 * Where a job that does not hold the young generation from the start (a backup) stops its growth:
 * 16 MiB (two 8 MiB semi-spaces, as `--max-semi-space-size=8` would give, which only works as a
 * start-up flag). Walking and compressing 100,000 files grew it to V8's 32 MiB default maximum,
 * resident for the rest of the run: measured 172-176 -> 154-159 MiB peak RSS with the flag.
 */
const YOUNG_CAP_BYTES = 16 * 1024 * 1024;
const CAP_CHECK_EVERY = 1024;

type Collect = (options?: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;
let collect: Collect | null | undefined;
function fullGc(): Collect | null {
  if (collect === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      // Called without options: a full, compacting collection (`{ type: 'major' }` freed a tenth
      // as much here, measured on Node 20).
      collect = runInNewContext('gc') as Collect;
    } catch {
      collect = null;
    }
  }
  return collect;
}

export class HeapGuard {
  private calls = 0;

  /** Call once per entry. */
  tick(): void {
    ++this.calls;
    if (this.calls % CAP_CHECK_EVERY === 0) capYoungGeneration();
    if (this.calls >= LARGE_ENTRIES && this.calls % COLLECT_EVERY === 0) fullGc()?.();
  }

  /** One plain full collection, for a large job's point where most objects are still live but
   *  a step left garbage (a restore's manifest lines and planning, before it builds its plan
   *  table). phase() would also compact, copying ~60 MB of objects at 100,000 entries that are
   *  released right after. */
  collectGarbage(entries: number): void {
    if (entries >= LARGE_ENTRIES) fullGc()?.();
  }

  /** Call between phases with the number of entries. Frees the phase's objects and returns
   *  their pages to the system. One plain collection frees objects but leaves resident the pages
   *  they shared with survivors: on Node 20 V8 evacuates a bounded share of such pages per
   *  collection (~33 MB measured), so it collects again while more than SLACK_BYTES of old space
   *  is free and each collection still returns at least PROGRESS_BYTES (at most 4 collections;
   *  a 100,000-entry restore before its writer threads start: 34 -> 17 MiB of heap, 162 -> 110
   *  MiB RSS). Node 24's V8 keeps freed pages in a pool that plain collections never return (its
   *  old space shrank from 117 to 22 MiB with RSS unchanged at 305 MiB); its last-resort
   *  collection compacts everything and empties the pool (RSS 82 MiB), so it is used there. */
  phase(entries: number): void {
    if (entries < LARGE_ENTRIES) return;
    const collect = fullGc();
    if (!collect) return;
    collect();
    if (POOLS_PAGES) {
      // After the plain collection, so the last resort's compaction copies only survivors, into
      // pages the first one freed.
      collect({ type: 'major', execution: 'sync', flavor: 'last-resort' });
      return;
    }
    let old = oldSpace();
    for (let more = 0; more < 3 && old.size - old.used > SLACK_BYTES; more++) {
      collect();
      const next = oldSpace();
      if (old.size - next.size < PROGRESS_BYTES) break;
      old = next;
    }
  }
}

/** V8 12 and later pool freed pages and take `flavor: 'last-resort'` (measured on Node 24, V8
 *  13.6); Node 20's V8 11.3 neither pools nor collects for that call (measured: nothing freed). */
const POOLS_PAGES = Number(process.versions.v8.split('.')[0]) >= 12;

const SLACK_BYTES = 8 * 1024 * 1024;
const PROGRESS_BYTES = 4 * 1024 * 1024;

function oldSpace(): { size: number; used: number } {
  for (const s of getHeapSpaceStatistics())
    if (s.space_name === 'old_space') return { size: s.space_size, used: s.space_used_size };
  return { size: 0, used: 0 };
}

/**
 * Keeps V8's young generation at its current size for the rest of the process. Reading a large
 * archive's tables (central directory, manifest, plan) makes objects that all survive their
 * first collections, and V8 answers high survival by doubling the young generation up to 32 MiB
 * of semi-spaces (64 MiB on Node 24) that stay resident. Process policy, so it is called by the
 * commands whose process reads backups (the CLI's verify-backup and rollback, the rollback
 * action), not by the library. Not for backups: there it raised the peak (more short-lived
 * objects promoted into the old generation).
 *
 * V8 reads the growth factor each time it grows the young generation, but on Node 20 resets it
 * to its default (2) whenever an isolate is set up, which every worker thread does; so each
 * worker this package starts sets it again first thing (`HOLD_SOURCE`, told by
 * `heldForWorker()`). The young generation may still grow while a worker starts up (to 8 MiB
 * in a 100,000-entry verify): measured 166-178 -> 140 MiB peak RSS for that verify.
 */
const HOLD_FLAG = '--semi-space-growth-factor=1';
let held = false;

function applyHold(): void {
  try {
    setFlagsFromString(HOLD_FLAG);
  } catch {
    // an embedder without V8 flags: V8's default sizing
  }
}

export function holdYoungGeneration(): void {
  held = true;
  applyHold();
}

/** Fields for a worker's `workerData`: whether it must set the hold again (see HOLD_SOURCE). */
export function heldForWorker(): { holdYoung?: true } {
  return held ? { holdYoung: true } : {};
}

/** Inline worker code (in an async function, with `workerData` in scope). */
export const HOLD_SOURCE = `
  if (workerData && workerData.holdYoung) {
    try {
      (await import('node:v8')).setFlagsFromString('${HOLD_FLAG}');
    } catch {}
  }`;

/** Holds the young generation (holdYoungGeneration) once it has grown to YOUNG_CAP_BYTES; call
 *  it every CAP_CHECK_EVERY entries or so (HeapGuard.tick does). Cheap: one statistics call. */
export function capYoungGeneration(): void {
  if (held) return;
  for (const space of getHeapSpaceStatistics())
    if (space.space_name === 'new_space' && space.space_size >= YOUNG_CAP_BYTES) holdYoungGeneration();
}

/** Dead buffers a stream may leave before boundExternalMemory collects them. */
const EXTERNAL_CAP_BYTES = 32 * 1024 * 1024;
/** These collections may take at most 1/COLLECT_SHARE of the time (see boundExternalMemory). */
const COLLECT_SHARE = 10;
let nextCollectAt = 0;
/** One function for every call: a default written inline would be a new closure per call. */
const wallClock = (): number => performance.now();

/**
 * Collects when more than EXTERNAL_CAP_BYTES of buffers are outside the heap; call it once per
 * piece of a long stream (cheap: one statistics call). A streamed inflate's output buffers live
 * until they are full (256 KiB), long enough, under the held young generation, to be promoted;
 * their memory then waits for a full collection, which V8 schedules only at about 64 MiB more of
 * them: a 1 GiB restore on Node 24 held up to 76 MB of dead pieces (peak 168-171 MiB RSS), and
 * V8's marking under that external pressure slowed a 1 GiB backup from 15 to 27 s.
 * After a collection that took d ms, the next waits COLLECT_SHARE x d: in a process holding more
 * than the cap in live buffers with a large heap (a test runner, a host application), collecting
 * on every piece stopped a 4.5 GiB backup inside Jest (not finished in 8 minutes). A spacing by
 * pieces instead let a compressible stream leave 70 MiB; measuring what stays live after a
 * collection came out high (V8 releases the dead buffers a little later).
 * `now` is the clock the spacing is measured on (tests pass one that stands still).
 */
export function boundExternalMemory(now: () => number = wallClock): void {
  if (getHeapStatistics().external_memory <= EXTERNAL_CAP_BYTES) return;
  const started = now();
  if (started < nextCollectAt) return;
  const collect = fullGc();
  if (!collect) return;
  collect();
  const ended = now();
  nextCollectAt = ended + COLLECT_SHARE * (ended - started);
}
