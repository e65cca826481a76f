// Mount points a restore must not touch: a root it replaces is renamed aside, and a mount point
// cannot be renamed (EBUSY, found only after staging), while a file system mounted *inside* a root
// would be carried away with the old version, leaving the backup's copy of its files in its place.
import { lstatSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';

export interface MountPoint {
  path: string;
  type: string;
}

/** The mount points this process sees, from /proc/self/mountinfo (Linux), or undefined where
 *  there is none. Hand-written: proc(5)'s one-line format (field 5 the mount point, octal
 *  escapes for space, tab, newline and backslash; the type after " - "), no library needed. */
export function mountPoints(mountinfo = '/proc/self/mountinfo'): MountPoint[] | undefined {
  let text: string;
  try {
    text = readFileSync(mountinfo, 'utf8');
  } catch {
    return undefined;
  }
  const unescape = (s: string): string =>
    s.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
  const points: MountPoint[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-', 6);
    if (fields.length < 7 || dash < 0) continue;
    points.push({ path: unescape(fields[4]!), type: fields[dash + 1] ?? '?' });
  }
  return points;
}

/**
 * Why the live root `name` of `target` cannot be replaced because of a mount point, or undefined:
 * the root is one (a volume, a bind-mounted directory or file), or one is inside it. `points`:
 * mountPoints(), read once for all roots; where there is none (undefined), a root on another
 * device than the target is still found.
 */
export function mountProblem(
  target: string,
  name: string,
  points: MountPoint[] | undefined,
): string | undefined {
  const live = join(target, name);
  let real: string;
  try {
    real = join(realpathSync(target), name);
    lstatSync(real);
  } catch {
    return undefined; // not there: nothing to move
  }
  const intoIt = `restore into it instead, from a backup of its contents (backup --base-dir ${live} --path .) with --target ${live}, or unmount it first`;
  if (!points) {
    if (lstatSync(real).dev !== lstatSync(target).dev)
      return `cannot replace ${live}: it is on another file system than ${target} (a mount point), which a restore cannot move aside; ${intoIt}; nothing was changed`;
    return undefined;
  }
  const at = points.find((p) => p.path === real);
  if (at)
    return `cannot replace ${live}: it is a mount point (${at.type}), which a restore cannot move aside (it renames each root it replaces); ${intoIt}; nothing was changed`;
  const inside = points.find((p) => p.path.startsWith(`${real}/`));
  if (inside)
    return `cannot replace ${live}: ${inside.path} inside it is a mount point (${inside.type}); the restore moves ${live} aside whole, so that file system would go with the old version and the backup's copy of its files would take its place; unmount it first (and mount it again after the rollback); nothing was changed`;
  return undefined;
}

/** The first mountProblem of `names` in `target` (mountinfo read once), or undefined. */
export function firstMountProblem(target: string, names: string[]): string | undefined {
  const points = mountPoints();
  for (const name of names) {
    const why = mountProblem(target, name, points);
    if (why) return why;
  }
  return undefined;
}
