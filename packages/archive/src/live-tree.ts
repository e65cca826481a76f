// The "live tree changed since the deploy" protection of a rollback. A successful deploy records
// the live tree it left (every file's size, mode and SHA256) beside it, in
// `<parent>/.<name>.deployed-tree.json` — outside the tree, so a restore never replaces it. Before
// restoring, the rollback compares the live tree with that record: a file modified or added since
// (a hand-applied hotfix) would be silently discarded by the restore, so the rollback refuses
// unless --force. Removed files never block (the restore brings them back).
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  openSync,
  lstatSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join, sep } from 'node:path';
import { sha256OfFileSync } from './read.js';
import type { RestoredTree } from './restore.js';

export interface DeployedTreeRecord {
  environment: string;
  recordedAt: string;
  target: string;
  version?: string;
  commit?: string;
  /** The paths (relative to target) the record covers; all of it when absent. */
  paths?: string[];
  files: Record<string, { size: number; mode: number; sha256: string }>;
}

export interface LiveTreeChanges {
  /** The record compared with (its header: the per-file table is dropped once compared, so a
   *  rollback does not carry it through the restore, ~40 MiB at 100,000 files), or undefined
   *  when no deploy recorded one. */
  record: Omit<DeployedTreeRecord, 'files'> | undefined;
  recordPath: string;
  modified: string[];
  added: string[];
  removed: string[];
  /** How many files the record listed (0 without a record). */
  recordedFiles: number;
}

/** Where the record of `target` lives: beside it, never inside it. */
export function deployedTreeRecordPath(target: string): string {
  return join(dirname(target), `.${basename(target)}.deployed-tree.json`);
}

type FileInfo = DeployedTreeRecord['files'][string];

/** Emits every regular file and symlink under `root` (relative, `/`-separated), symlinks not
 *  followed; only those under `paths` when given (the release's files, not the service's runtime
 *  data). */
function walkTree(
  root: string,
  paths: string[] | undefined,
  restored: RestoredTree | undefined,
  emit: (rel: string, info: FileInfo) => void,
): void {
  const wanted = (rel: string): boolean =>
    !paths?.length ||
    paths.some((p) => p === '.' || rel === p || rel.startsWith(`${p.replace(/\/+$/, '')}/`));
  // The roots a restore just swapped in are recorded from its plan, not read back: every file
  // there is the one it wrote, with the size, mode and SHA256 it checked against the verified
  // manifest while writing (a 20,000-file rollback spent 0.1 s lstat-ing them again).
  const restoredRoots = new Set(restored?.roots ?? []);
  const symlinkInfo = (path: string, st = lstatSync(path)): FileInfo => ({
    size: st.size,
    mode: st.mode & 0o7777,
    sha256: createHash('sha256')
      .update(`symlink:${readlinkSync(path)}`)
      .digest('hex'),
  });
  for (const e of restored?.entries ?? []) {
    if (!wanted(e.path)) continue;
    if (e.type === 'file')
      emit(e.path, {
        size: e.size,
        // setuid/setgid can be dropped by the kernel (chown, or a group the restoring user is
        // not in): read back the few files that have them.
        mode: e.mode & 0o6000 ? lstatSync(`${root}${sep}${e.path}`).mode & 0o7777 : e.mode,
        sha256: e.manifest?.sha256 ?? sha256OfFileSync(`${root}${sep}${e.path}`),
      });
    else if (e.type === 'symlink') emit(e.path, symlinkInfo(`${root}${sep}${e.path}`));
  }
  // Relative paths are built as the walk descends (no path.relative per file: 20,000 files).
  const walk = (dir: string, relDir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = `${dir}${sep}${entry.name}`;
      const rel = relDir ? `${relDir}/${entry.name}` : entry.name;
      if (rel === '.guarded-rollout') continue; // the restore's own state (previous versions, journal)
      if (!relDir && restoredRoots.has(rel)) continue; // recorded above
      if (entry.isDirectory()) walk(path, rel);
      else if ((entry.isFile() || entry.isSymbolicLink()) && wanted(rel)) {
        const st = lstatSync(path);
        emit(
          rel,
          entry.isSymbolicLink()
            ? symlinkInfo(path, st)
            : { size: st.size, mode: st.mode & 0o7777, sha256: sha256OfFileSync(path) },
        );
      }
    }
  };
  if (existsSync(root)) walk(root, '');
}

/** Records the live tree a deploy (or a verified rollback) left, atomically. */
export function recordDeployedTree(
  target: string,
  meta: {
    environment: string;
    version?: string;
    commit?: string;
    paths?: string[];
    now?: () => Date;
    /** Set by a restore: its roots are recorded from the verified manifest, not read back. */
    restored?: RestoredTree;
  },
): string {
  const head: Omit<DeployedTreeRecord, 'files'> = {
    environment: meta.environment,
    recordedAt: (meta.now ?? (() => new Date()))().toISOString(),
    target,
    ...(meta.version ? { version: meta.version } : {}),
    ...(meta.commit ? { commit: meta.commit } : {}),
    ...(meta.paths?.length ? { paths: meta.paths } : {}),
  };
  const path = deployedTreeRecordPath(target);
  // Written as the walk goes, one line per file: a tree of 100,000 files never becomes one object
  // and one string in memory.
  const fd = openSync(`${path}.tmp`, 'w', 0o644);
  try {
    let out = `${JSON.stringify(head).slice(0, -1)},"files":{`;
    let first = true;
    walkTree(target, meta.paths, meta.restored, (rel, info) => {
      out += `${first ? '' : ','}\n${JSON.stringify(rel)}:${JSON.stringify(info)}`;
      first = false;
      if (out.length >= 256 * 1024) {
        writeSync(fd, out);
        out = '';
      }
    });
    writeSync(fd, `${out}\n}}\n`);
  } finally {
    closeSync(fd);
  }
  renameSync(`${path}.tmp`, path);
  return path;
}

/** Compares the live tree with the record of the last deploy. */
export function liveTreeChanges(target: string): LiveTreeChanges {
  const recordPath = deployedTreeRecordPath(target);
  if (!existsSync(recordPath))
    return { record: undefined, recordPath, modified: [], added: [], removed: [], recordedFiles: 0 };
  const { files, ...record } = JSON.parse(readFileSync(recordPath, 'utf8')) as DeployedTreeRecord;
  const modified: string[] = [];
  const added: string[] = [];
  // Compared as the walk goes, each recorded file struck off once seen (no table of the live
  // tree: 100,000 more entries); what is left was removed.
  let seen = 0;
  walkTree(target, record.paths, undefined, (path, file) => {
    const then = Object.hasOwn(files, path) ? files[path] : undefined;
    if (!then) return void added.push(path);
    if (then.sha256 !== file.sha256 || then.mode !== file.mode) modified.push(path);
    delete files[path];
    seen++;
  });
  const removed = Object.keys(files);
  return {
    record,
    recordPath,
    modified: modified.sort(),
    added: added.sort(),
    removed: removed.sort(),
    recordedFiles: seen + removed.length,
  };
}

/** One line naming what changed, at most a few paths of each kind. */
export function describeLiveTreeChanges(changes: LiveTreeChanges): string {
  const few = (paths: string[]): string =>
    paths.slice(0, 5).join(', ') + (paths.length > 5 ? ` and ${paths.length - 5} more` : '');
  return [
    changes.modified.length ? `modified: ${few(changes.modified)}` : '',
    changes.added.length ? `added: ${few(changes.added)}` : '',
  ]
    .filter(Boolean)
    .join('; ');
}
