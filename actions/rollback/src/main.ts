// Doorway of the rollback action: read inputs, call runRollback (the same call as
// `guarded-rollout rollback`), set outputs, and fail the step when the restore was refused or failed.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as core from '@actions/core';
import {
  inputBoolean,
  inputDuration,
  inputInteger,
  inputOptional,
  inputOptionalInteger,
  inputString,
  runAction,
  withRunnerCancel,
} from '@guarded-rollout/action-io';
import { CheckFailedError, ConfigError } from '@guarded-rollout/config';
import {
  assertEnvironmentName,
  holdYoungGeneration,
  KEEP_PREVIOUS_MAX,
  runRollback,
  type RollbackOptions,
} from '@guarded-rollout/archive';
import { BackupFetchCancelledError, fetchBackup, githubAccessFromEnv } from '@guarded-rollout/backup-store';
import { recordRestoredDeployment } from './record-deployment.js';

/** Where the backup comes from when it is a workflow artifact (absent: a path or backup-dir). */
export interface ArtifactChoice {
  runId?: number;
  token: string;
}

export function getArtifactChoice(): ArtifactChoice | undefined {
  const source = inputString('backup-source', { fallback: 'dir' });
  if (source !== 'dir' && source !== 'artifact')
    throw new ConfigError(`input "backup-source": ${JSON.stringify(source)} is not one of dir, artifact`, {
      field: 'backup-source',
    });
  const runId = inputOptional('backup-run-id');
  if (runId !== undefined && !/^[1-9]\d{0,15}$/.test(runId))
    throw new ConfigError(`input "backup-run-id": ${JSON.stringify(runId)} is not a workflow run id`, {
      field: 'backup-run-id',
    });
  if (source === 'dir' && runId === undefined) return undefined;
  const backup = inputString('backup', { fallback: 'latest' });
  if (backup !== 'latest')
    throw new ConfigError(
      `input "backup": ${JSON.stringify(backup)} with a backup artifact; leave it "latest" or drop backup-run-id/backup-source`,
      { field: 'backup' },
    );
  return { ...(runId ? { runId: Number(runId) } : {}), token: inputString('github-token', { fallback: '' }) };
}

export function getInputs(env: NodeJS.ProcessEnv = process.env): RollbackOptions {
  const backup = inputString('backup', { fallback: 'latest' });
  const healthUrl = inputOptional('health-url');
  if (healthUrl && !/^https?:\/\//.test(healthUrl))
    throw new ConfigError(`input "health-url": ${JSON.stringify(healthUrl)} is not an http(s) URL`, {
      field: 'health-url',
    });
  const restart = inputOptional('restart-command');
  const smoke = inputOptional('smoke-command');
  const keepPrevious = inputOptionalInteger('keep-previous', { min: 1, max: KEEP_PREVIOUS_MAX });
  return {
    environment: assertEnvironmentName(inputString('environment', { required: true }), 'input "environment"'),
    ...(backup === 'latest' ? { latest: true } : { backupPath: backup }),
    backupDir: inputString('backup-dir', { fallback: 'backups' }),
    prefix: inputString('prefix', { fallback: 'dhash' }),
    target: inputString('target', { required: true }),
    force: inputBoolean('force'),
    ...(keepPrevious !== undefined ? { keepPrevious } : {}),
    allowUnverified: inputBoolean('allow-unverified'),
    dryRun: inputBoolean('dry-run'),
    logDir: inputString('log-dir', { fallback: '.' }),
    cwd: env.GITHUB_WORKSPACE || process.cwd(),
    ...(restart ? { restartCommand: restart } : {}),
    restartTimeoutMs: inputDuration('restart-timeout', '2m'),
    ...(healthUrl ? { healthUrl } : {}),
    health: {
      required: inputInteger('health-checks', { fallback: 3, min: 1, max: 100 }),
      intervalMs: inputDuration('health-interval', '5s'),
      timeoutMs: inputDuration('health-timeout', '5s'),
      deadlineMs: inputDuration('health-deadline', '2m'),
    },
    ...(smoke ? { smokeCommand: smoke } : {}),
    smokeTimeoutMs: inputDuration('smoke-timeout', '5m'),
    caps: {
      maxEntries: inputInteger('max-entries', { fallback: 10_000_000, min: 1 }),
      maxTotalBytes: inputInteger('max-bytes', { fallback: Number.MAX_SAFE_INTEGER, min: 1 }),
      maxRatio: inputInteger('max-ratio', { fallback: 200, min: 1 }),
    },
  };
}

export async function run(): Promise<void> {
  let fetchCancelled = false;
  await runAction(async () => {
    holdYoungGeneration(); // this process reads a backup's tables: ~30 MiB less at peak
    const options = getInputs();
    const choice = getArtifactChoice();
    let artifactName = '';
    // The runner's cancel (SIGINT, SIGTERM 7.5 s later, kill at 10 s): while the backup artifact
    // is fetched, or before the swap, the rollback stops with nothing changed; after the swap the
    // restart, health checks and smoke stop. The swap itself always completes (and a kill mid-swap
    // is finished by the journal on the next run).
    const result = await withRunnerCancel(
      'stopping the rollback (a swap already begun is finished first)',
      async (signal) => {
        if (choice) {
          const dest = mkdtempSync(join(process.env.RUNNER_TEMP || tmpdir(), 'guarded-rollout-backup-'));
          let fetched;
          try {
            fetched = await fetchBackup({
              environment: options.environment,
              ...(choice.runId ? { runId: choice.runId } : {}),
              github: githubAccessFromEnv(choice.token),
              destDir: dest,
              signal,
            });
          } catch (error) {
            if (!(error instanceof BackupFetchCancelledError)) throw error;
            // The download may still be running (@actions/artifact takes no signal): exit after.
            fetchCancelled = true;
            core.setOutput('status', 'refused');
            throw new CheckFailedError(`rollback refused: ${error.message}`);
          }
          artifactName = fetched.artifact.name;
          core.info(
            `downloaded and verified ${fetched.artifact.name} (id ${fetched.artifact.id}): ${fetched.backupPath}`,
          );
          delete options.latest;
          options.backupPath = fetched.backupPath;
        }
        return runRollback({ ...options, signal, onProgress: (line) => core.info(line) });
      },
    );
    core.setOutput('backup-artifact', artifactName);
    core.setOutput('status', result.status);
    core.setOutput('restored-from', result.restoredFrom);
    core.setOutput('verified', String(result.verified));
    core.setOutput('health-checks-ok', String(result.healthChecksOk));
    core.setOutput('previous-tree', result.previousTree ?? '');
    core.setOutput('log-path', result.logPath);
    core.setOutput(
      'deployment-id',
      result.status === 'succeeded'
        ? await recordRestoredDeployment(inputString('environment'), result.restoredFrom)
        : '',
    );
    await core.summary
      .addHeading(`Rollback: ${result.status}`, 3)
      .addRaw(`${result.message}\n\nLog: \`${result.logPath}\``)
      .write();
    if (result.status === 'refused' || result.status === 'failed')
      throw new CheckFailedError(`rollback ${result.status}: ${result.message}`);
    if (result.failed)
      throw new CheckFailedError(
        `rollback restored-unverified in ${options.environment}: no health check ran; set health-url, or allow-unverified to accept it`,
      );
    core.info(result.message);
  });
  if (fetchCancelled) process.exit(process.exitCode ?? 1);
}
