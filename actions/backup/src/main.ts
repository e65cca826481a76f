// Doorway of the backup action: read inputs, call createBackup (the same call as
// `guarded-rollout backup`), upload the result as an artifact when in Actions, set outputs.
import * as core from '@actions/core';
import {
  inputBoolean,
  inputDuration,
  inputInteger,
  inputList,
  inputOptional,
  inputString,
  runAction,
  withRunnerCancel,
} from '@guarded-rollout/action-io';
import { CheckFailedError } from '@guarded-rollout/config';
import {
  assertEnvironmentName,
  assertKeep,
  createBackup,
  formatBytes,
  type BackupOptions,
} from '@guarded-rollout/archive';
import { uploadBackupArtifact } from '@guarded-rollout/backup-store';

export interface BackupInputs {
  backup: BackupOptions;
  upload: boolean;
  artifactName?: string;
  retentionDays: number;
}

export function getInputs(env: NodeJS.ProcessEnv = process.env): BackupInputs {
  const keep = inputOptional('keep');
  const dump = inputOptional('dump-command');
  const version = inputOptional('version');
  const commit = inputOptional('commit') ?? env.GITHUB_SHA;
  const paths = inputList('paths');
  return {
    backup: {
      environment: assertEnvironmentName(
        inputString('environment', { required: true }),
        'input "environment"',
      ),
      paths: paths.length ? paths : ['.'],
      baseDir: inputString('base-dir', { fallback: '.' }),
      outDir: inputString('output-dir', { fallback: 'backups' }),
      prefix: inputString('prefix', { fallback: 'dhash' }),
      ...(dump ? { dumpCommand: dump, dumpTimeoutMs: inputDuration('dump-timeout', '30m') } : {}),
      ...(keep !== undefined ? { keep: assertKeep(keep, 'input "keep"') } : {}),
      ...(version ? { version } : {}),
      ...(commit ? { commit } : {}),
      compressionLevel: inputInteger('compression-level', { fallback: 6, min: 0, max: 9 }),
      dryRun: inputBoolean('dry-run'),
      cwd: env.GITHUB_WORKSPACE || process.cwd(),
    },
    upload: inputBoolean('upload-artifact', true),
    ...(inputOptional('artifact-name') ? { artifactName: inputOptional('artifact-name')! } : {}),
    retentionDays: inputInteger('artifact-retention-days', { fallback: 0, min: 0, max: 400 }),
  };
}

export async function run(): Promise<void> {
  await runAction(async () => {
    const inputs = getInputs();
    // The runner's cancel (SIGINT, SIGTERM 7.5 s later, kill at 10 s) stops the backup at its next
    // file or 1 MiB piece, with its dump command's process group: the step fails with one line
    // and no partial archive is left.
    const result = await withRunnerCancel('stopping the backup', (signal) =>
      createBackup({ ...inputs.backup, signal }),
    );
    for (const note of result.notes) core.info(`note: ${note}`);
    core.setOutput('backup-path', result.backupPath);
    core.setOutput('sha256', result.sha256);
    core.setOutput('sha256-path', result.sha256Path);
    core.setOutput('size-bytes', String(result.sizeBytes));
    core.setOutput('file-count', String(result.fileCount));
    core.setOutput('log-path', result.logPath ?? '');
    let artifactId = '';
    if (result.dryRun) {
      core.info(
        `dry-run: would write ${result.backupPath} (${result.fileCount} files, ${formatBytes(result.totalBytes)}); see ${result.logPath}`,
      );
      await core.summary
        .addHeading('Backup (dry-run)', 3)
        .addRaw(
          `Would write \`${result.backupPath}\`: ${result.fileCount} files, ${formatBytes(result.totalBytes)}.`,
        )
        .write();
      core.setOutput('artifact-id', '');
      if (result.dryRunStatus !== 'pass')
        throw new CheckFailedError(
          `backup dry-run failed: not enough free disk at ${result.backupPath}; see ${result.logPath}`,
        );
      return;
    }
    core.info(
      `backup written: ${result.backupPath} (${formatBytes(result.sizeBytes)}, ${result.fileCount} files, sha256 ${result.sha256})`,
    );
    for (const d of result.deleted) core.info(`retention: deleted ${d}`);
    if (inputs.upload && process.env.GITHUB_ACTIONS === 'true' && process.env.GITHUB_RUN_ID) {
      // The backup outlives the job only as an artifact: guarded-rollout-backup-<env>-run<id>-attempt<n>.
      const uploaded = await uploadBackupArtifact({
        backupPath: result.backupPath,
        sha256Path: result.sha256Path,
        environment: inputs.backup.environment,
        ...(inputs.retentionDays ? { retentionDays: inputs.retentionDays } : {}),
        ...(inputs.artifactName ? { name: inputs.artifactName } : {}),
      });
      artifactId = String(uploaded.id);
      core.setOutput('artifact-name', uploaded.name);
      core.info(`uploaded artifact "${uploaded.name}" (id ${artifactId})`);
    } else if (inputs.upload) {
      core.info('not running in GitHub Actions (no GITHUB_RUN_ID): artifact upload skipped');
    }
    core.setOutput('artifact-id', artifactId);
    await core.summary
      .addHeading('Backup', 3)
      .addTable([
        [
          { data: 'backup', header: true },
          { data: 'size', header: true },
          { data: 'files', header: true },
          { data: 'sha256', header: true },
        ],
        [result.backupPath, formatBytes(result.sizeBytes), String(result.fileCount), result.sha256],
      ])
      .write();
  });
}
