// Release paths: what the record of a deployed tree covers (relative to the live target), given
// as a CLI flag, an action input or the rollout config's rollback.release_paths.

/** Why `path` cannot be a release path (relative to the target, inside it, `/`-separated), or
 *  undefined when it can: one that names nothing inside the target would make the record, and so
 *  the live-tree check, cover nothing. */
export function releasePathProblem(path: string): string | undefined {
  if (path.trim() === '') return 'is empty';
  if (path.startsWith('/')) return 'is absolute; give it relative to the target';
  if (path.includes('\\')) return "contains a backslash; separate with '/'";
  if (path.split('/').includes('..')) return "leaves the target ('..')";
  return undefined;
}
