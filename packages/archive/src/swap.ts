// Swapping restored roots into the target, crash-safe. Everything lives in the target's own
// state directory `<target>/.guarded-rollout/` (same filesystem, so every move is a rename):
//   staging-<UTC>-<pid>/<root>...   the verified new tree, built before anything live is touched
//   pre-rollback/<UTC>[-n]/<root>   the previous version of each replaced root, kept (all of
//                                    them, or the newest N with --keep-previous N)
//   removing-<UTC>[-n]/              a previous version being deleted (--keep-previous)
//   swap.json                        the journal: written (fsynced) before the first rename
//   restore.lock                     one restore of a target at a time
// A swap is two renames per root. A kill -9 between any two leaves the journal, and the next run
// of any command that touches the target (restore, backup of that tree) rolls the swap forward
// before anything else: the staged tree was complete and verified when the journal was written.
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  rmdirSync,
} from 'node:fs';
import { join } from 'node:path';
import { fsyncDirectory, partialName, writeFileAtomic } from './durable.js';
import { acquireLock, type HeldLock } from './lock.js';

export const STATE_DIR = '.guarded-rollout';
export const JOURNAL_FILE = 'swap.json';
export const RESTORE_LOCK_FILE = 'restore.lock';

export interface SwapJournal {
  format: 'guarded-rollout-swap/1';
  target: string;
  staging: string;
  previous: string;
  roots: Array<{ name: string; hadLive: boolean }>;
  startedAt: string;
}

export function stateDir(target: string): string {
  return join(target, STATE_DIR);
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Takes the restore lock of `target` (creating its state directory). */
export function lockTarget(target: string, now?: () => Date): HeldLock {
  mkdirSync(stateDir(target), { recursive: true, mode: 0o700 });
  return acquireLock(join(stateDir(target), RESTORE_LOCK_FILE), `a restore into ${target}`, now);
}

/** The n past the highest in use under `parent` for `stamp` (1 for `<stamp>` itself, then 2, 3...
 *  for `<stamp>-2`, `-3`). A restore that deletes previous versions (--keep-previous) takes it
 *  before deleting, so a name a deletion frees is never handed out again. */
export function firstFreeIndex(parent: string, stamp: string): number {
  let first = 1;
  let names: string[] = [];
  try {
    names = readdirSync(parent);
  } catch {
    return first; // no directory yet
  }
  for (const name of names) {
    if (name === stamp) first = Math.max(first, 2);
    else if (name.startsWith(`${stamp}-`)) {
      const n = Number(name.slice(stamp.length + 1));
      if (Number.isInteger(n) && n >= 2) first = Math.max(first, n + 1);
    }
  }
  return first;
}

/** A fresh directory under `parent` named `<stamp>`, or `<stamp>-2`, `-3`...: never reused (from
 *  `from` on, past the highest in use by default). */
export function uniqueDirectory(parent: string, stamp: string, from = firstFreeIndex(parent, stamp)): string {
  mkdirSync(parent, { recursive: true, mode: 0o700 });
  for (let n = from; ; n++) {
    const dir = join(parent, n === 1 ? stamp : `${stamp}-${n}`);
    try {
      mkdirSync(dir, { mode: 0o700 });
      return dir;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}

/** One rename done by a swap, so a swap that fails part-way (not killed) can be undone. */
type Move = { from: string; to: string };

/** Moves each root of the journal into place. Idempotent: every step checks what is already done,
 *  so the same function performs a swap and finishes an interrupted one. */
function rollForward(j: SwapJournal, done: Move[] = []): void {
  for (const root of j.roots) {
    const live = join(j.target, root.name);
    const staged = join(j.staging, root.name);
    const previous = join(j.previous, root.name);
    if (!exists(staged)) continue; // this root is already in place
    if (exists(live)) {
      // Not yet moved aside (a root that did not exist before cannot be live while still staged,
      // unless something else created it since: it is kept too, never deleted).
      if (exists(previous))
        throw new Error(
          `cannot finish the swap of ${live}: both ${live} and ${previous} exist; move one of them away and run the command again`,
        );
      renameSync(live, previous);
      done.push({ from: live, to: previous });
    }
    renameSync(staged, live);
    done.push({ from: staged, to: live });
  }
  fsyncDirectory(j.target);
}

/** Performs the swap described by `journal` (the staging tree must be complete). A rename that
 *  fails part-way (permissions, I/O) is undone: the roots already swapped go back, the journal is
 *  removed and the error is thrown, so the live tree is as it was. Only if the undo fails too is
 *  the journal kept (with the staging tree), and the next run finishes the swap. */
export function swapRoots(journal: SwapJournal): void {
  const journalPath = join(stateDir(journal.target), JOURNAL_FILE);
  writeFileAtomic(journalPath, `${JSON.stringify(journal, null, 1)}\n`);
  const done: Move[] = [];
  try {
    rollForward(journal, done);
  } catch (error) {
    try {
      for (const m of done.reverse()) renameSync(m.to, m.from);
      fsyncDirectory(journal.target);
    } catch (undoError) {
      throw new SwapIncompleteError(
        `${(error as Error).message}; undoing the swap failed too (${(undoError as Error).message}): the journal ${journalPath} is kept and the next restore or backup of ${journal.target} finishes the swap`,
      );
    }
    rmSync(journalPath, { force: true });
    fsyncDirectory(stateDir(journal.target));
    try {
      rmdirSync(journal.previous); // empty again: nothing was replaced
    } catch {
      // not empty: leave it
    }
    throw error;
  }
  finish(journal);
}

/** A swap failed and could not be undone: its journal and staging tree must be kept. */
export class SwapIncompleteError extends Error {}

function finish(j: SwapJournal): void {
  rmSync(join(stateDir(j.target), JOURNAL_FILE), { force: true });
  rmSync(j.staging, { recursive: true, force: true });
  try {
    rmdirSync(j.previous); // nothing was replaced: no empty pre-rollback directory
  } catch {
    // not empty: it holds the previous versions
  }
}

/** Finishes a swap that was interrupted in `target` (call while holding its restore lock, or
 *  after checking nobody does). Returns one note per repair; none when there was nothing to do. */
export function repairInterruptedSwapLocked(target: string): string[] {
  const path = join(stateDir(target), JOURNAL_FILE);
  if (!existsSync(path)) return [];
  const journal = JSON.parse(readFileSync(path, 'utf8')) as SwapJournal;
  if (journal.target !== target) journal.target = target; // the tree was moved as a whole
  rollForward(journal);
  finish(journal);
  return [
    `finished an interrupted restore of ${target} (journal ${path}): ${journal.roots.map((r) => r.name).join(', ')} now hold the restored backup; previous versions are in ${journal.previous}`,
  ];
}

/** Sweeps what killed restores leave: staging directories, half-written journals, previous
 *  versions whose deletion was cut short (removing-*) and empty previous-version directories (call
 *  while holding the restore lock and after repairing an interrupted swap: no other restore of
 *  this target is running, so none is in use). A journal that never took its name means the swap
 *  had not started. */
export function sweepStaging(target: string): string[] {
  const dir = stateDir(target);
  const notes: string[] = [];
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return notes;
  }
  const halfJournal = partialName(JOURNAL_FILE, '');
  for (const name of names) {
    if (name.startsWith('staging-')) {
      removeTree(join(dir, name));
      notes.push(`removed ${join(dir, name)}: staging directory of an interrupted restore`);
    } else if (name.startsWith(REMOVING)) {
      removeTree(join(dir, name));
      notes.push(
        `removed ${join(dir, name)}: a previous version whose deletion (--keep-previous) was interrupted`,
      );
    } else if (name.startsWith(halfJournal) && name !== partialName(JOURNAL_FILE)) {
      rmSync(join(dir, name), { force: true });
      notes.push(
        `removed ${join(dir, name)}: half-written swap journal of a restore killed before its swap began`,
      );
    }
  }
  // A restore killed between making its previous-version directory and writing its journal leaves
  // it empty (after a repair, no journal names one): not a version, and counted as one by
  // --keep-previous and the full-disk hint. rmdir removes only an empty one.
  for (const name of keptPreviousVersions(target)) {
    const path = join(dir, 'pre-rollback', name);
    try {
      rmdirSync(path);
      notes.push(
        `removed ${path}: empty previous-version directory of a restore killed before its swap began`,
      );
    } catch {
      // not empty: a kept version
    }
  }
  return notes;
}

/** rm -rf that also empties directories without write permission: a kept or staged tree has the
 *  modes of the backup it came from, and a read-only directory in it would stop rmSync (for a
 *  user other than root) with the tree half deleted. Only directories are opened, never through a
 *  symlink. */
export function removeTree(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true });
    return;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EPERM') throw error;
  }
  const open = (dir: string): void => {
    if (!lstatSync(dir).isDirectory()) return; // a symlink is removed, never followed
    chmodSync(dir, 0o700);
    for (const entry of readdirSync(dir, { withFileTypes: true }))
      if (entry.isDirectory()) open(join(dir, entry.name));
  };
  open(path);
  rmSync(path, { recursive: true, force: true });
}

/** The most previous versions --keep-previous may ask for. */
export const KEEP_PREVIOUS_MAX = 10_000;

const REMOVING = 'removing-';
/** The names uniqueDirectory gives previous versions: `<UTC>` and `<UTC>-<n>`. */
const PREVIOUS_NAME = /^(\d{8}T\d{6}Z)(?:-([2-9]|[1-9]\d{1,8}))?$/;

/** The previous versions kept in `target` (pre-rollback/<UTC>[-n]), oldest first: by time, then
 *  by n (so `-10` comes after `-9`). Anything else in pre-rollback is not the tool's: never listed,
 *  never deleted. */
export function keptPreviousVersions(target: string): string[] {
  let names: string[];
  try {
    names = readdirSync(join(stateDir(target), 'pre-rollback'));
  } catch {
    return [];
  }
  return names
    .map((name) => ({ name, m: PREVIOUS_NAME.exec(name) }))
    .filter((v): v is { name: string; m: RegExpExecArray } => v.m !== null)
    .sort((a, b) =>
      a.m[1] === b.m[1] ? Number(a.m[2] ?? 1) - Number(b.m[2] ?? 1) : a.m[1]! < b.m[1]! ? -1 : 1,
    )
    .map((v) => v.name);
}

/** The previous versions `prunePreviousVersions(target, keep, spare)` would delete, oldest
 *  first: all but the newest `keep`, never `spare` (the version a restore just made, which
 *  neither counts nor goes, even if a clock set back gave it an older name). */
export function previousVersionsBeyond(target: string, keep: number, spare?: string): string[] {
  const kept = keptPreviousVersions(target).filter((name) => name !== spare);
  return kept.slice(0, Math.max(0, kept.length - keep));
}

/** Bytes `paths` hold on disk (allocated blocks; symlinks not followed), or undefined when a part
 *  cannot be read. Hand-written: a du of a few trees, no library needed for it. */
export function diskUsage(paths: string[]): number | undefined {
  let total = 0;
  const walk = (path: string): void => {
    const s = lstatSync(path, { bigint: false });
    total += s.blocks * 512;
    if (s.isDirectory()) for (const name of readdirSync(path)) walk(join(path, name));
  };
  try {
    for (const path of paths) walk(path);
  } catch {
    return undefined;
  }
  return total;
}

/**
 * Deletes all but the newest `keep` previous versions of `target`, oldest first; the caller holds
 * the target's restore lock. Each is first renamed out of pre-rollback (to removing-<name> in the
 * state directory), so under its name a version is always whole: a kill -9 during the deletion
 * leaves removing-<name>, which the next restore's sweep deletes. One line per version: removed,
 * or why not (a failure never stops the restore: the space is the only thing lost).
 */
export function prunePreviousVersions(target: string, keep: number, spare?: string): string[] {
  const state = stateDir(target);
  const lines: string[] = [];
  for (const name of previousVersionsBeyond(target, keep, spare)) {
    const from = join(state, 'pre-rollback', name);
    const doomed = join(state, `${REMOVING}${name}`);
    try {
      renameSync(from, doomed);
      removeTree(doomed);
      lines.push(`removed previous version ${from}`);
    } catch (error) {
      const e = error as NodeJS.ErrnoException;
      lines.push(
        `could not remove previous version ${from} (${e.code ?? e.message}${e.path && e.path !== from ? ` at ${e.path}` : ''}); delete it by hand`,
      );
    }
  }
  return lines;
}

/** For commands that do not restore (backup): repairs an interrupted swap in `target` if there is
 *  one, taking the restore lock for it (a live restore there makes this throw LockBusyError). */
export function repairInterruptedSwap(target: string): string[] {
  if (!existsSync(join(stateDir(target), JOURNAL_FILE))) return [];
  const lock = lockTarget(target);
  try {
    return [...(lock.tookOver ? [lock.tookOver] : []), ...repairInterruptedSwapLocked(target)];
  } finally {
    lock.release();
    tidyStateDir(target);
  }
}

/** Removes the state directory's empty parts once a command is done (a target that was never
 *  rolled back keeps no trace; kept previous versions keep theirs). */
export function tidyStateDir(target: string): void {
  for (const dir of [join(stateDir(target), 'pre-rollback'), stateDir(target)]) {
    try {
      rmdirSync(dir);
    } catch {
      // not empty, or gone
    }
  }
}
