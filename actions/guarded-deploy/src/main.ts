// Doorway of the guarded-deploy action: read inputs, build the runner-backed world (artifact
// upload, GITHUB_STATE, GitHub Deployments, notifications, SIGINT/SIGTERM → cancel), call
// runGuardedDeploy, set outputs and the job summary. The post step records a run whose main step
// was killed before it could.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import * as core from '@actions/core';
import {
  inputBoolean,
  inputChoice,
  inputDuration,
  inputInteger,
  inputList,
  inputOptional,
  inputOptionalInteger,
  inputString,
  maskSecret,
  redact,
  runAction,
  withRunnerCancel,
} from '@guarded-rollout/action-io';
import { CheckFailedError, ConfigError, releasePathProblem, tryParseDuration } from '@guarded-rollout/config';
import {
  DEFAULT_ROLLOUT_CONFIG,
  defaultRolloutEnvironment,
  deployOptionsFrom,
  GitHubDeploymentRecorder,
  githubTargetFromEnv,
  loadRolloutConfig,
  signalTree,
  treeAlive,
} from '@guarded-rollout/deploy';
import { uploadBackupArtifact } from '@guarded-rollout/backup-store';
import { KEEP_PREVIOUS_MAX, systemClock } from '@guarded-rollout/monitor';
import {
  CANCEL_NOTIFY_BUDGET_MS,
  gitCommitResolver,
  packageRolloutNotifier,
  runGuardedDeploy,
  type BackupArtifacts,
  type GuardedDeployOptions,
  type RolloutWorld,
} from '@guarded-rollout/rollout';

const inputName = (field: string): string =>
  `input "${{ type: 'deployment-type', command: 'deploy-command', timeout: 'deploy-timeout' }[field] ?? field}"`;

export interface GuardedInputs {
  options: GuardedDeployOptions;
  token: string | undefined;
  commit: string | undefined;
  upload: boolean;
  retentionDays: number;
  fallbackDir: string;
}

export function getInputs(): GuardedInputs {
  const workspace = process.env.GITHUB_WORKSPACE || process.cwd();
  const at = (p: string): string => resolve(workspace, p);
  const environment = inputString('environment', { required: true });
  const version = inputString('version', { required: true });
  const configInput = inputString('rollout-config', { fallback: DEFAULT_ROLLOUT_CONFIG });
  const configFile = at(configInput);
  // A missing *default* config means "inputs only"; a named one must exist.
  const config =
    configInput === DEFAULT_ROLLOUT_CONFIG && !existsSync(configFile)
      ? defaultRolloutEnvironment(environment, workspace)
      : loadRolloutConfig(configFile, environment);
  const type = inputChoice('deployment-type', ['standard', 'hotfix', 'rollback'] as const, 'standard');
  const dryRun = inputBoolean('dry-run');
  const deploy = deployOptionsFrom(
    config,
    {
      version,
      type,
      command: inputOptional('deploy-command'),
      migrateCommand: inputOptional('migrate-command'),
      timeout: inputOptional('deploy-timeout'),
      dryRun,
      migrationSafety: inputOptional('migration-safety'),
      logDir: workspace,
      environmentUrl: inputOptional('environment-url'),
    },
    inputName,
    workspace,
  );
  const commit = inputOptional('ref');
  if (commit !== undefined && !/^[0-9a-f]{40}$/.test(commit))
    throw new ConfigError(`input "ref": ${JSON.stringify(commit)} is not a full commit SHA (40 hex digits)`, {
      field: 'ref',
    });
  const releasePaths = inputList('release-paths');
  for (const path of releasePaths) {
    const problem = releasePathProblem(path);
    if (problem)
      throw new ConfigError(`input "release-paths": ${JSON.stringify(path)} ${problem}`, {
        field: 'release-paths',
      });
  }
  const contexts = inputList('required-contexts');
  const requiredContexts =
    contexts.length === 0 ? undefined : contexts.length === 1 && contexts[0] === 'none' ? [] : contexts;
  const monitorDuration = inputOptional('monitor-duration');
  const durationMs = monitorDuration === undefined ? undefined : tryParseDuration(monitorDuration);
  if (monitorDuration !== undefined && (durationMs === undefined || durationMs <= 0))
    throw new ConfigError(
      `input "monitor-duration": ${JSON.stringify(monitorDuration)} is not a duration such as 15m or 1h`,
      { field: 'monitor-duration' },
    );
  const timeScale = Number(inputString('time-scale', { fallback: '1' }));
  const keep = inputOptionalInteger('backup-keep', { min: 1 });
  const healthUrl = inputOptional('health-url');
  const smokeRequired = inputOptional('smoke-required');
  const serverUrl = process.env.GITHUB_SERVER_URL;
  const repository = process.env.GITHUB_REPOSITORY;
  const runId = process.env.GITHUB_RUN_ID;
  const token = inputOptional('token');
  maskSecret(token);
  const options: GuardedDeployOptions = {
    environment,
    version,
    ...(commit ? { commit } : {}),
    type,
    dryRun,
    skipBackup: inputBoolean('skip-backup'),
    backup: {
      paths: inputList('backup-paths'),
      baseDir: at(inputString('backup-base-dir', { fallback: '.' })),
      outDir: at(inputString('backup-dir', { fallback: 'backups' })),
      prefix: 'dhash',
      ...(inputOptional('backup-dump-command') ? { dumpCommand: inputOptional('backup-dump-command')! } : {}),
      ...(keep !== undefined ? { keep } : {}),
    },
    deploy,
    smoke: {
      checks: config.smoke.checks,
      required: smokeRequired === undefined ? config.smoke.required : inputBoolean('smoke-required'),
      ...((inputOptional('smoke-base-url') ?? config.smoke.baseUrl)
        ? { baseUrl: inputOptional('smoke-base-url') ?? config.smoke.baseUrl }
        : {}),
    },
    watch: {
      configFile: at(inputString('gates-config', { fallback: 'quality-gates-config.json' })),
      ...(healthUrl ? { healthUrl } : {}),
      ...(inputOptional('metrics-url') ? { metricsUrl: inputOptional('metrics-url')! } : {}),
      ...(inputOptional('prometheus-url') ? { prometheusUrl: inputOptional('prometheus-url')! } : {}),
      ...(durationMs !== undefined ? { durationMs } : {}),
      timeScale,
      outDir: at('monitor_logs'),
    },
    rollback: {
      auto: inputBoolean('auto-rollback', true),
      target: at(inputString('rollback-target', { fallback: '.' })),
      ...(inputOptional('restart-command') ? { restartCommand: inputOptional('restart-command')! } : {}),
      ...(inputOptional('smoke-command') ? { smokeCommand: inputOptional('smoke-command')! } : {}),
      ...(healthUrl ? { healthUrl, health: { required: 3 } } : {}),
      keepPrevious: inputOptionalInteger('keep-previous', { min: 1, max: KEEP_PREVIOUS_MAX }),
      ...(releasePaths.length ? { releasePaths } : {}),
    },
    ...(requiredContexts ? { requiredContexts } : {}),
    ...(deploy.environmentUrl ? { environmentUrl: deploy.environmentUrl } : {}),
    ...(serverUrl && repository && runId
      ? { logUrl: `${serverUrl}/${repository}/actions/runs/${runId}` }
      : {}),
    notifyBudgetMs: inputDuration('notify-timeout', '15s'),
    cwd: workspace,
  };
  return {
    options,
    token,
    commit,
    upload: inputBoolean('upload-artifact', true),
    retentionDays: inputInteger('artifact-retention-days', { fallback: 0, min: 0, max: 400 }),
    fallbackDir: at(inputString('fallback-dir', { fallback: 'notify-fallback' })),
  };
}

/** The backup as the run's artifact (packages/backup-store names it for environment, run and
 *  attempt, so "Re-run jobs" adds one and the rollback workflow finds it). */
function runnerArtifacts(retentionDays: number): BackupArtifacts | undefined {
  // The runner gives a node action ACTIONS_RUNTIME_TOKEN / ACTIONS_RESULTS_URL; without them no upload.
  if (!process.env.ACTIONS_RUNTIME_TOKEN || !process.env.ACTIONS_RESULTS_URL) return undefined;
  return {
    upload: (backup) =>
      uploadBackupArtifact({
        backupPath: backup.zipPath,
        sha256Path: backup.sha256Path,
        environment: backup.environment,
        ...(retentionDays ? { retentionDays } : {}),
      }),
  };
}

function recorderFor(token: string | undefined): GitHubDeploymentRecorder | undefined {
  const target = token ? githubTargetFromEnv(process.env, token) : undefined;
  if (!target) return undefined;
  const hide = (line: string): string => (token ? redact(line, [token]) : line);
  return new GitHubDeploymentRecorder({
    ...target,
    // A hung API must not eat the runner's 10 s after a cancel.
    requestTimeoutMs: 5000,
    log: (m) => core.warning(hide(m)),
  });
}

export async function run(): Promise<void> {
  core.saveState('isPost', 'true');
  let cancelled = false;
  // The runner sends SIGINT, SIGTERM 7.5 s later and kills at 10 s: stop at once, record, exit.
  await runAction(() =>
    withRunnerCancel('stopping the guarded deploy and recording the cancellation', async (signal) => {
      signal.addEventListener(
        'abort',
        () => {
          cancelled = true;
          // Whatever still runs at 9 s must not keep the post step from running.
          setTimeout(() => process.exit(1), 9000).unref();
        },
        { once: true },
      );
      const inputs = getInputs();
      const { options } = inputs;
      core.saveState('environment', options.environment);
      const deployments = recorderFor(inputs.token);
      if (inputs.token && !deployments && !options.dryRun)
        core.warning('GITHUB_REPOSITORY is not set: the deployment is not recorded on GitHub');

      const artifacts = inputs.upload && !options.dryRun ? runnerArtifacts(inputs.retentionDays) : undefined;
      if (inputs.upload && !options.dryRun && !artifacts)
        core.info('no ACTIONS_RUNTIME_TOKEN/ACTIONS_RESULTS_URL: the backup stays on this machine only');
      const world: RolloutWorld = {
        ...(artifacts ? { artifacts } : {}),
        state: { save: (key, value) => core.saveState(key, value) },
        ...(deployments ? { deployments } : {}),
        notifier: packageRolloutNotifier({
          environment: options.environment,
          env: process.env,
          fallbackDir: inputs.fallbackDir,
        }),
        signal,
        clock: systemClock,
        log: {
          info: (line) => core.info(line),
          warning: (line) => core.warning(line),
          group: (name, body) => core.group(name, body),
        },
        resolveCommit: gitCommitResolver(options.cwd),
      };
      const result = await runGuardedDeploy(options, world);
      core.saveState('finished', 'true');

      const outputs: Record<string, string> = {
        result: result.result,
        stage: result.stage,
        commit: result.commit ?? '',
        'backup-path': result.backupPath ?? '',
        'backup-sha256': result.backupSha256 ?? '',
        'backup-artifact': result.backupArtifact ?? '',
        'deployment-id': result.deploymentId === undefined ? '' : String(result.deploymentId),
        'restored-deployment-id':
          result.restoredDeploymentId === undefined ? '' : String(result.restoredDeploymentId),
        'deploy-status': result.deployStatus ?? '',
        'smoke-result': result.smoke,
        'monitor-result': result.monitorResult ?? '',
        'violated-gates': result.violatedGates.join(','),
        'monitor-report': result.monitorReport ?? '',
        'rollback-status': result.rollbackStatus ?? '',
        'restored-from': result.restoredFrom ?? '',
      };
      for (const [name, value] of Object.entries(outputs)) core.setOutput(name, value);
      await core.summary
        .addHeading(`guarded-deploy ${options.environment} ${options.version}: ${result.result}`, 3)
        .addList(result.summary)
        .addRaw(
          `Ended at stage **${result.stage}**${result.deploymentId !== undefined ? `; GitHub deployment ${result.deploymentId}` : ''}${result.commit ? ` at \`${result.commit}\`` : ''}.`,
          true,
        )
        .write();
      if (result.result !== 'succeeded' && result.result !== 'dry-run')
        throw new CheckFailedError(`guarded-deploy ${result.result}: ${result.message}`);
    }),
  );
  // Recorded and reported: read-only work the cancel did not wait for (the rollback rehearsal's
  // reads) must not keep the step alive until the 9 s exit.
  if (cancelled) process.exit(process.exitCode ?? 1);
}

/** A migrate/deploy command's process group that outlived a killed main step is stopped. */
function stopLeftoverCommand(pgid: string): void {
  if (!/^[1-9]\d*$/.test(pgid) || !treeAlive(Number(pgid))) return;
  core.warning(`the deploy command's process group ${pgid} is still running: stopping it`);
  signalTree(Number(pgid), 'SIGKILL');
}

/** `runs.post`: when main was killed before recording its end, record it now (Deployment error). */
export async function post(): Promise<void> {
  if (core.getState('finished') === 'true') {
    core.info('guarded deploy finished; nothing left to record');
    return;
  }
  const stage = core.getState('stage') || 'plan';
  stopLeftoverCommand(core.getState('command-pgid'));
  const environment = core.getState('environment') || '(unknown)';
  const deploymentId = core.getState('deployment-id');
  const message = `cancelled at stage ${stage}: the job ended before the guarded deploy finished`;
  core.warning(`${environment}: ${message}${deploymentId ? ` (GitHub deployment ${deploymentId})` : ''}`);
  await core.summary
    .addHeading(`guarded-deploy ${environment}: did not finish`, 3)
    .addRaw(`${message}. Check the target before retrying.`)
    .write();
  if (core.getState('cancel-recorded') === 'true') return;
  const token = core.getInput('token');
  maskSecret(token);
  const recorder = recorderFor(token || undefined);
  if (deploymentId && recorder) {
    try {
      await recorder.status(Number(deploymentId), { state: 'error', description: message });
      core.info(`GitHub deployment ${deploymentId} marked error`);
    } catch (error) {
      core.warning(
        `could not mark GitHub deployment ${deploymentId} as error: ${redact((error as Error).message, [token])}`,
      );
    }
  }
  const notify = packageRolloutNotifier({
    environment,
    env: process.env,
    fallbackDir: resolve(
      process.env.GITHUB_WORKSPACE || process.cwd(),
      core.getInput('fallback-dir') || 'notify-fallback',
    ),
  });
  await notify(
    'deploy-failed',
    { environment, result: 'cancelled', stage, reason: message },
    { budgetMs: CANCEL_NOTIFY_BUDGET_MS },
  );
}
