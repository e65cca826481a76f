// Doorway of the deploy action: read inputs, merge them over the rollout config, run the deploy
// (and optional smoke tests), set outputs. SIGINT/SIGTERM from the runner cancel the deploy; the
// post step reports a deploy that never finished and closes its GitHub Deployment with `error`.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import * as core from '@actions/core';
import {
  inputBoolean,
  inputChoice,
  inputOptional,
  inputString,
  maskSecret,
  redact,
  runAction,
  withRunnerCancel,
} from '@guarded-rollout/action-io';
import { CheckFailedError, ConfigError } from '@guarded-rollout/config';
import {
  archiveBackupProvider,
  defaultRolloutEnvironment,
  DEFAULT_ROLLOUT_CONFIG,
  deployOptionsFrom,
  GitHubDeploymentRecorder,
  githubTargetFromEnv,
  loadRolloutConfig,
  runDeploy,
  runSmokeTests,
  type DeploySettingsFromDoorway,
  type RolloutEnvironment,
} from '@guarded-rollout/deploy';

export interface DeployInputs {
  settings: DeploySettingsFromDoorway;
  config: RolloutEnvironment;
  token: string | undefined;
  smokeTier: 'none' | 'critical' | 'all';
  smokeBaseUrl: string | undefined;
}

const inputName = (field: string): string => `input "${field === 'type' ? 'deployment-type' : field}"`;

/** KEY=VALUE lines → object; blank lines and #comments skipped. */
export function parseEnvLines(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!match)
      throw new ConfigError(`input "env", line ${i + 1}: ${JSON.stringify(line)} is not KEY=VALUE`, {
        field: 'env',
      });
    env[match[1]!] = match[2]!;
  }
  return env;
}

export function getInputs(): DeployInputs {
  const workspace = process.env.GITHUB_WORKSPACE || process.cwd();
  const environment = inputString('environment', { required: true });
  const configInput = inputString('config', { fallback: DEFAULT_ROLLOUT_CONFIG });
  const configFile = resolve(workspace, configInput);
  // A missing *default* config means "inputs only"; a named one must exist.
  const config =
    configInput === DEFAULT_ROLLOUT_CONFIG && !existsSync(configFile)
      ? defaultRolloutEnvironment(environment, workspace)
      : loadRolloutConfig(configFile, environment);
  const settings = deployOptionsFrom(
    config,
    {
      ref: inputOptional('ref') ?? process.env.GITHUB_SHA,
      version: inputOptional('version'),
      type: inputOptional('deployment-type'),
      command: inputOptional('command'),
      migrateCommand: inputOptional('migrate-command'),
      timeout: inputOptional('timeout'),
      migrateTimeout: inputOptional('migrate-timeout'),
      killGrace: inputOptional('kill-grace'),
      dryRun: inputBoolean('dry-run'),
      dryRunFlag: inputOptional('dry-run-flag'),
      workingDirectory: inputOptional('working-directory'),
      env: parseEnvLines(core.getInput('env')),
      migrationSafety: inputOptional('migration-safety'),
      backupFirst: core.getInput('backup-first') === '' ? undefined : inputBoolean('backup-first'),
      logDir: inputOptional('log-dir') ?? workspace,
      environmentUrl: inputOptional('environment-url'),
      logUrl:
        process.env.GITHUB_SERVER_URL && process.env.GITHUB_REPOSITORY && process.env.GITHUB_RUN_ID
          ? `${process.env.GITHUB_SERVER_URL}/${process.env.GITHUB_REPOSITORY}/actions/runs/${process.env.GITHUB_RUN_ID}`
          : undefined,
    },
    inputName,
    workspace,
  );
  const token = inputOptional('token');
  maskSecret(token);
  return {
    settings,
    config,
    token,
    smokeTier: inputChoice('smoke-tier', ['none', 'critical', 'all'] as const, 'none'),
    smokeBaseUrl: inputOptional('smoke-base-url'),
  };
}

export async function run(): Promise<void> {
  core.saveState('isPost', 'true');
  await runAction(async () => {
    const inputs = getInputs();
    const hide = (line: string): string => (inputs.token ? redact(line, [inputs.token]) : line);
    const target = inputs.token ? githubTargetFromEnv(process.env, inputs.token) : undefined;
    if (inputs.token && !target && !inputs.settings.dryRun)
      core.warning('GITHUB_REPOSITORY is not set: the deployment is not recorded on GitHub');

    core.saveState('environment', inputs.settings.environment);
    // The runner sends SIGINT, then SIGTERM, and kills us ~10 s later: stop the tree at once.
    const result = await withRunnerCancel('stopping the deploy and recording the cancellation', (signal) =>
      runDeploy({
        ...inputs.settings,
        // On cancellation the runner gives ~10 s; runCommand shortens the kill grace to 3 s then.
        recorder: target
          ? new GitHubDeploymentRecorder({ ...target, log: (m) => core.warning(hide(m)) })
          : undefined,
        backup: archiveBackupProvider(inputs.settings.environment, inputs.config.backup, {
          version: inputs.settings.version,
          commit: process.env.GITHUB_SHA,
        }),
        signal,
        redact: hide,
        onLine: (line) => core.info(line),
        onDeploymentCreated: (id) => core.saveState('deployment-id', String(id)),
      }),
    );

    let smokeResult: 'passed' | 'failed' | 'cancelled' | 'skipped' = 'skipped';
    let smokeSummary = '';
    const smokeTier = inputs.smokeTier;
    if (result.status === 'succeeded' && smokeTier !== 'none') {
      // A cancel here ends the check in flight and starts no other: the step reports at once,
      // within the runner's 10 s, instead of dying on the SIGINT with no line.
      const report = await withRunnerCancel(
        'stopping the smoke checks (the deploy itself is done) and recording what ran',
        (signal) =>
          runSmokeTests({
            environment: inputs.settings.environment,
            checks: inputs.config.smoke.checks,
            tier: smokeTier,
            baseUrl: inputs.smokeBaseUrl ?? inputs.config.smoke.baseUrl,
            logDir: inputs.settings.logDir,
            onLine: (line) => core.info(line),
            signal,
          }),
      );
      smokeResult = report.cancelled ? 'cancelled' : report.passed ? 'passed' : 'failed';
      smokeSummary = report.summary;
    }
    core.saveState('finished', 'true');

    core.setOutput('status', result.status);
    core.setOutput('deployment-id', result.deploymentId === undefined ? '' : String(result.deploymentId));
    core.setOutput('log-path', result.logPath);
    core.setOutput('backup-path', result.backupPath ?? '');
    core.setOutput('migration-safety', result.migrationSafety);
    core.setOutput('smoke-result', smokeResult);
    for (const problem of result.githubProblems) core.warning(problem);
    if (result.migrationSafety === 'irreversible' || result.migrationSafety === 'unknown') {
      core.notice(
        `migration safety is ${result.migrationSafety}: an automatic rollback would lose data; rollback will page humans instead`,
      );
    }

    await core.summary
      .addHeading(
        `Deploy ${inputs.settings.environment}${result.dryRun ? ' (dry-run)' : ''}: ${result.status}`,
        3,
      )
      .addTable([
        [
          { data: 'step', header: true },
          { data: 'outcome', header: true },
          { data: 'duration', header: true },
        ],
        ...result.steps.map((s) => [s.step, s.outcome, `${Math.round(s.durationMs)} ms`]),
        ...(smokeResult !== 'skipped' ? [[`smoke (${inputs.smokeTier})`, smokeResult, '']] : []),
      ])
      .addRaw(
        `${hide(result.summary)}. Migration safety: **${result.migrationSafety}**.${result.deploymentId !== undefined ? ` GitHub deployment ${result.deploymentId}.` : ''}`,
        true,
      )
      .write();

    if (result.status !== 'succeeded')
      throw new CheckFailedError(`deploy ${result.status}: ${hide(result.summary)} (log: ${result.logPath})`);
    if (smokeResult === 'failed')
      throw new CheckFailedError(`smoke tests failed after the deploy: ${smokeSummary}`);
    if (smokeResult === 'cancelled')
      throw new CheckFailedError(
        `the deploy succeeded, but its smoke tests were ${smokeSummary}: the release is live and not smoke-tested; run them with guarded-rollout smoke --env ${inputs.settings.environment} --tier ${inputs.smokeTier}`,
      );
  });
}

/** `runs.post`: if main never finished (killed, crashed), say so and close the GitHub Deployment. */
export async function post(): Promise<void> {
  if (core.getState('finished') === 'true') {
    core.info('deploy finished; nothing left to report');
    return;
  }
  const deploymentId = core.getState('deployment-id');
  const environment = core.getState('environment') || '(unknown)';
  core.warning(
    `the deploy to ${environment} did not finish${deploymentId ? ` (GitHub deployment ${deploymentId})` : ''}: it was cancelled or crashed`,
  );
  await core.summary
    .addHeading(`Deploy ${environment}: did not finish`, 3)
    .addRaw('The job ended before the deploy step reported an outcome; check the target before retrying.')
    .write();
  const token = core.getInput('token');
  maskSecret(token);
  const target = token ? githubTargetFromEnv(process.env, token) : undefined;
  if (!deploymentId || !target) return;
  try {
    await new GitHubDeploymentRecorder(target).status(Number(deploymentId), {
      state: 'error',
      description: 'cancelled: the job ended before the deploy finished',
    });
    core.info(`GitHub deployment ${deploymentId} marked error`);
  } catch (error) {
    core.warning(
      `could not mark GitHub deployment ${deploymentId} as error: ${redact((error as Error).message, [token])}`,
    );
  }
}
