// --backup-first: the environment's backup settings handed to @guarded-rollout/archive's
// createBackup (the same call `guarded-rollout backup` makes), as a BackupProvider for runDeploy.
import { createBackup } from '@guarded-rollout/archive';
import type { BackupProvider } from './deploy.js';
import type { BackupSettings } from './rollout-config.js';

export function archiveBackupProvider(
  environment: string,
  settings: BackupSettings,
  context: { version?: string; commit?: string; now?: () => Date } = {},
): BackupProvider {
  return async (signal) => {
    const result = await createBackup({
      ...(signal ? { signal } : {}),
      environment,
      paths: settings.paths,
      baseDir: settings.baseDir,
      outDir: settings.outDir,
      cwd: settings.baseDir,
      ...(settings.prefix ? { prefix: settings.prefix } : {}),
      ...(settings.dumpCommand
        ? { dumpCommand: settings.dumpCommand, dumpTimeoutMs: settings.dumpTimeoutMs }
        : {}),
      ...(settings.keep !== undefined ? { keep: settings.keep } : {}),
      ...(settings.compressionLevel !== undefined ? { compressionLevel: settings.compressionLevel } : {}),
      ...(context.version ? { version: context.version } : {}),
      ...(context.commit ? { commit: context.commit } : {}),
      ...(context.now ? { now: context.now } : {}),
    });
    return { path: result.backupPath, sha256: result.sha256 };
  };
}
