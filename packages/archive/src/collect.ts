// Walks the included paths (files, directories, globs) without ever following a symlink, and
// returns archive entries named relative to the base directory. Anything that would not restore
// safely (a path outside the base, a link escaping it) is refused here, at backup time, so a
// backup that exists can always be restored.
import { lstatSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { globSync } from 'tinyglobby';
import { ConfigError } from '@guarded-rollout/config/errors';
import { MANIFEST_ENTRY, type ManifestEntryType } from './manifest.js';
import { capYoungGeneration } from './heapguard.js';
import { unsafeLinkTarget } from './safety.js';
import { describeFsError } from './fserrors.js';

export interface SourceEntry {
  /** The directory `path` is relative to: the file is `root` joined with `path` (sourcePath). One
   *  shared string, not an absolute path per entry: 100,000 of those were ~9 MB of a backup's peak. */
  root: string;
  /** Where the file is when that is not `root` + `path` (a dump's files, stored under another name). */
  abs?: string;
  /** Archive path: relative to the base directory, "/"-separated, no trailing slash. */
  path: string;
  type: ManifestEntryType;
  size: number;
  mode: number;
  mtimeMs: number;
  /** Change time at collection: a file whose ctime moves while it is read is read again. */
  ctimeMs?: number;
  uid?: number;
  gid?: number;
  target?: string;
  /** A file with other hard links: its device and inode, until the walk has matched them. */
  inode?: string;
  /** The archive path of the first entry (archive order) that is the same file (hard link). */
  hardlink?: string;
}

/** The entry's absolute path on disk. */
export function sourcePath(entry: SourceEntry): string {
  return entry.abs ?? join(entry.root, entry.path);
}

function nonRegularKind(stat: Stats): string | undefined {
  if (stat.isFIFO()) return 'a FIFO (named pipe)';
  if (stat.isSocket()) return 'a socket';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  return undefined;
}

/** Characters that make a backup path a glob (the walk expands it). */
export const GLOB_CHARS = /[*?[\]{}!]/;

/**
 * The same number, typed as a small integer when it is one. Stats values come out of a
 * Float64Array, and V8 stores a float in an object field as a separate 16-byte box: three per
 * entry (size, uid, gid) were ~5 MB of a 100,000-file backup's peak heap.
 */
function small(n: number): number {
  return n >= 0 && n < 0x80000000 ? n | 0 : n;
}

function toArchivePath(baseDir: string, abs: string): string {
  return relative(baseDir, abs).split(sep).join('/');
}

function isInside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** Collects entries for `paths` under `baseDir`; `exclude` holds absolute paths never to include
 *  (the output directory, so a backup never contains older backups). */
export function collectEntries(baseDir: string, paths: string[], exclude: string[] = []): SourceEntry[] {
  const base = resolve(baseDir);
  const byPath = new Map<string, SourceEntry>();
  const excluded = exclude.map((e) => resolve(e));

  const add = (abs: string, stat: Stats): void => {
    const path = toArchivePath(base, abs);
    if (path === '' || byPath.has(path)) return;
    if (byPath.size % 1024 === 0) capYoungGeneration(); // the walk's table is what grows it
    if (path === MANIFEST_ENTRY) {
      throw new ConfigError(
        `path ${JSON.stringify(abs)} has the name reserved for the backup manifest; rename it or leave it out`,
      );
    }
    const mode = stat.mode & 0o7777;
    const owner = { uid: small(stat.uid), gid: small(stat.gid) };
    if (stat.isSymbolicLink()) {
      const target = readlinkSync(abs);
      // The same rule the restore applies, so every backup that exists can be restored.
      const problem = unsafeLinkTarget(path, target);
      if (problem) {
        throw new ConfigError(
          `symlink ${JSON.stringify(path)} ${problem} (backed-up tree: ${base}); a restore would refuse it, so the backup does too (include the target instead, or make the link relative and inside)`,
        );
      }
      byPath.set(path, {
        root: base,
        path,
        type: 'symlink',
        size: Buffer.byteLength(target),
        mode,
        mtimeMs: stat.mtimeMs,
        ...owner,
        target,
      });
    } else if (stat.isDirectory()) {
      byPath.set(path, {
        root: base,
        path,
        type: 'directory',
        size: 0,
        mode,
        mtimeMs: stat.mtimeMs,
        ...owner,
      });
    } else if (stat.isFile()) {
      byPath.set(path, {
        root: base,
        path,
        type: 'file',
        size: small(stat.size),
        mode,
        mtimeMs: stat.mtimeMs,
        ctimeMs: stat.ctimeMs,
        ...owner,
        ...(stat.nlink > 1 ? { inode: `${stat.dev}:${stat.ino}` } : {}),
      });
    } else {
      // Refused before it is ever opened: reading a FIFO or a device would hang or never end.
      throw new ConfigError(
        `${abs} is ${nonRegularKind(stat) ?? 'not a regular file'}; only regular files, directories and symlinks can be backed up. Leave it out of the paths (list the directories around it instead)`,
        { field: 'paths' },
      );
    }
  };

  const list = (dir: string) => {
    try {
      return readdirSync(dir, { withFileTypes: true });
    } catch (error) {
      throw new ConfigError(`cannot read directory ${dir}: ${describeFsError(error)}`, { field: 'paths' });
    }
  };

  // A name that is not valid UTF-8 cannot be stored so that it restores as the same bytes.
  const checkNames = (dir: string, names: string[]): void => {
    if (!names.some((n) => n.includes('\uFFFD'))) return;
    for (const raw of readdirSync(dir, { encoding: 'buffer' })) {
      if (!Buffer.from(raw.toString('utf8'), 'utf8').equals(raw)) {
        throw new ConfigError(
          `${join(dir, raw.toString('latin1'))}: the name is not valid UTF-8 (bytes ${raw.toString('hex')}), which a backup cannot store so that it restores under the same name; rename it (e.g. convmv -f latin1 -t utf8) or leave it out`,
          { field: 'paths' },
        );
      }
    }
  };

  const stat = (abs: string): Stats => {
    try {
      return lstatSync(abs);
    } catch (error) {
      throw new ConfigError(`cannot read ${abs}: ${describeFsError(error)}`, { field: 'paths' });
    }
  };

  const walk = (root: string): void => {
    const stack = [root];
    for (let dir = stack.pop(); dir !== undefined; dir = stack.pop()) {
      const dirents = list(dir);
      checkNames(
        dir,
        dirents.map((d) => d.name),
      );
      for (const dirent of dirents) {
        const abs = join(dir, dirent.name);
        if (excluded.some((e) => isInside(e, abs))) continue;
        const st = stat(abs);
        add(abs, st);
        if (st.isDirectory()) stack.push(abs);
      }
    }
  };

  const roots: string[] = [];
  for (const raw of paths) {
    if (raw.trim() === '') continue;
    if (GLOB_CHARS.test(raw)) {
      const matches = globSync(raw, {
        cwd: base,
        absolute: true,
        dot: true,
        onlyFiles: false,
        followSymbolicLinks: false,
        expandDirectories: false,
      });
      if (matches.length === 0)
        throw new ConfigError(`path ${JSON.stringify(raw)}: the glob matches nothing under ${base}`, {
          field: 'paths',
        });
      roots.push(...matches.map((m) => resolve(m)));
    } else {
      roots.push(resolve(base, raw));
    }
  }
  if (roots.length === 0)
    throw new ConfigError('paths: nothing to back up; give at least one file, directory or glob', {
      field: 'paths',
    });

  for (const abs of roots) {
    if (!isInside(base, abs)) {
      throw new ConfigError(
        `path ${JSON.stringify(abs)} is outside the base directory ${base}; archive paths are stored relative to it (set the base directory higher)`,
        {
          field: 'paths',
        },
      );
    }
    let stat: Stats;
    try {
      stat = lstatSync(abs);
    } catch {
      throw new ConfigError(`path ${JSON.stringify(abs)} does not exist`, { field: 'paths' });
    }
    if (excluded.some((e) => isInside(e, abs))) continue;
    if (abs !== base) add(abs, stat);
    if (stat.isDirectory()) walk(abs);
  }
  // Deterministic order: parents before children, so extraction never needs to guess a directory.
  const sorted = [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  // Hard links inside the tree: each later path of one file names the first, so a restore links
  // them again instead of writing copies (which could need more disk than the tree took).
  const firstOf = new Map<string, string>();
  for (const e of sorted) {
    if (e.inode === undefined) continue;
    const first = firstOf.get(e.inode);
    if (first === undefined) firstOf.set(e.inode, e.path);
    else e.hardlink = first;
  }
  return sorted;
}
