// Doorway of the rollback action: read inputs, call restoreBackup (the same call as
// `guarded-rollout rollback`), set outputs, and fail the step when the restore was refused or failed.
import * as core from '@actions/core';
import {
  inputBoolean,
  inputDuration,
  inputInteger,
  inputOptional,
  inputString,
  runAction,
} from '@guarded-rollout/action-io';
import { CheckFailedError, ConfigError } from '@guarded-rollout/config';
import { assertEnvironmentName, restoreBackup, type RestoreOptions } from '@guarded-rollout/archive';
import { recordRestoredDeployment } from './record-deployment.js';

export function getInputs(env: NodeJS.ProcessEnv = process.env): RestoreOptions {
  const backup = inputString('backup', { fallback: 'latest' });
  const healthUrl = inputOptional('health-url');
  if (healthUrl && !/^https?:\/\//.test(healthUrl))
    throw new ConfigError(`input "health-url": ${JSON.stringify(healthUrl)} is not an http(s) URL`, {
      field: 'health-url',
    });
  const restart = inputOptional('restart-command');
  const smoke = inputOptional('smoke-command');
  return {
    environment: assertEnvironmentName(inputString('environment', { required: true }), 'input "environment"'),
    ...(backup === 'latest' ? { latest: true } : { backupPath: backup }),
    backupDir: inputString('backup-dir', { fallback: 'backups' }),
    prefix: inputString('prefix', { fallback: 'dhash' }),
    target: inputString('target', { required: true }),
    force: inputBoolean('force'),
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
      maxEntries: inputInteger('max-entries', { fallback: 1_000_000, min: 1 }),
      maxTotalBytes: inputInteger('max-bytes', { fallback: 256 * 1024 ** 3, min: 1 }),
      maxRatio: inputInteger('max-ratio', { fallback: 200, min: 1 }),
    },
  };
}

export async function run(): Promise<void> {
  await runAction(async () => {
    const result = await restoreBackup(getInputs());
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
    core.info(result.message);
  });
}
