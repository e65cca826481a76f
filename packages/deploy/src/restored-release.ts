// Manual rollbacks (the rollback action, `guarded-rollout rollback`) record the release they
// restored on GitHub like the automatic one does: the backup's manifest names its version and commit.
import { openArchive, readManifest } from '@guarded-rollout/archive';
import { recordRestoredRelease, type DeploymentRecorder } from './deployment-recorder.js';

export type RestoredRecord = { id: number } | { skipped: string };

/** Reads the restored backup's manifest and records its release as the active deployment. */
export async function recordRestoredBackup(
  recorder: DeploymentRecorder,
  options: {
    environment: string;
    backupPath: string;
    reason: string;
    logUrl?: string;
    environmentUrl?: string;
  },
): Promise<RestoredRecord> {
  const archive = await openArchive(options.backupPath, 1_000_000);
  let manifest;
  try {
    manifest = await readManifest(archive, options.backupPath);
  } finally {
    archive.close();
  }
  if (!manifest.commit)
    return {
      skipped: `${options.backupPath} records no commit (taken before any recorded deployment); no GitHub Deployment recorded for the restored release`,
    };
  const id = await recordRestoredRelease(recorder, {
    environment: options.environment,
    ref: manifest.commit,
    ...(manifest.version ? { version: manifest.version } : {}),
    reason: options.reason,
    restoredFrom: options.backupPath,
    ...(options.logUrl ? { logUrl: options.logUrl } : {}),
    ...(options.environmentUrl ? { environmentUrl: options.environmentUrl } : {}),
  });
  return { id };
}
