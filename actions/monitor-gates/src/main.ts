// Doorway of the monitor-gates action: typed inputs → watchDeployment (the same call as
// `guarded-rollout monitor`) → outputs, job summary and annotations. Cancellation (SIGINT/SIGTERM
// from the runner) ends the watch early with a partial summary and result "cancelled".
import * as core from '@actions/core';
import {
  inputBoolean,
  inputChoice,
  inputOptional,
  inputOptionalInteger,
  inputString,
  maskSecret,
  runAction,
  withRunnerCancel,
} from '@guarded-rollout/action-io';
import { ConfigError, durationProblem, tryParseDuration } from '@guarded-rollout/config';
import { notificationSecrets, type ChannelSecrets } from '@guarded-rollout/notify';
import {
  KEEP_PREVIOUS_MAX,
  assertPreflight,
  checkTimeScale,
  preflight,
  chooseRollback,
  packageNotifier,
  planWatch,
  loadBaselineFile,
  watchDeployment,
  type RollbackChoice,
  type WatchOptions,
} from '@guarded-rollout/monitor';

export interface MonitorInputs {
  watch: Omit<WatchOptions, 'rollback' | 'notify' | 'signal' | 'log'>;
  /** How a violation is rolled back (backup + target, or a command). */
  rollback: Omit<RollbackChoice, 'environment' | 'healthUrl' | 'log'>;
  notify: boolean;
  fallbackDir: string;
  failOnViolation: boolean;
  dryRun: boolean;
  /** Channel secrets from inputs; the environment's variables fill the rest. */
  secrets: ChannelSecrets;
}

function optionalDuration(name: string): number | undefined {
  const value = inputOptional(name);
  if (value === undefined) return undefined;
  const ms = tryParseDuration(value);
  if (ms === undefined) throw new ConfigError(durationProblem(`input "${name}"`, value), { field: name });
  return ms;
}

/** Channel inputs → the notify package's secrets; each wins over its environment variable. */
const CHANNEL_INPUTS: Record<string, keyof ChannelSecrets> = {
  'slack-webhook-url': 'slackWebhookUrl',
  'teams-webhook-url': 'teamsWebhookUrl',
  'discord-webhook-url': 'discordWebhookUrl',
  'webhook-url': 'webhookUrl',
  'webhook-secret': 'webhookSecret',
  'smtp-url': 'smtpUrl',
  'email-to': 'emailTo',
  'email-from': 'emailFrom',
};

export function getInputs(env: NodeJS.ProcessEnv = process.env): MonitorInputs {
  const timeScaleText = inputString('time-scale', { fallback: '1' });
  const secrets: ChannelSecrets = {};
  for (const [input, key] of Object.entries(CHANNEL_INPUTS)) {
    const value = inputOptional(input);
    if (value !== undefined) secrets[key] = value;
  }
  for (const secret of notificationSecrets({ env, secrets })) maskSecret(secret);
  return {
    watch: {
      environment: inputString('environment', { required: true }),
      configFile: inputString('config', { fallback: 'quality-gates-config.json' }),
      ...(inputOptional('sources') ? { sourcesFile: inputOptional('sources')! } : {}),
      healthUrl: inputOptional('health-url'),
      metricsUrl: inputOptional('metrics-url'),
      prometheusUrl: inputOptional('prometheus-url'),
      jsonUrl: inputOptional('json-url'),
      ...(inputOptional('baseline') ? { baseline: loadBaselineFile(inputOptional('baseline')!) } : {}),
      durationMs: optionalDuration('duration'),
      deadlineMs: optionalDuration('deadline'),
      timeScale: checkTimeScale(timeScaleText, 'input "time-scale"'),
      suspicion: inputBoolean('suspicion', true),
      keepWatching: inputBoolean('keep-watching'),
      autoRollback: inputBoolean('auto-rollback'),
      migrationSafety: inputChoice('migration-safety', ['reversible', 'irreversible'] as const, 'reversible'),
      outDir: inputString('out-dir', { fallback: 'monitor_logs' }),
    },
    rollback: {
      backup: inputOptional('backup'),
      backupDir: inputString('backup-dir', { fallback: 'backups' }),
      target: inputOptional('target'),
      restartCommand: inputOptional('restart-command'),
      rollbackCommand: inputOptional('rollback-command'),
      keepPrevious: inputOptionalInteger('keep-previous', { min: 1, max: KEEP_PREVIOUS_MAX }),
    },
    notify: inputBoolean('notify', true),
    fallbackDir: inputString('fallback-dir', { fallback: 'notify-fallback' }),
    failOnViolation: inputBoolean('fail-on-violation', true),
    dryRun: inputBoolean('dry-run'),
    secrets,
  };
}

export async function run(): Promise<void> {
  await runAction(async () => {
    const inputs = getInputs();
    if (inputs.dryRun) {
      // Pre-flight: validates config, URLs and mapping, scrapes each source once and checks every
      // selector (a mismatch fails with exit 2 and the diagnostic), then shows the plan.
      const rollbackChoice = chooseRollback({
        environment: inputs.watch.environment,
        ...inputs.rollback,
        healthUrl: inputs.watch.healthUrl,
        log: () => {},
      });
      const checked = await preflight({
        ...inputs.watch,
        rollbackConfigured: rollbackChoice !== undefined,
        ...(rollbackChoice?.check ? { rollbackCheck: rollbackChoice.check } : {}),
        autoRollbackName: 'input "auto-rollback"',
      });
      for (const line of checked.lines) core.info(line);
      for (const w of checked.warnings) core.warning(w, { title: 'Monitor pre-flight' });
      assertPreflight(checked);
      const plan = planWatch(inputs.watch);
      core.setOutput('result', 'dry-run');
      core.setOutput('violated-gates', '[]');
      core.setOutput('rollback-required', 'false');
      core.setOutput('rollback-status', '');
      core.setOutput('summary-path', '');
      core.setOutput('log-path', '');
      core.setOutput('report-path', '');
      await core.summary.addRaw(plan.markdown).write();
      return;
    }
    const rollback = chooseRollback({
      environment: inputs.watch.environment,
      ...inputs.rollback,
      healthUrl: inputs.watch.healthUrl,
      log: (l) => core.info(l),
    });
    const notifyAbort = new AbortController();
    const outcome = await withRunnerCancel(
      'stopping the watch (result cancelled) and writing its reports',
      (signal) =>
        watchDeployment({
          ...inputs.watch,
          autoRollbackName: 'input "auto-rollback"',
          ...(rollback ? { rollback } : {}),
          ...(inputs.notify
            ? {
                notify: packageNotifier({
                  environment: inputs.watch.environment,
                  secrets: inputs.secrets,
                  fallbackDir: inputs.fallbackDir,
                  signal: notifyAbort.signal,
                }),
                notifyAbort,
              }
            : {}),
          signal,
          log: (line) => core.info(line),
        }),
    );
    const s = outcome.summary;
    const violated = s.violations.map((v) => ({
      gate: v.gate,
      value: v.value,
      limit: v.limit,
      window: v.windowMs === null ? null : `${v.windowMs / 60_000}m`,
      'first-seen': v.firstSeen,
      detected: v.detected,
      reason: v.reason,
    }));
    core.setOutput('result', s.result);
    core.setOutput('violated-gates', JSON.stringify(violated));
    core.setOutput('rollback-required', String(s.rollbackRequired));
    core.setOutput('rollback-status', s.rollback?.status ?? '');
    core.setOutput('summary-path', s.reports.summary);
    core.setOutput('log-path', s.log);
    core.setOutput('report-path', s.reports.html);
    for (const v of s.violations)
      core.error(`${v.gate}: ${v.reason}`, { title: `Quality gate violated (${s.environment})` });
    // Only channels that were configured and failed deserve a warning; an unconfigured channel is
    // skipped on purpose (the notify summary lists it).
    for (const n of s.notifications) {
      const failed = Object.entries(n.delivered).filter(([, d]) => d === false);
      if (failed.length && n.fallbackPath)
        core.warning(
          `notification ${n.event} not delivered to ${failed.map(([c]) => c).join(', ')}; kept in ${n.fallbackPath}`,
        );
    }
    await core.summary.addRaw(outcome.markdown).write();
    if (inputs.failOnViolation && s.result !== 'passed')
      core.setFailed(`monitoring ${s.result}: ${s.reason}`);
  });
}
