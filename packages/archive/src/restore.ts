// Verifying and restoring a backup. A restore either fully succeeds or leaves the live tree as it
// was: checksum, manifest and every entry are checked first, the tree is built in a staging
// directory inside the target's state directory, and only then are the backup's top-level roots
// swapped in (journaled, see swap.ts). Every other path of the target is left alone, and the
// previous version of each replaced root is kept under `.guarded-rollout/pre-rollback/<UTC>[-n]`.
import {
  accessSync,
  constants,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  rmSync,
  statSync,
  type Stats,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { ConfigError } from '@guarded-rollout/config/errors';
import { TOOL_NAME } from '@guarded-rollout/config/version';
import { formatDuration } from '@guarded-rollout/config/durations';
import {
  BackupIntegrityError,
  RestoreCancelledError,
  RestoreRefusedError,
  UnsafeArchiveError,
} from './errors.js';
import { extractPlan } from './extract.js';
import { HeapGuard } from './heapguard.js';
import { httpHealthProbe, waitForHealthStreak, type HealthProbe } from './health.js';
import {
  DEFAULT_OUT_DIR,
  DEFAULT_PREFIX,
  assertEnvironmentName,
  compactUtc,
  findLatestBackup,
  parseBackupFileName,
} from './naming.js';
import { describeCommandResult, runShellCommand } from './process.js';
import type { OpenArchive } from './read.js';
import { DEFAULT_CAPS, type ExtractionCaps, type ExtractionPlan, type PlannedEntry } from './safety.js';
import { PlanTable } from './plantable.js';
import { openVerified } from './verify.js';
import { formatBytes } from './units.js';
import { diskRoom, freeBytes } from './durable.js';
import { firstMountProblem } from './mounts.js';
import { describeFsError, fsErrorLine, isFsError, rootDenied, runsAsRoot } from './fserrors.js';
import { openEvidenceLog } from './logfile.js';
import { LockBusyError, type HeldLock } from './lock.js';
import {
  JOURNAL_FILE,
  SwapIncompleteError,
  lockTarget,
  repairInterruptedSwapLocked,
  stateDir,
  swapRoots,
  tidyStateDir,
  sweepStaging,
  uniqueDirectory,
  firstFreeIndex,
  KEEP_PREVIOUS_MAX,
  keptPreviousVersions,
  previousVersionsBeyond,
  prunePreviousVersions,
  diskUsage,
} from './swap.js';

async function withOpened<T>(archive: OpenArchive, body: (archive: OpenArchive) => Promise<T>): Promise<T> {
  try {
    return await body(archive);
  } finally {
    archive.close();
  }
}

/** At most what staging `plan` takes on a disk of `blockSize` blocks: every file rounded up to
 *  whole blocks, a block for each directory and symlink, and 2 % + 1 MiB over that (directory
 *  growth, metadata). --keep-previous deletes before staging when the free space is below it. */
function stagingFootprint(plan: ExtractionPlan, blockSize: number): number {
  const block = Math.max(512, blockSize);
  let bytes = 0;
  for (const e of plan.entries) bytes += e.type === 'file' ? Math.ceil(fileBytes(e) / block) * block : block;
  return Math.ceil(bytes * 1.02) + 1024 * 1024;
}

/** What file `e` takes once restored: its size, or for a sparse file (manifest `allocated`, which
 *  the restore's holes reproduce) what it took when backed up; nothing for a hard link of an
 *  earlier entry (the restore links it). */
const fileBytes = (e: PlannedEntry): number =>
  e.manifest?.hardlink !== undefined ? 0 : Math.min(e.size, e.manifest?.allocated ?? e.size);

/** Bytes the files of `plan` take once restored (the free-disk check's need). */
function bytesOnDisk(plan: ExtractionPlan): number {
  let bytes = 0;
  for (const e of plan.entries) if (e.type === 'file') bytes += fileBytes(e);
  return bytes;
}

/** "keep-previous N: 2 older previous versions deleted<when>", then one line per version. */
function logPruned(
  log: { line: (...lines: string[]) => void },
  label: string,
  lines: string[],
  when = '',
): void {
  const deleted = lines.filter((line) => line.startsWith('removed ')).length;
  log.line(
    `${label}: ${lines.length ? `${deleted} older previous version${deleted === 1 ? '' : 's'} deleted${deleted < lines.length ? `, ${lines.length - deleted} could not be` : ''}${when}` : 'no previous version to delete'}`,
    ...lines.map((line) => `  ${line}`),
  );
}

/** For a full disk: the previous versions earlier rollbacks kept (all of them unless
 *  --keep-previous) may be what filled it. */
function keptVersionsHint(target: string, keepPrevious?: number, deferred = false): string {
  const kept = join(stateDir(target), 'pre-rollback');
  const count = keptPreviousVersions(target).length;
  if (!count) return '';
  const what = `; ${count} previous version${count === 1 ? '' : 's'} kept by earlier rollbacks ${count === 1 ? 'is' : 'are'} in ${kept}`;
  if (keepPrevious === undefined)
    return `${what} (run again with --keep-previous N to keep only the newest N, this rollback's included, or delete those you no longer need)`;
  return deferred
    ? `${what} (--keep-previous ${keepPrevious} had not deleted any: it does so before staging only when the free space looks short, and it looked enough, so something else may be filling the disk; delete those you no longer need)`
    : `${what} (kept by --keep-previous ${keepPrevious}: lower it, or delete those you no longer need)`;
}

export interface HealthSettings {
  required?: number;
  intervalMs?: number;
  timeoutMs?: number;
  deadlineMs?: number;
}

export interface RestoreOptions {
  environment: string;
  /** The backup zip; or set `latest` to pick the newest complete backup of the environment. */
  backupPath?: string;
  latest?: boolean;
  /** Where `latest` looks (default `backups`). */
  backupDir?: string;
  prefix?: string;
  /** The live directory to replace. */
  target: string;
  /** Skips confirmations (the environment check), never an integrity check. */
  force?: boolean;
  /** Keep at most this many previous versions of the target, the one this restore makes
   *  included (at least 1): older ones are deleted, oldest first, once the swap is done; before
   *  staging only when the free space may be short without theirs (then it counts for the
   *  free-disk check), and never when even theirs would not make the room. A restore that fails
   *  or is refused otherwise deletes none. Unset: every previous version is kept. */
  keepPrevious?: number;
  dryRun?: boolean;
  restartCommand?: string;
  restartTimeoutMs?: number;
  healthUrl?: string;
  health?: HealthSettings;
  smokeCommand?: string;
  smokeTimeoutMs?: number;
  caps?: Partial<ExtractionCaps>;
  verifyFileHashes?: boolean;
  /** Directory for rollback.log / rollback-dryrun.log (default `cwd`). */
  logDir?: string;
  cwd?: string;
  now?: () => Date;
  /** Injected for tests: clock, sleep and probe of the health loop. */
  clock?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  probe?: HealthProbe;
  /** A cancel (Ctrl-C, the runner's). Before the swap it stops the restore at its next entry:
   *  staging removed, the live tree untouched, status `refused`. The swap itself is never cut
   *  short. After it, the restart and smoke commands' process groups are stopped and the health
   *  checks end: status `failed` ("restored, but ... cancelled"), with how to undo. */
  signal?: AbortSignal;
}

/** `restored-unverified`: restored, but no health check ran, so nothing shows the service works. */
export type RestoreStatus = 'succeeded' | 'restored-unverified' | 'failed' | 'refused' | 'dry-run';

export interface RestoreResult {
  status: RestoreStatus;
  restoredFrom: string;
  verified: boolean;
  healthChecksOk: number;
  /** Where the replaced tree was kept (undo with two renames). */
  previousTree?: string;
  message: string;
  logPath: string;
  /** What the swap put in place, every file's SHA256 checked against the manifest while it was
   *  written (absent when verifyFileHashes was off): the deployed-tree record is built from it
   *  instead of reading the restored tree back. */
  restored?: RestoredTree;
}

export interface RestoredTree {
  /** Top-level names inside the target that the restore replaced. */
  roots: string[];
  /** What the restore wrote, each file checked against the verified manifest. */
  table: PlanTable;
  /** When staging ended (`Date.now()`): a restored file changed later was changed by someone else. */
  stagedAtMs: number;
}

/** Resolves which backup to restore; usage problems throw ConfigError (exit 2). */
export function resolveBackupPath(
  options: Pick<RestoreOptions, 'backupPath' | 'latest' | 'backupDir' | 'prefix' | 'environment' | 'cwd'>,
): string {
  const cwd = resolve(options.cwd ?? process.cwd());
  if (options.backupPath && options.latest)
    throw new ConfigError('give either a backup path or "latest", not both', { field: 'backup' });
  if (options.backupPath) return resolve(cwd, options.backupPath);
  if (!options.latest)
    throw new ConfigError('no backup chosen: give a backup path (--backup ZIP) or --latest', {
      field: 'backup',
    });
  const dir = resolve(cwd, options.backupDir ?? DEFAULT_OUT_DIR);
  const found = findLatestBackup(dir, options.environment, options.prefix ?? DEFAULT_PREFIX);
  if (!found)
    throw new BackupIntegrityError(
      noBackupMessage(dir, options.environment, options.prefix ?? DEFAULT_PREFIX),
    );
  return found;
}

/** "no complete backup of X in DIR", naming the environments that do have backups there. */
export function noBackupMessage(dir: string, env: string, prefix: string): string {
  let others: string[] = [];
  try {
    const names = readdirSync(dir);
    others = [
      ...new Set(
        names
          .map(parseBackupFileName)
          .filter((n) => n && n.prefix === prefix && names.includes(`${n.file}.sha256`))
          .map((n) => n!.environment),
      ),
    ];
  } catch {
    // directory missing: say so below
  }
  return `no complete backup of environment "${env}" in ${dir}${existsSync(dir) ? '' : ' (the directory does not exist)'}${others.length ? `; environments with backups there: ${others.sort().join(', ')}` : ''}`;
}

/** Why this user cannot move the live root `name` of `target` aside (the swap renames it into the
 *  state directory), or undefined. Checked before staging, so a refusal changes nothing. */
function unmovable(target: string, name: string): string | undefined {
  const live = join(target, name);
  let st: Stats;
  try {
    st = lstatSync(live);
  } catch {
    return undefined; // not there: nothing to move
  }
  const fix = `run as a user that can (its owner or root), or fix its mode; nothing was changed`;
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  // Moving a directory to another parent rewrites its "..": it must be writable too.
  for (const dir of st.isDirectory() ? [target, live] : [target]) {
    try {
      accessSync(dir, constants.W_OK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EACCES' && code !== 'EPERM')
        return `cannot replace ${live}: ${describeFsError(error, 'write')}; nothing was changed`;
      const aside = `the restore moves it aside into ${join(stateDir(target), 'pre-rollback')}`;
      if (uid === 0)
        return `cannot replace ${live}: ${dir} is not writable even for root: ${rootDenied('it')}; ${aside}; nothing was changed`;
      return `cannot replace ${live}: permission denied: ${aside}, which needs write permission on ${st.isDirectory() ? `${live} and ` : ''}${target}; ${fix}`;
    }
  }
  if (uid !== undefined && uid !== 0 && st.uid !== uid) {
    const t = statSync(target);
    if (t.mode & 0o1000 && t.uid !== uid)
      return `cannot replace ${live}: ${target} has the sticky bit and ${live} belongs to uid ${st.uid}, so only its owner can move it; ${fix}`;
  }
  return undefined;
}

/** The top-level names a backup holds: exactly what a restore replaces inside its target. */
export function backupRoots(plan: ExtractionPlan): string[] {
  return [...new Set(plan.entries.map((p) => p.path.split('/')[0]!))].sort();
}

/** Verifies, stages, swaps, restarts and health-checks. Refusals and failures are returned (and
 *  logged), not thrown; only usage errors throw. */
export async function restoreBackup(options: RestoreOptions): Promise<RestoreResult> {
  const environment = assertEnvironmentName(options.environment);
  const cwd = resolve(options.cwd ?? process.cwd());
  const target = resolve(cwd, options.target);
  const now = options.now ?? (() => new Date());
  const kind = options.dryRun ? 'rollback-dryrun' : 'rollback';
  const logPath = join(resolve(cwd, options.logDir ?? '.'), `${kind}.log`);
  const caps = { ...DEFAULT_CAPS, ...options.caps };
  if (!existsSync(dirname(target)))
    throw new ConfigError(`target: the parent directory of ${target} does not exist`, { field: 'target' });
  if (existsSync(target) && !statSync(target).isDirectory())
    throw new ConfigError(`target: ${target} is not a directory`, { field: 'target' });
  const keepPrevious = options.keepPrevious;
  if (
    keepPrevious !== undefined &&
    (!Number.isInteger(keepPrevious) || keepPrevious < 1 || keepPrevious > KEEP_PREVIOUS_MAX)
  )
    throw new ConfigError(
      `keep-previous: ${JSON.stringify(keepPrevious)} is not a whole number from 1 to ${KEEP_PREVIOUS_MAX} (how many previous versions of the target to keep, this rollback's included)`,
      { field: 'keep-previous' },
    );

  const log = openEvidenceLog(logPath, { kind, tool: `${TOOL_NAME} rollback`, environment, now });
  let restoredFrom = options.backupPath ? resolve(cwd, options.backupPath) : '';
  let verified = false;
  let healthChecksOk = 0;
  let previousTree: string | undefined;
  let restored: RestoredTree | undefined;
  const finish = (status: RestoreStatus, message: string): RestoreResult => {
    log.finish(status === 'succeeded' || status === 'dry-run' ? 'pass' : 'fail', message, {
      environment,
      outcome: status,
      restored_from: restoredFrom,
      verified,
      health_checks_ok: healthChecksOk,
      target,
      previous_tree: previousTree ?? null,
    });
    return {
      status,
      restoredFrom,
      verified,
      healthChecksOk,
      ...(previousTree ? { previousTree } : {}),
      message,
      logPath,
      ...(restored ? { restored } : {}),
    };
  };

  // 1-3: choose, verify and validate. Nothing is written outside the log until all of it passes.
  let lock: HeldLock | undefined;
  let staging: string | undefined;
  /** Where this restore's previous-version names start (set when it deletes older versions). */
  let previousFrom: number | undefined;
  /** --keep-previous deletes older versions once the swap is done (the room was enough). */
  let pruneAfterSwap = false;
  let roots: string[] = [];
  try {
    if (!options.dryRun) {
      // One restore of a target at a time; an interrupted one is finished before anything else.
      mkdirSync(target, { recursive: false, mode: 0o755 });
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      const message = `target: ${isFsError(error) ? fsErrorLine(error, 'write') : (error as Error).message}; create ${target} first, or run as a user that can write to ${dirname(target)}; nothing was changed`;
      log.line(`REFUSED: ${message}`);
      finish('refused', message);
      throw new ConfigError(message, { field: 'target' });
    }
  }
  try {
    if (!options.dryRun) {
      try {
        lock = lockTarget(target, now);
      } catch (error) {
        if (!isFsError(error)) throw error;
        throw new RestoreRefusedError(
          `${fsErrorLine(error, 'write')}; a restore keeps its lock, staging and the previous versions in ${stateDir(target)}, so it must be able to write to ${target}${runsAsRoot() ? '' : ': run as its owner, or fix its mode'}`,
        );
      }
      for (const note of [
        ...(lock.tookOver ? [lock.tookOver] : []),
        ...repairInterruptedSwapLocked(target),
        ...sweepStaging(target),
      ])
        log.line(`note: ${note}`);
    }
    restoredFrom = resolveBackupPath({ ...options, cwd });
    log.line(`backup: ${restoredFrom}`, `target: ${target}`);
    const verifiedArchive = await openVerified(restoredFrom, caps, true, options.signal);
    if (options.signal?.aborted) {
      verifiedArchive.archive.close();
      throw new RestoreCancelledError('cancelled before the swap');
    }
    log.line(`checksum: OK (sha256 ${verifiedArchive.sha256} matches ${restoredFrom}.sha256)`);
    const stamp = compactUtc(now());
    await withOpened(verifiedArchive.archive, async (archive) => {
      const { manifest, plan } = verifiedArchive;
      roots = backupRoots(plan);
      log.line(
        `manifest: environment ${manifest.environment}, version ${manifest.version ?? '-'}, commit ${manifest.commit ?? '-'}, created ${manifest.createdAt} by ${manifest.tool} ${manifest.toolVersion}`,
        `entries: ${plan.files} files, ${plan.directories} directories, ${plan.symlinks} symlinks, ${formatBytes(plan.totalBytes)}; every name, link and size checked`,
        `roots replaced inside the target: ${roots.join(', ') || '(none)'}; every other path of ${target} is left as it is`,
      );
      if (manifest.environment !== environment) {
        if (!options.force) {
          throw new UnsafeArchiveError(
            `backup ${basename(restoredFrom)} belongs to environment "${manifest.environment}", not "${environment}"; pass --force to restore it anyway`,
          );
        }
        log.line(
          `environment: backup is from "${manifest.environment}", restoring into "${environment}" because --force was given`,
        );
      }
      // Before anything is staged or deleted: every live root it replaces must be movable by this
      // user, and none may be, or hold, a mount point (mounts.ts).
      const stuck =
        roots.map((name) => unmovable(target, name)).find((why) => why !== undefined) ??
        firstMountProblem(target, roots);
      if (stuck) throw new RestoreRefusedError(stuck);
      const disk = existsSync(target) ? target : dirname(target);
      const room = diskRoom(disk);
      // Sparse files count for what they took on disk when backed up (they are restored with holes).
      const needBytes = bytesOnDisk(plan);
      const sparse = plan.entries.filter((e) => e.type === 'file' && e.manifest?.allocated !== undefined);
      if (sparse.length)
        log.line(
          `sparse: ${sparse.length} file${sparse.length === 1 ? '' : 's'} (${formatBytes(sparse.reduce((n, e) => n + e.size, 0))}) took ${formatBytes(sparse.reduce((n, e) => n + fileBytes(e), 0))} on disk when backed up; restored with holes where whole blocks are zero`,
        );
      const linked = plan.entries.filter((e) => e.manifest?.hardlink !== undefined).length;
      if (linked)
        log.line(
          `hard links: ${linked} path${linked === 1 ? ' is' : 's are'} restored as ${linked === 1 ? 'a link' : 'links'} of another file of the backup, as backed up (no copies)`,
        );
      let prunedForRoom = false;
      if (keepPrevious !== undefined) {
        // Room for the version this restore keeps: the newest keepPrevious - 1 stay. They are
        // deleted after the swap, so a restore that fails or is refused loses none; before staging
        // only when the disk may be too short without their space (then the free-disk check below
        // counts it), and not at all when even their space would not be enough.
        const doomed = previousVersionsBeyond(target, keepPrevious - 1);
        const needs = room ? stagingFootprint(plan, room.blockSize) : 0;
        const roomy = !room || (room.bytes >= needs && (room.inodes ?? Infinity) >= plan.entries.length);
        const what = `${doomed.length} older previous version${doomed.length === 1 ? '' : 's'}`;
        if (!doomed.length) {
          log.line(`keep-previous ${keepPrevious}: no previous version to delete`);
        } else if (options.dryRun) {
          log.line(
            `keep-previous ${keepPrevious}: would delete ${what}: ${doomed.map((name) => join(stateDir(target), 'pre-rollback', name)).join(', ')} (${roomy ? 'after the swap' : 'before staging, for room'})`,
          );
        } else if (roomy || !room) {
          pruneAfterSwap = true;
        } else {
          const freed = diskUsage(doomed.map((name) => join(stateDir(target), 'pre-rollback', name)));
          if (freed !== undefined && room.bytes + freed < needBytes)
            throw new UnsafeArchiveError(
              `not enough free disk in ${target}: the restore needs ${formatBytes(needBytes)}, ${formatBytes(room.bytes)} is free, and deleting the ${what} --keep-previous ${keepPrevious} allows would free only ${formatBytes(freed)}, so none was deleted${keepPrevious > 1 ? ' (a lower --keep-previous deletes more)' : ''}; free some space there`,
            );
          // This restore's name is taken past every one in use first: a version deleted now
          // never lends it its name.
          previousFrom = firstFreeIndex(join(stateDir(target), 'pre-rollback'), stamp);
          prunedForRoom = true;
          logPruned(
            log,
            `keep-previous ${keepPrevious}`,
            prunePreviousVersions(target, keepPrevious - 1),
            ` before staging, for room (${formatBytes(room.bytes)} free, the restore takes up to ${formatBytes(needs)})`,
          );
        }
      }
      const free = prunedForRoom ? freeBytes(disk) : room?.bytes;
      if (free !== undefined && free < needBytes) {
        throw new UnsafeArchiveError(
          `not enough free disk in ${target}: the restore needs ${formatBytes(needBytes)}, ${formatBytes(free)} is free${keptVersionsHint(target, keepPrevious)}`,
        );
      }
      const state = stateDir(target);
      // From here on only the table: the per-entry objects are released (plantable.ts). What
      // reading and planning left (the manifest's lines, the central directory's blocks) is
      // collected first: on 100,000 entries the table was otherwise built on top of it (peak
      // RSS 165 -> 150 MiB on Node 20).
      new HeapGuard().collectGarbage(plan.entries.length);
      const table = new PlanTable(plan);
      archive.entries = [];
      manifest.entries = [];
      plan.entries = [];
      if (options.dryRun) {
        await extractPlan(archive, table, {
          verifyFileHashes: options.verifyFileHashes ?? true,
          ...(options.signal ? { signal: options.signal } : {}),
        });
        verified = true;
        log.line(
          'every entry: CRC-32, size and SHA256 OK',
          '',
          'plan (nothing changed):',
          `  1. extract into ${join(state, `staging-${stamp}-<pid>`)}`,
          `  2. for each root (${roots.join(', ')}): move ${target}/<root> (if present) to ${join(state, 'pre-rollback', stamp)}/<root>, then the staged root into ${target}; journal ${join(state, JOURNAL_FILE)}`,
          `  3. restart: ${options.restartCommand ?? 'none configured'}`,
          `  4. health: ${options.healthUrl ? `${options.health?.required ?? 3} consecutive OK checks of ${options.healthUrl}` : 'no health URL configured'}`,
          `  5. smoke: ${options.smokeCommand ?? 'none configured'}`,
        );
        return;
      }
      // 4: extract into staging inside the target's state directory (same filesystem: renames).
      staging = join(state, `staging-${stamp}-${process.pid}`);
      await extractPlan(archive, table, {
        destination: staging,
        verifyFileHashes: options.verifyFileHashes ?? true,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      // The last point a cancel stops it: the swap below runs to its end.
      if (options.signal?.aborted) throw new RestoreCancelledError('cancelled before the swap');
      verified = true;
      const stagedAtMs = Date.now(); // every staged file's last change is before this (real clock)
      log.line(`staged: ${staging} (every entry's CRC-32, size and SHA256 OK)`);
      const previous = uniqueDirectory(join(state, 'pre-rollback'), stamp, previousFrom);
      swapRoots({
        format: 'guarded-rollout-swap/1',
        target,
        staging,
        previous,
        roots: roots.map((name) => ({ name, hadLive: existsSync(join(target, name)) })),
        startedAt: now().toISOString(),
      });
      staging = undefined;
      if (options.verifyFileHashes ?? true) restored = { roots, table, stagedAtMs };
      if (existsSync(previous)) previousTree = previous;
      log.line(
        `swapped: ${roots.join(', ')} in ${target} now hold the backup${previousTree ? `; their previous versions are kept in ${previousTree}` : ''}`,
      );
      if (pruneAfterSwap) {
        // The swap is done: the older versions go now (the one just made neither counts nor goes).
        const made = previousTree && basename(previousTree);
        logPruned(
          log,
          `keep-previous ${keepPrevious}`,
          prunePreviousVersions(target, keepPrevious! - (made ? 1 : 0), made),
        );
      }
    });
  } catch (error) {
    // A swap that could not be undone keeps its staging tree: the journal finishes it next run.
    if (staging && !(error instanceof SwapIncompleteError)) rmSync(staging, { recursive: true, force: true });
    lock?.release();
    if (lock) tidyStateDir(target);
    if (error instanceof LockBusyError) {
      log.line(`REFUSED: ${error.message}`);
      return finish('refused', error.message);
    }
    if (error instanceof RestoreCancelledError) {
      const message = `${options.dryRun ? 'dry run' : 'restore'} cancelled before the swap${staging ? '; its staging was removed' : ''}; the live tree ${target} was not changed`;
      log.line(`CANCELLED: ${message}`);
      return finish('refused', message);
    }
    if (
      error instanceof BackupIntegrityError ||
      error instanceof UnsafeArchiveError ||
      error instanceof RestoreRefusedError
    ) {
      log.line(`REFUSED: ${error.message}`, `the live tree ${target} was not changed`);
      return finish('refused', error.message);
    }
    if (error instanceof ConfigError) {
      log.line(`REFUSED: ${error.message}`);
      finish('refused', error.message);
      throw error;
    }
    let message = isFsError(error) ? fsErrorLine(error, 'write') : (error as Error).message;
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'ENOSPC' || code === 'EDQUOT')
      message += keptVersionsHint(target, keepPrevious, pruneAfterSwap);
    log.line(
      `FAILED: ${message}`,
      error instanceof SwapIncompleteError
        ? `the swap of ${target} is journaled and is finished by the next restore or backup of it`
        : `the live tree ${target} was not changed`,
    );
    return finish('failed', `restore failed: ${message}`);
  }
  lock?.release();
  if (lock) tidyStateDir(target);
  if (options.dryRun)
    return finish('dry-run', `verified ${basename(restoredFrom)}; would restore it into ${target}`);

  const undo = previousTree
    ? ` The previous versions of ${roots.join(', ')} are kept in ${previousTree}; to undo, move them back into ${target}.`
    : '';
  // 5: restart, health streak, smoke.
  if (options.restartCommand) {
    const timeoutMs = options.restartTimeoutMs ?? 120_000;
    const r = await runShellCommand(options.restartCommand, {
      cwd,
      timeoutMs,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    log.line(
      `restart: ${options.restartCommand} ${r.ok ? 'OK' : describeCommandResult(r, timeoutMs)} (${formatDuration(r.durationMs)})`,
      ...(r.outputTail ? [`  output: ${r.outputTail.trim()}`] : []),
    );
    if (!r.ok)
      return finish(
        'failed',
        `restored, but the restart command ${describeCommandResult(r, timeoutMs)}.${undo}`,
      );
  }
  if (options.healthUrl || options.probe) {
    const h = options.health ?? {};
    const result = await waitForHealthStreak({
      probe: options.probe ?? httpHealthProbe(options.healthUrl!),
      ...(h.required !== undefined ? { required: h.required } : {}),
      ...(h.intervalMs !== undefined ? { intervalMs: h.intervalMs } : {}),
      ...(h.timeoutMs !== undefined ? { timeoutMs: h.timeoutMs } : {}),
      ...(h.deadlineMs !== undefined ? { deadlineMs: h.deadlineMs } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.sleep ? { sleep: options.sleep } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      onCheck: (c) =>
        log.line(
          `health check ${c.attempt} at +${c.atMs} ms: ${c.ok ? 'OK' : 'FAIL'} (${c.detail}); streak ${c.streak}`,
        ),
    });
    healthChecksOk = result.streak;
    if (!result.ok) return finish('failed', `restored, but ${result.reason}.${undo}`);
    log.line(`health: ${result.reason}`);
  } else {
    log.line('health: no health URL configured; skipped');
  }
  if (options.smokeCommand) {
    const timeoutMs = options.smokeTimeoutMs ?? 300_000;
    const r = await runShellCommand(options.smokeCommand, {
      cwd,
      timeoutMs,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    log.line(
      `smoke: ${options.smokeCommand} ${r.ok ? 'OK' : describeCommandResult(r, timeoutMs)}`,
      ...(r.outputTail ? [`  output: ${r.outputTail.trim()}`] : []),
    );
    if (!r.ok)
      return finish(
        'failed',
        `restored, but the smoke command ${describeCommandResult(r, timeoutMs)}.${undo}`,
      );
  }
  // Never `succeeded` without the required consecutive OK health checks.
  if (!options.healthUrl && !options.probe)
    return finish(
      'restored-unverified',
      `restored ${basename(restoredFrom)} into ${target}, but NOT verified: no health URL was configured, so no health check ran (give --health-url)`,
    );
  return finish(
    'succeeded',
    `restored ${basename(restoredFrom)} into ${target} and saw ${healthChecksOk} consecutive OK health checks`,
  );
}
