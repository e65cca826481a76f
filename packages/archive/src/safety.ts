// The rules every archive entry must pass before a single byte is written: no way out of the
// target (traversal, absolute paths, drive letters, backslashes, NUL, escaping or shadowing
// symlinks), no two entries landing on the same file, no zip bomb (entry count, total bytes,
// declared sizes), and agreement with the manifest. Pure: entries in, plan or refusal out.
import { posix } from 'node:path';
import { BackupIntegrityError, UnsafeArchiveError } from './errors.js';
import { MANIFEST_ENTRY, type BackupManifest, type ManifestEntry } from './manifest.js';
import type { ArchiveEntry } from './read.js';

export interface ExtractionCaps {
  maxEntries: number;
  maxTotalBytes: number;
  /** Ignored (kept so existing callers compile): a ratio heuristic refused real data (zero-filled
   *  files) and let a crafted archive through; sizes come from the checksummed manifest instead. */
  maxRatio?: number;
  ratioFloorBytes?: number;
}

/** The target's state directory (swap.ts); no backup holds it and no archive may write to it. */
export const RESERVED_STATE_DIR = '.guarded-rollout';

// Bomb protection: every entry's size is declared in the central directory AND in the manifest
// (both under the verified .sha256), they must agree, inflation stops at the declared size, the
// declared total must fit the free disk, and overlapping entries are refused (zipread.ts). The
// caps below only bound memory for the listing; every backup the tool writes is within them.
export const DEFAULT_CAPS: ExtractionCaps = {
  maxEntries: 10_000_000,
  maxTotalBytes: Number.MAX_SAFE_INTEGER,
};

const WINDOWS = process.platform === 'win32';

/** The longest name one path component may have: 255 bytes on Linux (ext4, xfs, btrfs, tmpfs),
 *  macOS and Windows alike. A longer one can never be created, so it is refused up front. */
export const NAME_MAX_BYTES = 255;

/** Why no file system can hold `path` (a component over NAME_MAX_BYTES), or undefined. */
export function nameTooLong(path: string): string | undefined {
  // A UTF-16 code unit is at most 3 UTF-8 bytes: a path this short holds no long component.
  if (path.length * 3 <= NAME_MAX_BYTES) return undefined;
  for (const part of path.split('/')) {
    const bytes = Buffer.byteLength(part, 'utf8');
    if (bytes <= NAME_MAX_BYTES) continue;
    const shown = part.length > 40 ? `${part.slice(0, 32)}…` : part;
    return `its name ${JSON.stringify(shown)} is ${bytes} bytes; file systems allow at most ${NAME_MAX_BYTES} bytes per path component, so it cannot be restored`;
  }
  return undefined;
}

export interface PlannedEntry {
  source: ArchiveEntry;
  /** Normalised relative path, "/"-separated. */
  path: string;
  type: ArchiveEntry['type'];
  mode: number;
  size: number;
  linkTarget?: string;
  manifest?: ManifestEntry;
}

export interface ExtractionPlan {
  entries: PlannedEntry[];
  files: number;
  directories: number;
  symlinks: number;
  totalBytes: number;
}

/** Why a symlink at `linkPath` (relative to the root) pointing to `target` could reach outside
 *  the root, or undefined when it cannot. Shared by backup (refuse early) and restore. */
export function unsafeLinkTarget(linkPath: string, target: string): string | undefined {
  const show = JSON.stringify(target);
  if (target === '' || target.includes('\0')) return `has an invalid target (${show})`;
  if (posix.isAbsolute(target) || /^[A-Za-z]:/.test(target) || target.includes('\\'))
    return `points outside the target (to ${show})`;
  const resolved = posix.normalize(posix.join(posix.dirname(linkPath), target));
  if (resolved === '..' || resolved.startsWith('../')) return `points outside the target (to ${show})`;
  // Lexical normalisation is only sound when ".." comes first: "s/../etc" normalises to "etc",
  // but if "s" is itself a link to "." the kernel resolves it to "../etc", outside the target.
  const segments = target.split('/').filter((seg) => seg !== '' && seg !== '.');
  const firstName = segments.findIndex((seg) => seg !== '..');
  if (firstName >= 0 && segments.slice(firstName).includes('..')) {
    return `has ".." after a name in its target (${show}), which can climb out through another link`;
  }
  return undefined;
}

/** Normalises an entry name or refuses it with the specific reason. */
// A name with no empty, "." or ".." segment and no leading or trailing "/" is already normal.
const NEEDS_NORMALISING = /(?:^|\/)\.{0,2}(?:\/|$)/;

export function normaliseEntryName(name: string, windows = WINDOWS): string {
  if (!windows && !name.includes('\0') && !NEEDS_NORMALISING.test(name)) return name;
  const show = JSON.stringify(name);
  if (name.includes('\0')) throw new UnsafeArchiveError(`entry ${show} contains a NUL byte`);
  // On Linux and macOS a backslash or "C:" is an ordinary character of one file name (and a
  // backup of such a name must restore); on Windows they are separators and drive letters.
  if (windows && name.includes('\\'))
    throw new UnsafeArchiveError(
      `entry ${show} contains a backslash, which Windows treats as a separator (backslash traversal)`,
    );
  if (windows && /^[A-Za-z]:/.test(name))
    throw new UnsafeArchiveError(`entry ${show} starts with a drive letter`);
  if (name.startsWith('/')) throw new UnsafeArchiveError(`entry ${show} is an absolute path`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new UnsafeArchiveError(`entry ${show} climbs out of the target with ".."`);
  if (parts.length === 0) throw new UnsafeArchiveError(`entry ${show} has no usable name`);
  // Names are kept exactly (an NFD name comes back NFD; NFC and NFD are two files on Linux).
  return parts.join('/');
}

/** Two names that would land on one file: exact bytes on Linux; macOS and Windows fold case and
 *  Unicode normalisation. */
function collisionKey(path: string, caseInsensitive: boolean): string {
  return caseInsensitive ? path.normalize('NFC').toLowerCase() : path;
}

/** Validates every entry and returns the extraction plan; throws on the first unsafe entry. */
export function planExtraction(
  entries: ArchiveEntry[],
  manifest: BackupManifest,
  linkTargets: Map<ArchiveEntry, string>,
  options: { caps?: Partial<ExtractionCaps>; caseInsensitive?: boolean; source?: string } = {},
): ExtractionPlan {
  const caps = { ...DEFAULT_CAPS, ...options.caps };
  const caseInsensitive =
    options.caseInsensitive ?? (process.platform === 'darwin' || process.platform === 'win32');
  const where = options.source ? `${options.source}: ` : '';
  if (entries.length > caps.maxEntries) {
    throw new UnsafeArchiveError(
      `${where}${entries.length} entries exceed the cap of ${caps.maxEntries} (max-entries); refusing a possible zip bomb`,
    );
  }
  // The tool writes the manifest in archive order, so entry i of the archive is matched with entry
  // i of the manifest by comparing two strings; a table of the manifest's paths is built only
  // when that breaks (a manifest written sorted, by an older version, or a crafted one).
  let byManifest: Map<string, ManifestEntry> | undefined;
  let inOrder = 0;
  const manifestEntryOf = (path: string): ManifestEntry | undefined => {
    if (!byManifest) {
      const next = manifest.entries[inOrder];
      if (next !== undefined && next.path === path) {
        inOrder++;
        // One string for both from here on: the manifest's equal copy is freed (~5 MB at
        // 100,000 entries).
        next.path = path;
        return next;
      }
      byManifest = new Map<string, ManifestEntry>();
      for (const e of manifest.entries) byManifest.set(e.path, e);
    }
    return byManifest.get(path);
  };
  // One table for collisions, the beneath-a-file check and the manifest cross-check (100,000
  // entries: each extra Map or Set of paths cost several MiB).
  const placed = new Map<string, PlannedEntry>();
  const planned: PlannedEntry[] = [];
  let totalBytes = 0;
  const count = { file: 0, directory: 0, symlink: 0 };
  for (const entry of entries) {
    if (entry.name === MANIFEST_ENTRY) continue;
    const name = entry.name; // quoted (JSON.stringify) only when a message needs it
    if (!entry.nameValid)
      throw new UnsafeArchiveError(
        `${where}entry ${JSON.stringify(name)} has a name that is not valid UTF-8`,
      );
    const path = normaliseEntryName(entry.name);
    const tooLong = nameTooLong(path);
    if (tooLong) throw new UnsafeArchiveError(`${where}entry ${JSON.stringify(name)}: ${tooLong}`);
    if (path === RESERVED_STATE_DIR || path.startsWith(`${RESERVED_STATE_DIR}/`))
      throw new UnsafeArchiveError(
        `${where}entry ${JSON.stringify(name)} would write into ${RESERVED_STATE_DIR}/, the restore's own state directory`,
      );
    if (entry.encrypted)
      throw new UnsafeArchiveError(
        `${where}entry ${JSON.stringify(name)} is encrypted; backups are never encrypted by this tool`,
      );
    if (entry.type !== 'directory' && entry.compressionMethod !== 0 && entry.compressionMethod !== 8) {
      throw new UnsafeArchiveError(
        `${where}entry ${JSON.stringify(name)} uses compression method ${entry.compressionMethod}; only stored (0) and deflate (8) are accepted`,
      );
    }
    const key = collisionKey(path, caseInsensitive);
    const previous = placed.get(key);
    if (previous !== undefined) {
      throw new UnsafeArchiveError(
        `${where}entry ${JSON.stringify(name)} collides with ${JSON.stringify(previous.source.name)} after normalisation (both would write ${JSON.stringify(path)})`,
      );
    }
    totalBytes += entry.uncompressedSize;
    if (totalBytes > caps.maxTotalBytes) {
      throw new UnsafeArchiveError(
        `${where}entries add up to more than ${caps.maxTotalBytes} bytes (max-total-bytes); refusing a possible zip bomb`,
      );
    }
    const manifestEntry = manifestEntryOf(path);
    if (!manifestEntry)
      throw new BackupIntegrityError(`${where}entry ${JSON.stringify(name)} is not listed in the manifest`);
    if (manifestEntry.type !== entry.type) {
      throw new BackupIntegrityError(
        `${where}entry ${JSON.stringify(name)} is a ${entry.type} in the archive but a ${manifestEntry.type} in the manifest`,
      );
    }
    if (entry.type === 'file' && manifestEntry.size !== entry.uncompressedSize) {
      throw new BackupIntegrityError(
        `${where}entry ${JSON.stringify(name)} declares ${entry.uncompressedSize} bytes but the manifest says ${manifestEntry.size}: sizes disagree`,
      );
    }
    const p: PlannedEntry = {
      source: entry,
      path,
      type: entry.type,
      mode: manifestEntry.mode & 0o7777,
      size: entry.uncompressedSize,
      manifest: manifestEntry,
    };
    if (entry.type === 'symlink') {
      const target = linkTargets.get(entry);
      if (target === undefined)
        throw new UnsafeArchiveError(`${where}symlink ${JSON.stringify(name)} has no readable target`);
      if (target.includes('\0') || target === '')
        throw new UnsafeArchiveError(`${where}symlink ${JSON.stringify(name)} has an invalid target`);
      const problem = unsafeLinkTarget(path, target);
      if (problem) throw new UnsafeArchiveError(`${where}symlink ${JSON.stringify(name)} ${problem}`);
      p.linkTarget = target;
    }
    planned.push(p);
    placed.set(key, p);
    count[p.type]++;
  }
  // Nothing may be written beneath a symlink or a file: the write would follow the link, or fail halfway.
  // Directories whose every ancestor (and itself) was checked: siblings share the walk.
  const clearDirs = new Set<string>();
  for (const p of planned) {
    const parentEnd = p.path.lastIndexOf('/');
    if (parentEnd < 0 || clearDirs.has(p.path.slice(0, parentEnd))) continue;
    for (let i = p.path.indexOf('/'); i >= 0; i = p.path.indexOf('/', i + 1)) {
      const ancestor = placed.get(collisionKey(p.path.slice(0, i), caseInsensitive));
      if (ancestor && ancestor.type !== 'directory') {
        throw new UnsafeArchiveError(
          `${where}entry ${JSON.stringify(p.source.name)} lies beneath ${ancestor.type} ${JSON.stringify(ancestor.source.name)}`,
        );
      }
    }
    clearDirs.add(p.path.slice(0, parentEnd));
  }
  // Hard links (manifest "hardlink"): each names another file entry with the same bytes that is no
  // link itself. The restore links to what it has written and checked; it never reads a link's
  // own bytes, so they must be the same as those.
  for (const p of planned) {
    const name = p.manifest?.hardlink;
    if (name === undefined) continue;
    const q = placed.get(collisionKey(name, caseInsensitive));
    const why =
      !q || q.path !== name
        ? 'which the archive lacks'
        : q.type !== 'file'
          ? `which is a ${q.type}`
          : q.manifest?.hardlink !== undefined
            ? 'which is itself a link'
            : q.size !== p.size || q.manifest?.sha256 !== p.manifest?.sha256
              ? 'whose bytes differ'
              : undefined;
    if (why)
      throw new BackupIntegrityError(
        `${where}entry ${JSON.stringify(p.source.name)} is a hard link of ${JSON.stringify(name)} in the manifest, ${why}; a manifest the tool writes never says so`,
      );
  }
  // Each planned entry matched the manifest entry of its exact path, and two never share a path
  // (a collision is refused above). Matched in order to the end, or with no repeated path in the
  // manifest and as many planned entries as manifest entries, every manifest entry was matched.
  // Otherwise, find the one missing.
  const n = manifest.entries.length;
  const everyMatched = byManifest ? byManifest.size === n && planned.length === n : inOrder === n;
  for (const m of everyMatched ? [] : manifest.entries) {
    const p = placed.get(collisionKey(m.path, caseInsensitive));
    if (p?.path === m.path && p.manifest !== m)
      throw new BackupIntegrityError(
        `${where}the manifest lists ${JSON.stringify(m.path)} more than once; a manifest the tool writes never does`,
      );
    if (p?.path !== m.path)
      throw new BackupIntegrityError(
        `${where}the manifest lists ${JSON.stringify(m.path)} but the archive lacks it; the backup is incomplete`,
      );
  }
  return {
    entries: planned,
    files: count.file,
    directories: count.directory,
    symlinks: count.symlink,
    totalBytes,
  };
}
