// Doorway of the notify action: read inputs, mask every secret, call sendNotification (the same
// call the CLI and the monitor make), then report: outputs, job summary, one warning annotation per
// undelivered channel, and the fallback file uploaded as an artifact (best effort). Fails the step
// only with fail-on-error: notifications fail open.
import { basename, dirname } from 'node:path';
import * as core from '@actions/core';
import {
  inputBoolean,
  inputDuration,
  inputJson,
  inputList,
  inputOptional,
  inputString,
  maskSecret,
  runAction,
  withRunnerCancel,
} from '@guarded-rollout/action-io';
import { CheckFailedError, ConfigError } from '@guarded-rollout/config';
import {
  assertChannels,
  assertEvent,
  describeResult,
  notificationRedactor,
  notificationSecrets,
  redactError,
  resultMarkdown,
  sendNotification,
  type ChannelSecrets,
  type SendOptions,
  type SendResult,
} from '@guarded-rollout/notify';

export interface NotifyInputs {
  options: SendOptions;
  failOnError: boolean;
  /** Removes every form of every secret from text this step prints or writes (outputs and the
   *  job summary are files the runner's masking does not see). */
  redact: (text: string) => string;
}

/** A time limit input: a duration longer than zero. */
function positiveDuration(name: string, fallback: string): number {
  const ms = inputDuration(name, fallback);
  if (ms <= 0)
    throw new ConfigError(
      `input "${name}" must be longer than 0 (e.g. ${fallback}); found "${core.getInput(name)}"`,
      {
        field: name,
      },
    );
  return ms;
}

export function getInputs(env: NodeJS.ProcessEnv = process.env): NotifyInputs {
  const details = inputJson<unknown>('details', {});
  if (details === null || typeof details !== 'object' || Array.isArray(details)) {
    throw new ConfigError('input "details" must be a JSON object', { field: 'details' });
  }
  const secrets: ChannelSecrets = {
    slackWebhookUrl: inputOptional('slack-webhook-url'),
    teamsWebhookUrl: inputOptional('teams-webhook-url'),
    discordWebhookUrl: inputOptional('discord-webhook-url'),
    webhookUrl: inputOptional('webhook-url'),
    webhookSecret: inputOptional('webhook-secret'),
    smtpUrl: inputOptional('smtp-url'),
    emailTo: inputOptional('email-to'),
    emailFrom: inputOptional('email-from'),
  };
  // Mask before anything else can print them (including the errors below).
  for (const secret of notificationSecrets({ env, secrets })) maskSecret(secret);
  const channels = inputList('channels');
  return {
    options: {
      event: assertEvent(inputString('event', { required: true }), 'input "event"'),
      environment: inputString('environment', { required: true }),
      details: details as Record<string, unknown>,
      channels: assertChannels(channels),
      env,
      secrets,
      templateDir: inputOptional('template-dir'),
      fallbackDir: inputString('fallback-dir', { fallback: 'notify-fallback' }),
      budgetMs: positiveDuration('timeout', '30s'),
      attemptTimeoutMs: positiveDuration('attempt-timeout', '10s'),
      dryRun: inputBoolean('dry-run'),
    },
    failOnError: inputBoolean('fail-on-error'),
    redact: notificationRedactor({ env, secrets }),
  };
}

/** Uploads the fallback file as an artifact; never throws, never waits more than a minute. */
async function uploadFallback(path: string, result: SendResult): Promise<void> {
  if (!process.env.ACTIONS_RUNTIME_TOKEN) {
    core.info('not running on a GitHub runner with artifact access: the fallback file was not uploaded');
    return;
  }
  try {
    const { DefaultArtifactClient } = await import('@actions/artifact');
    const upload = new DefaultArtifactClient().uploadArtifact(
      `notify-fallback-${result.event}-${result.dedupeKey}`,
      [path],
      dirname(path),
      { retentionDays: 30 },
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('artifact upload took longer than 60 s')), 60_000);
    });
    try {
      const uploaded = await Promise.race([upload, timeout]);
      core.info(`fallback file uploaded as artifact ${uploaded.id ?? ''} (${basename(path)})`);
    } finally {
      clearTimeout(timer);
    }
  } catch (error) {
    core.warning(
      `the fallback file could not be uploaded as an artifact (${(error as Error).message}); it is still at ${path}`,
    );
  }
}

export async function run(): Promise<void> {
  await runAction(async () => {
    const { options, failOnError, redact } = getInputs();
    const info = (text: string): void => core.info(redact(text));
    // A cancelled job gets SIGINT, then ~10 s before SIGKILL: stop sending and still report and
    // keep the fallback file, so the cancellation leaves an honest trail.
    const result: SendResult = await withRunnerCancel(
      'stopping the sends; what was not delivered is kept',
      (signal) =>
        sendNotification({ ...options, signal }).catch((error: unknown) => {
          throw redactError(error, redact);
        }),
    );
    for (const line of describeResult(result)) info(line);
    if (result.dryRun) {
      for (const c of result.channels)
        info(`dry-run: ${c.channel} payload:\n${JSON.stringify(c.payload, null, 2)}`);
    }
    for (const c of result.channels) {
      if (c.status === 'failed' || c.status === 'misconfigured') {
        core.warning(
          redact(
            `notification to ${c.channel} not delivered: ${c.reason ?? 'unknown reason'}${result.fallbackPath ? `; kept in ${result.fallbackPath}` : ''}`,
          ),
          { title: `notify: ${c.channel} ${c.status}` },
        );
      }
    }
    if (result.fallbackError) core.warning(redact(result.fallbackError));
    if (result.fallbackPath) await uploadFallback(result.fallbackPath, result);
    await core.summary.addRaw(redact(resultMarkdown(result)), true).write();
    core.setOutput('delivered', redact(JSON.stringify(result.delivered)));
    core.setOutput('fallback-path', redact(result.fallbackPath ?? ''));
    core.setOutput('dedupe-key', result.dedupeKey);
    if (failOnError && (result.anyFailed || result.fallbackError)) {
      const failed = result.channels
        .filter((c) => c.status === 'failed' || c.status === 'misconfigured')
        .map((c) => c.channel);
      throw new CheckFailedError(
        `notification not delivered to ${failed.join(', ') || 'the fallback file'} (fail-on-error is set)`,
      );
    }
  });
}
