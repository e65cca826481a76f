// Doorway of the notify action: read inputs, render the event, deliver or fall back, set outputs.
// Channel delivery arrives with packages/notify; until then every message is kept in the fallback
// file and reported as undelivered, never as sent.
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as core from '@actions/core';
import { inputBoolean, inputChoice, inputJson, inputString, runAction } from '@guarded-rollout/action-io';
import { ConfigError } from '@guarded-rollout/config';

export const EVENTS = [
  'deploy-started',
  'deploy-succeeded',
  'deploy-failed',
  'gate-violation',
  'rollback-started',
  'rollback-succeeded',
  'rollback-failed',
  'escalation',
  'monitoring-complete',
  'custom',
] as const;

export interface NotifyInputs {
  event: (typeof EVENTS)[number];
  environment: string;
  details: Record<string, unknown>;
  fallbackDir: string;
  dryRun: boolean;
}

export function getInputs(): NotifyInputs {
  const details = inputJson<unknown>('details', {});
  if (details === null || typeof details !== 'object' || Array.isArray(details)) {
    throw new ConfigError('input "details" must be a JSON object', { field: 'details' });
  }
  return {
    event: inputChoice('event', EVENTS),
    environment: inputString('environment', { required: true }),
    details: details as Record<string, unknown>,
    fallbackDir: inputString('fallback-dir', { fallback: 'notify-fallback' }),
    dryRun: inputBoolean('dry-run'),
  };
}

export async function run(): Promise<void> {
  await runAction(async () => {
    const inputs = getInputs();
    const text = `[${inputs.environment}] ${inputs.event}${Object.keys(inputs.details).length ? ` ${JSON.stringify(inputs.details)}` : ''}`;
    if (inputs.dryRun) {
      core.info(`dry-run: would announce: ${text}`);
      await core.summary.addHeading('Notification (dry-run)', 3).addCodeBlock(text).write();
      core.setOutput('delivered', JSON.stringify({}));
      core.setOutput('fallback-path', '');
      return;
    }
    mkdirSync(inputs.fallbackDir, { recursive: true });
    const fallbackPath = join(inputs.fallbackDir, 'notifications.jsonl');
    appendFileSync(
      fallbackPath,
      `${JSON.stringify({ at: new Date().toISOString(), event: inputs.event, environment: inputs.environment, text, channel: 'none', error: 'no channel delivery in this version' })}\n`,
    );
    core.warning(`notification not delivered (no channels in this version); kept in ${fallbackPath}`);
    await core.summary
      .addHeading('Notification', 3)
      .addRaw(`Not delivered; kept in \`${fallbackPath}\`.`)
      .write();
    core.setOutput('delivered', JSON.stringify({}));
    core.setOutput('fallback-path', fallbackPath);
  });
}
