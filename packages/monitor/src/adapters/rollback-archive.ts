// The monitor's Rollback backed by packages/archive: the same verified restore the rollback action
// runs (checksum and manifest checked, all-or-nothing swap of the target, restart command, then N
// consecutive OK health checks), mapped to the monitor's RollbackOutcome.
import { restoreBackup, type RestoreOptions } from '@guarded-rollout/archive';
import type { Rollback } from '../guarded.js';
import type { RollbackOutcome } from '../summary.js';

export function archiveRollback(options: RestoreOptions): Rollback {
  return async (): Promise<RollbackOutcome> => {
    const result = await restoreBackup(options);
    return {
      status: result.status === 'dry-run' ? 'skipped' : result.status,
      detail: result.message,
      restoredFrom: result.restoredFrom,
      healthChecksOk: result.healthChecksOk,
    };
  };
}
