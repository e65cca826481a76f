// The monitor's Rollback backed by packages/archive: the same verified restore the rollback action
// runs (checksum and manifest checked, all-or-nothing swap of the target, restart command, then N
// consecutive OK health checks), mapped to the monitor's RollbackOutcome.
import { restoreBackup, runRollback, type RestoreOptions } from '@guarded-rollout/archive';
import { ConfigError } from '@guarded-rollout/config';
import type { Rollback, RollbackCheck } from '../guarded.js';
import { commandRollback } from './rollback-command.js';
import type { RollbackOutcome } from '../summary.js';

/** The bound of keepPrevious, for the doorways that parse it without the archive package at hand. */
export { KEEP_PREVIOUS_MAX } from '@guarded-rollout/archive';

export function archiveRollback(options: RestoreOptions): Rollback {
  const rollback: Rollback = async (): Promise<RollbackOutcome> => {
    // runRollback: the same restore, and the deployed-tree record is refreshed, so a later manual
    // rollback does not mistake this restore for a hand-made change.
    const result = await runRollback({ ...options, liveTreeCheck: false });
    return {
      // restored-unverified (no health check ran) is not a verified rollback.
      status:
        result.status === 'dry-run'
          ? 'skipped'
          : result.status === 'restored-unverified'
            ? 'failed'
            : result.status,
      detail: result.message,
      restoredFrom: result.restoredFrom,
      healthChecksOk: result.healthChecksOk,
    };
  };
  rollback.check = () => rehearseRestore(options);
  return rollback;
}

/** The restore's own dry run, everything short of staging: the backup chosen now (latest: the
 *  newest complete one), its checksum, structure and every entry's CRC-32 and SHA256, the
 *  environment, each root it replaces (movable, not a mount point) and the free disk. It writes
 *  rollback-dryrun.log beside the rollback's log. Whether the restore would work, in one line. */
export async function rehearseRestore(options: RestoreOptions): Promise<RollbackCheck> {
  try {
    const result = await restoreBackup({ ...options, dryRun: true });
    return { ok: result.status === 'dry-run', detail: result.message };
  } catch (error) {
    return { ok: false, detail: (error as Error).message };
  }
}

export interface RollbackChoice {
  environment: string;
  /** A backup zip, or "latest" (default) — restored into `target` by packages/archive. */
  backup?: string;
  backupDir?: string;
  target?: string;
  restartCommand?: string;
  /** Previous versions of `target` to keep, this rollback's included (restoreBackup's
   *  keepPrevious); unset keeps all. */
  keepPrevious?: number;
  /** Alternatively, an operator's own restore command (then 3 OK health checks). */
  rollbackCommand?: string;
  healthUrl?: string;
  cwd?: string;
  log?: (line: string) => void;
}

/** The rollback both doorways build from their flags/inputs: a verified restore of a backup into
 *  `target` (the rollback action's code), or a restore command; undefined when neither is given. */
export function chooseRollback(choice: RollbackChoice): Rollback | undefined {
  if (choice.target && choice.rollbackCommand) {
    throw new ConfigError('give either target (restore a backup) or rollback-command, not both', {
      field: 'target',
    });
  }
  if (choice.backup && choice.backup !== 'latest' && !choice.target) {
    throw new ConfigError('backup needs target: the live directory the backup is restored into', {
      field: 'target',
    });
  }
  if (choice.target) {
    const latest = choice.backup === undefined || choice.backup === 'latest';
    return archiveRollback({
      environment: choice.environment,
      ...(latest ? { latest: true } : { backupPath: choice.backup }),
      ...(choice.backupDir ? { backupDir: choice.backupDir } : {}),
      target: choice.target,
      ...(choice.restartCommand ? { restartCommand: choice.restartCommand } : {}),
      ...(choice.keepPrevious ? { keepPrevious: choice.keepPrevious } : {}),
      ...(choice.healthUrl ? { healthUrl: choice.healthUrl, health: { required: 3 } } : {}),
      ...(choice.cwd ? { cwd: choice.cwd } : {}),
    });
  }
  if (choice.rollbackCommand) {
    return commandRollback({
      command: choice.rollbackCommand,
      ...(choice.cwd ? { cwd: choice.cwd } : {}),
      healthUrl: choice.healthUrl,
      ...(choice.log ? { log: choice.log } : {}),
    });
  }
  return undefined;
}
