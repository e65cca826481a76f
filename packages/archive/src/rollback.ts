// The rollback as an operator runs it: the live-tree protection before the restore, the verified
// restore itself (@guarded-rollout/archive), and the honest outcome after it. `succeeded` needs the
// required consecutive OK health checks; without a health check the outcome is
// `restored-unverified`, which fails the command in production unless explicitly allowed.
import { accessSync, constants } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fsErrorLine, isFsError } from './fserrors.js';
import { restoreBackup, type RestoreOptions, type RestoreResult } from './restore.js';
import { TOOL_NAME } from '@guarded-rollout/config/version';
import { openEvidenceLog } from './logfile.js';
import { HeapGuard } from './heapguard.js';
import {
  DeployedTreeRecordError,
  deployedTreeRecordPath,
  describeLiveTreeChanges,
  liveTreeChanges,
  LiveTreeCompareCancelledError,
  readDeployedTreeHeader,
  recordDeployedTree,
  type LiveTreeChanges,
} from './live-tree.js';

/** Environments where an unverified restore is a failure unless allowed. */
export const VERIFIED_ROLLBACK_ENVIRONMENTS = ['production', 'prod'];

export interface RollbackOptions extends RestoreOptions {
  /** Accept `restored-unverified` as success in production. */
  allowUnverified?: boolean;
  /** What the deployed-tree record covers (relative to the target); all of it when empty. */
  releasePaths?: string[];
  /** false for the tool's own automatic rollback right after its deploy: nothing to protect there,
   *  and the record is still refreshed afterwards (default true). */
  liveTreeCheck?: boolean;
  /** Told when the live-tree comparison will read much (a line for the operator: why it waits). */
  onProgress?: (line: string) => void;
}

export interface RollbackResult extends RestoreResult {
  liveTree: LiveTreeChanges;
  /** True when the command as a whole failed (what the exit code and the action report). */
  failed: boolean;
}

export async function runRollback(options: RollbackOptions): Promise<RollbackResult> {
  const cwd = resolve(options.cwd ?? process.cwd());
  const target = resolve(cwd, options.target);
  const stop = (
    how: 'REFUSED' | 'CANCELLED',
    message: string,
    liveTree: LiveTreeChanges,
    lines: string[],
  ): RollbackResult => {
    const kind = options.dryRun ? 'rollback-dryrun' : 'rollback';
    const logPath = join(resolve(cwd, options.logDir ?? '.'), `${kind}.log`);
    const log = openEvidenceLog(logPath, {
      kind,
      tool: `${TOOL_NAME} rollback`,
      environment: options.environment,
      now: options.now ?? (() => new Date()),
    });
    // A cancel's message already says the live tree was not changed.
    if (how === 'CANCELLED') log.line(`CANCELLED: ${message}`, ...lines);
    else log.line(`REFUSED: ${message}`, ...lines, `the live tree ${target} was not changed`);
    log.finish('fail', message, { environment: options.environment, outcome: 'refused', target });
    return {
      status: 'refused',
      restoredFrom: options.backupPath ? resolve(cwd, options.backupPath) : '',
      verified: false,
      healthChecksOk: 0,
      message,
      logPath,
      liveTree,
      failed: true,
    };
  };
  const refuse = (message: string, liveTree: LiveTreeChanges, ...lines: string[]): RollbackResult =>
    stop('REFUSED', message, liveTree, lines);
  const recordPath = deployedTreeRecordPath(target);
  const noRecord: LiveTreeChanges = {
    record: undefined,
    recordPath,
    modified: [],
    added: [],
    removed: [],
    recordedFiles: 0,
  };
  let liveTree: LiveTreeChanges;
  let unreadableRecord: string | undefined;
  try {
    // The tool's own automatic rollback right after its deploy has nothing to compare: it needs
    // only what the record covers, not a hash of every file (seconds on a large tree, at the
    // moment the service is failing).
    liveTree =
      options.liveTreeCheck === false
        ? { ...noRecord, record: readDeployedTreeHeader(target) }
        : await liveTreeChanges(target, {
            ...(options.signal ? { signal: options.signal } : {}),
            ...(options.onProgress ? { onProgress: options.onProgress } : {}),
          });
  } catch (error) {
    if (error instanceof LiveTreeCompareCancelledError)
      return stop(
        'CANCELLED',
        `${error.message}, before anything was restored; the live tree ${target} was not changed`,
        noRecord,
        [],
      );
    if (error instanceof DeployedTreeRecordError) {
      if (!options.force && options.liveTreeCheck !== false)
        return refuse(
          `${error.message}, so the rollback cannot tell hand edits since the deploy from the deploy itself; fix or delete the record, or pass --force to restore anyway (the replaced versions are kept under <target>/.guarded-rollout/pre-rollback/)`,
          noRecord,
        );
      unreadableRecord = error.message; // rewritten after the restore
      liveTree = noRecord;
    } else if (!isFsError(error)) throw error;
    else
      return refuse(
        `${fsErrorLine(error, 'read')}; the rollback compares the live tree ${target} with the record of the last deploy first, so it must be able to read all of it`,
        noRecord,
      );
  }
  // The comparison's tables are garbage now; on a large tree, collect them before the restore
  // builds its own.
  new HeapGuard().phase(liveTree.recordedFiles);
  const changed = describeLiveTreeChanges(liveTree);
  if (changed && liveTree.record && !options.force && options.liveTreeCheck !== false) {
    return refuse(
      `live tree changed since the deploy recorded at ${liveTree.record.recordedAt} (${changed}); a restore would discard those changes — pass --force to restore anyway (the replaced versions are kept under <target>/.guarded-rollout/pre-rollback/)`,
      liveTree,
      `record: ${liveTree.recordPath}`,
    );
  }
  if (!options.dryRun) {
    // The record of the restored tree is written beside the target afterwards: a directory this
    // user cannot write there would leave the restore done and the record stale, so refuse first.
    try {
      accessSync(dirname(target), constants.W_OK);
    } catch {
      return refuse(
        `cannot write ${recordPath}: permission denied: after restoring, the rollback records the restored tree there (beside ${target}, so the next rollback can tell hand edits from the deploy), which needs write permission on ${dirname(target)}; run as a user that can write there, or fix its mode`,
        liveTree,
      );
    }
  }
  const result = await restoreBackup(options);
  if (result.status === 'succeeded' || result.status === 'restored-unverified') {
    // The restored tree is now what is deployed: the next rollback compares with it.
    try {
      recordDeployedTree(target, {
        environment: options.environment,
        paths: liveTree.record?.paths ?? options.releasePaths,
        ...(result.restored ? { restored: result.restored } : {}),
        ...(options.now ? { now: options.now } : {}),
      });
    } catch (error) {
      if (!isFsError(error)) throw error;
      const message = `${result.message}; but ${fsErrorLine(error, 'write')}, so the record of the deployed tree (${recordPath}) is stale: the next rollback may need --force`;
      return { ...result, status: 'failed', message, liveTree, failed: true };
    }
  }
  const unverifiedFails =
    result.status === 'restored-unverified' &&
    VERIFIED_ROLLBACK_ENVIRONMENTS.includes(options.environment) &&
    !options.allowUnverified;
  const failed = result.status === 'refused' || result.status === 'failed' || unverifiedFails;
  const message =
    changed && options.force && liveTree.record
      ? `${result.message} (--force: replaced live changes since the deploy: ${changed})`
      : unreadableRecord
        ? `${result.message} (${options.force ? '--force: ' : ''}${unreadableRecord}; not compared)`
        : result.message;
  return { ...result, message, liveTree, failed };
}
