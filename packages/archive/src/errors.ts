// Why a backup or restore was refused. Both are "the attempted thing failed" (exit 1): a corrupt or
// hostile archive is not a usage mistake, and the operator needs the specific reason to act on it.
import { CheckFailedError } from '@guarded-rollout/config/errors';

/** The backup is not what it claims to be: checksum, CRC, size or manifest disagree, or it is truncated. */
export class BackupIntegrityError extends CheckFailedError {}

/** An entry would write outside the target, collide, or exceed a safety cap (zip bomb). */
export class UnsafeArchiveError extends CheckFailedError {}

/** The backup could not be written (full disk, permissions on the output directory): nothing was kept. */
export class BackupWriteError extends CheckFailedError {}

/** A cancel (the caller's AbortSignal) stopped a backup before it was complete: its partial
 *  archive was removed and no backup was made. */
export class BackupCancelledError extends CheckFailedError {}

/** A restore that cannot replace the target's roots as they are (a root that is or holds a mount
 *  point, one this user cannot move, an immutable path, a target it cannot lock): refused before
 *  anything is staged, the live tree untouched. */
export class RestoreRefusedError extends CheckFailedError {}

/** A cancel (the caller's AbortSignal) stopped a restore before its swap: staging is removed and
 *  the live tree was not changed. */
export class RestoreCancelledError extends CheckFailedError {}
