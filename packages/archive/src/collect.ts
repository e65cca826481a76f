// Walks the included paths (files, directories, globs) without ever following a symlink, and
// returns archive entries named relative to the base directory. Anything that would not restore
// safely (a path outside the base, a link escaping it) is refused here, at backup time, so a
// backup that exists can always be restored.
import { lstatSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { globSync } from 'tinyglobby';
import { ConfigError } from '@guarded-rollout/config';
import { MANIFEST_ENTRY, type ManifestEntryType } from './manifest.js';
import { unsafeLinkTarget } from './safety.js';

export interface SourceEntry {
  /** Absolute path on disk. */
  abs: string;
  /** Archive path: relative to the base directory, "/"-separated, no trailing slash. */
  path: string;
  type: ManifestEntryType;
  size: number;
  mode: number;
  mtimeMs: number;
  target?: string;
}

const GLOB_CHARS = /[*?[\]{}!]/;

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
    if (path === MANIFEST_ENTRY) {
      throw new ConfigError(
        `path ${JSON.stringify(abs)} has the name reserved for the backup manifest; rename it or leave it out`,
      );
    }
    const mode = stat.mode & 0o7777;
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
        abs,
        path,
        type: 'symlink',
        size: Buffer.byteLength(target),
        mode,
        mtimeMs: stat.mtimeMs,
        target,
      });
    } else if (stat.isDirectory()) {
      byPath.set(path, { abs, path, type: 'directory', size: 0, mode, mtimeMs: stat.mtimeMs });
    } else if (stat.isFile()) {
      byPath.set(path, { abs, path, type: 'file', size: stat.size, mode, mtimeMs: stat.mtimeMs });
    }
    // sockets, FIFOs and devices are not data; they are skipped.
  };

  const walk = (root: string): void => {
    const stack = [root];
    for (let dir = stack.pop(); dir !== undefined; dir = stack.pop()) {
      for (const dirent of readdirSync(dir, { withFileTypes: true })) {
        const abs = join(dir, dirent.name);
        if (excluded.some((e) => isInside(e, abs))) continue;
        const stat = lstatSync(abs);
        add(abs, stat);
        if (stat.isDirectory()) stack.push(abs);
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
  return [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
