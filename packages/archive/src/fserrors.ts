// File system errors in words an operator can act on: one line naming the path and what to do.
// Its own module so that what only reads a backup (verify.ts, extract.ts) does not load the
// backup walk (collect.ts and its glob library).
import { types } from 'node:util';

/** Why a file system error happened, in words an operator can act on. `access`: whether the
 *  failing step read a backup's source, read something else (the live tree), or wrote (backup
 *  directory, restore target, logs). */
export function describeFsError(
  error: unknown,
  access: 'source' | 'read' | 'write' | 'backup-write' = 'source',
): string {
  const e = error as NodeJS.ErrnoException;
  switch (e.code) {
    case 'EACCES':
    case 'EPERM':
      // Root is refused a write only by what modes cannot grant: "run as its owner" would mislead.
      if ((access === 'write' || access === 'backup-write') && runsAsRoot())
        return `not permitted even for root: ${rootDenied('it or its directory')}`;
      return access === 'write' || access === 'backup-write'
        ? 'permission denied: run as a user that can write there, or fix its mode'
        : `permission denied: run as a user that can read it, or fix its mode${access === 'source' ? ' (or leave it out of the paths)' : ''}`;
    case 'ENOENT':
      return access === 'source'
        ? 'it disappeared while the backup ran; run the backup again when the tree is quiet'
        : 'it (or its directory) does not exist or was removed meanwhile';
    // Only a backup has an --out to point elsewhere; a restore writes where its target is.
    case 'ENOSPC':
      return `no space left on the device; free some space${access === 'backup-write' ? ' or choose another --out directory' : ' there'}`;
    case 'EDQUOT':
      return `disk quota exceeded; free some space${access === 'backup-write' ? ' or choose another --out directory' : ' there'}`;
    case 'ENAMETOOLONG':
      return 'a name in the path is longer than this file system allows (255 bytes per path component on most, less on some such as eCryptfs), or the whole path exceeds its limit; use a shorter directory';
    case 'EIO':
      return 'input/output error (failing disk?)';
    case 'EROFS':
      return 'the file system is read-only';
    case 'EBUSY':
      return 'it is busy: a mount point, or in use by the system; unmount it (or wait until it is free) and run again';
    default:
      // Node's message already starts with the code ("EXDEV: cross-device link not permitted, ...").
      return e.code && !String(e.message).startsWith(`${e.code}:`)
        ? `${e.code}: ${e.message}`
        : String(e?.message ?? e);
  }
}

/** Why root is refused a write, when it is: what the mode bits cannot explain. */
export const rootDenied = (what: string): string =>
  `${what} is probably immutable or append-only (lsattr -d shows i or a; chattr -i or -a clears it), or a security module (SELinux, AppArmor) denies it`;

export const runsAsRoot = (): boolean => process.getuid?.() === 0;

/** An error thrown by a file system call (it carries an errno code). isNativeError as well as
 *  instanceof: Node's own errors come from another realm when the code runs in a vm context (as
 *  under jest), where instanceof alone said no and the raw `EPERM: ...` text went out. */
export function isFsError(error: unknown): error is NodeJS.ErrnoException {
  return (
    (error instanceof Error || types.isNativeError(error)) &&
    typeof (error as NodeJS.ErrnoException).code === 'string' &&
    typeof (error as NodeJS.ErrnoException).syscall === 'string'
  );
}

/** "cannot <verb> <path>: <why>" for a file system error, one line. */
export function fsErrorLine(error: NodeJS.ErrnoException, access: 'read' | 'write'): string {
  const verb: Record<string, string> = {
    mkdir: 'create the directory',
    open: access === 'read' ? 'open' : 'create',
    rename: 'move',
    link: 'create',
    unlink: 'remove',
    rmdir: 'remove',
    scandir: 'read the directory',
  };
  const path = error.path ? ` ${error.path}` : '';
  return `cannot ${verb[error.syscall ?? ''] ?? error.syscall}${path}: ${describeFsError(error, access)}`;
}
