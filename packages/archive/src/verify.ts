// Checking a backup without writing anything: its .sha256, central directory, manifest and every
// entry's safety (and, deep, every entry's CRC-32 and SHA256). Its own module, apart from
// restore.ts, so `guarded-rollout verify-backup` loads only what a check reads: not the backup
// walk (tinyglobby), the evidence log, the health checks or the swap.
import { extractPlan } from './extract.js';
import { RestoreCancelledError } from './errors.js';
import { HeapGuard, LARGE_ENTRIES } from './heapguard.js';
import { MANIFEST_ENTRY, type BackupManifest } from './manifest.js';
import {
  openArchive,
  readManifest,
  readSmallEntry,
  verifyChecksum,
  type ArchiveEntry,
  type OpenArchive,
} from './read.js';
import { DEFAULT_CAPS, planExtraction, type ExtractionCaps, type ExtractionPlan } from './safety.js';
import { locateCentralDirectory, type CentralDirectoryLocation } from './zipread.js';
import { PlanTable } from './plantable.js';

export { formatBytes } from './units.js';
export { holdYoungGeneration } from './heapguard.js';

export interface VerifyOptions {
  /** Also inflate every entry and check CRC-32, size and manifest SHA256 (default true). */
  deep?: boolean;
  caps?: Partial<ExtractionCaps>;
  /** A cancel stops the check at its next look (RestoreCancelledError): the checksum's thread at
   *  once, the deep check within 32 MiB. */
  signal?: AbortSignal;
}

export interface VerifyResult {
  path: string;
  sha256: string;
  manifest: BackupManifest;
  plan: ExtractionPlan;
}

async function readLinkTargets(archive: OpenArchive): Promise<Map<ArchiveEntry, string>> {
  const targets = new Map<ArchiveEntry, string>();
  for (const e of archive.entries) {
    if (e.type === 'symlink') targets.set(e, (await readSmallEntry(archive, e, 4096)).toString('utf8'));
  }
  return targets;
}

async function inspect(
  zipPath: string,
  archive: OpenArchive,
  caps: ExtractionCaps,
): Promise<{ manifest: BackupManifest; plan: ExtractionPlan }> {
  const manifest = await readManifest(archive, zipPath);
  // The peak of a restore and of a verify is planning (a restore's extraction runs on the
  // table): the manifest's lines (~15 MB at 100,000 entries), promoted as they were parsed, are
  // collected first, or were still there in some runs and not others (a 100,000-entry verify on
  // Node 24 peaked anywhere from 141 to 166 MiB). From 32,768 entries on (collectGarbage), for
  // ~0.08 s.
  if (manifest.entries.length >= LARGE_ENTRIES) {
    shareNames(archive, manifest);
    new HeapGuard().collectGarbage(manifest.entries.length);
  }
  const plan = planExtraction(archive.entries, manifest, await readLinkTargets(archive), {
    caps,
    source: zipPath,
  });
  return { manifest, plan };
}

/** Gives each manifest entry the central directory's string for its path when the two are equal,
 *  before the collection that precedes planning, which then frees the manifest's copies (~4 MB
 *  at 100,000 entries; planning shares them too, but only after its peak). Both lists are in
 *  archive order in the tool's backups; at the first entry out of step it stops. */
function shareNames(archive: OpenArchive, manifest: BackupManifest): void {
  const entries = manifest.entries;
  let k = 0;
  for (const e of archive.entries) {
    const m = entries[k];
    if (m === undefined) return;
    if (m.path === e.name) m.path = e.name;
    else if (e.name !== `${m.path}/`) {
      if (e.name === MANIFEST_ENTRY) continue;
      return;
    }
    k++;
  }
}

/** A restore of this many entries or more hashes its archive on the main thread first, not on a
 *  worker thread while it reads the archive's tables: its peak is its planning, and a finished
 *  thread leaves memory behind (its allocator's arena: at 100,000 entries on Node 24 the peak
 *  went 149-150 -> 142-143 MiB this way, for ~0.2 s more of a ~3.7 s restore). Verify keeps the
 *  thread: there the time is the point (it reads no file data). */
const HASH_HERE_ENTRIES = LARGE_ENTRIES;

/** The archive's central directory, found once for a restore (it decides where to hash and is
 *  then read from the same descriptor), or undefined when it cannot be: openArchive finds it
 *  again then and reports why, after the checksum. */
function locatedForRestore(zipPath: string, caps: ExtractionCaps): CentralDirectoryLocation | undefined {
  try {
    return locateCentralDirectory(zipPath, caps.maxEntries);
  } catch {
    return undefined; // reported by the checksum and the structure checks, in that order
  }
}

/** Verifies the checksum and reads the structure at once: the archive is hashed (on a worker
 *  thread when large) while its central directory, manifest and entries are checked here. A
 *  checksum failure is reported first. The caller closes the archive. `restoring`: a restore of many entries hashes on
 *  this thread first (see HASH_HERE_ENTRIES). */
export async function openVerified(
  zipPath: string,
  caps: ExtractionCaps,
  restoring = false,
  signal?: AbortSignal,
): Promise<{ sha256: string; archive: OpenArchive; manifest: BackupManifest; plan: ExtractionPlan }> {
  let threadReady!: () => void;
  const ready = new Promise<void>((resolveReady) => (threadReady = resolveReady));
  const location = restoring ? locatedForRestore(zipPath, caps) : undefined;
  const checksum = verifyChecksum(zipPath, threadReady, (location?.count ?? 0) >= HASH_HERE_ENTRIES, signal);
  checksum.catch(() => undefined); // awaited below, whatever happens
  void checksum.then(threadReady, threadReady); // hashed on this thread, or failed: nothing to wait for
  let opened;
  try {
    const archive = await openArchive(zipPath, caps.maxEntries, ready, location);
    try {
      await stillWanted(zipPath, signal);
      opened = { archive, ...(await inspect(zipPath, archive, caps)) };
      await stillWanted(zipPath, signal);
    } catch (error) {
      archive.close();
      throw error;
    }
  } catch (error) {
    // An altered archive is reported as altered, not as the damage it causes; a cancel at once.
    if (!(error instanceof RestoreCancelledError)) await checksum;
    throw error;
  }
  try {
    return { sha256: await checksum, ...opened };
  } catch (error) {
    opened.archive.close();
    throw error;
  }
}

/** With a `signal`: one turn of the event loop (a signal handler runs in it), then a cancel since
 *  is honoured (RestoreCancelledError). Reading a large archive's tables takes seconds at a
 *  million entries with no turn of its own. */
async function stillWanted(zipPath: string, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return;
  await new Promise((turn) => setImmediate(turn));
  if (signal.aborted) throw new RestoreCancelledError(`cancelled while ${zipPath} was read`);
}

/** Checks a backup end to end without writing anything: `.sha256`, structure, manifest, entry
 *  safety and (deep) every entry's CRC-32 and SHA256. Throws BackupIntegrityError/UnsafeArchiveError. */
export async function verifyBackup(zipPath: string, options: VerifyOptions = {}): Promise<VerifyResult> {
  const caps = { ...DEFAULT_CAPS, ...options.caps };
  const { sha256, archive, manifest, plan } = await openVerified(zipPath, caps, false, options.signal);
  try {
    if (options.deep ?? true)
      await extractPlan(archive, new PlanTable(plan), options.signal ? { signal: options.signal } : {});
    return { path: zipPath, sha256, manifest, plan };
  } finally {
    archive.close();
  }
}
