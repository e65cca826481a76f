// Which channels are configured, from environment variables or explicit values (action inputs).
// Every value here is a secret: errors describe what is wrong with it without ever showing it.
import { ConfigError, describeValue } from '@guarded-rollout/config';
import { destinationProblem, type UrlPolicy } from './url-policy.js';

export const CHANNELS = ['slack', 'teams', 'discord', 'email', 'webhook'] as const;
export type ChannelName = (typeof CHANNELS)[number];

export interface ChannelSecrets {
  slackWebhookUrl?: string;
  teamsWebhookUrl?: string;
  discordWebhookUrl?: string;
  webhookUrl?: string;
  webhookSecret?: string;
  smtpUrl?: string;
  emailTo?: string;
  emailFrom?: string;
}

/** The default variable names of PRODUCT.md "Secrets". */
export const DEFAULT_ENV_NAMES: Required<Record<keyof ChannelSecrets, string>> = {
  slackWebhookUrl: 'SLACK_WEBHOOK_URL',
  teamsWebhookUrl: 'TEAMS_WEBHOOK_URL',
  discordWebhookUrl: 'DISCORD_WEBHOOK_URL',
  webhookUrl: 'NOTIFY_WEBHOOK_URL',
  webhookSecret: 'NOTIFY_WEBHOOK_SECRET',
  smtpUrl: 'SMTP_URL',
  emailTo: 'NOTIFY_EMAIL_TO',
  emailFrom: 'NOTIFY_EMAIL_FROM',
};

/** Reads each secret from its variable (names overridable); empty counts as unset. */
export function secretsFromEnv(
  env: NodeJS.ProcessEnv,
  names: Partial<Record<keyof ChannelSecrets, string>> = {},
): ChannelSecrets {
  const out: ChannelSecrets = {};
  for (const key of Object.keys(DEFAULT_ENV_NAMES) as (keyof ChannelSecrets)[]) {
    const value = env[names[key] ?? DEFAULT_ENV_NAMES[key]]?.trim();
    if (value) out[key] = value;
  }
  return out;
}

/** Every secret value, for masking and redaction. E-mail addresses are not secrets. */
export function secretValues(secrets: ChannelSecrets): string[] {
  return [
    secrets.slackWebhookUrl,
    secrets.teamsWebhookUrl,
    secrets.discordWebhookUrl,
    secrets.webhookUrl,
    secrets.webhookSecret,
    secrets.smtpUrl,
  ].filter((s): s is string => typeof s === 'string' && s !== '');
}

export function assertChannels(names: readonly string[]): ChannelName[] {
  const out: ChannelName[] = [];
  for (const raw of names) {
    const name = raw.trim().toLowerCase();
    if (!(CHANNELS as readonly string[]).includes(name)) {
      throw new ConfigError(
        `channel ${describeValue(raw)} is not known; use one or more of ${CHANNELS.join(', ')}`,
        { field: 'channels' },
      );
    }
    if (!out.includes(name as ChannelName)) out.push(name as ChannelName);
  }
  return out;
}

export type ChannelSetup =
  | {
      channel: ChannelName;
      state: 'configured';
      url: string;
      signingSecret?: string;
      smtp?: { url: string; to: string; from: string };
    }
  | { channel: ChannelName; state: 'skipped'; reason: string }
  | { channel: ChannelName; state: 'misconfigured'; reason: string };

/** A problem with a webhook URL, worded without the URL; undefined when it is usable. */
export function webhookUrlProblem(
  value: string,
  variable: string,
  policy: UrlPolicy = {},
): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `${variable} is not a valid URL (the value is not shown because it is a secret); expected https://...`;
  }
  const problem = destinationProblem(url, policy, 'http');
  return problem ? `${variable} ${problem} (the value is not shown because it is a secret)` : undefined;
}

/** Office 365 connectors (…webhook.office.com) are retired by Microsoft and stop accepting posts. */
export function isLegacyTeamsUrl(value: string): boolean {
  try {
    const host = new URL(value).hostname.toLowerCase();
    return (
      host === 'webhook.office.com' ||
      host.endsWith('.webhook.office.com') ||
      host === 'outlook.office.com' ||
      host === 'outlook.office365.com'
    );
  } catch {
    return false;
  }
}

export const LEGACY_TEAMS_EXPLANATION =
  'is an Office 365 connector URL (webhook.office.com); Microsoft has retired these connectors. In Teams, add the ' +
  'Workflows template "Post to a channel when a webhook request is received" to the channel and use the URL it ' +
  'gives you instead (it receives the same Adaptive Card this action sends)';

export function setupChannels(
  channels: readonly ChannelName[],
  secrets: ChannelSecrets,
  names: Partial<Record<keyof ChannelSecrets, string>> = {},
  policy: UrlPolicy = {},
): ChannelSetup[] {
  const varName = (key: keyof ChannelSecrets): string => names[key] ?? DEFAULT_ENV_NAMES[key];
  return channels.map((channel): ChannelSetup => {
    const webhook = (
      key: 'slackWebhookUrl' | 'teamsWebhookUrl' | 'discordWebhookUrl' | 'webhookUrl',
    ): ChannelSetup => {
      const value = secrets[key];
      if (!value) return { channel, state: 'skipped', reason: `${varName(key)} is not set` };
      const problem = webhookUrlProblem(value, varName(key), policy);
      if (problem) return { channel, state: 'misconfigured', reason: problem };
      if (channel === 'teams' && isLegacyTeamsUrl(value)) {
        return { channel, state: 'misconfigured', reason: `${varName(key)} ${LEGACY_TEAMS_EXPLANATION}` };
      }
      return {
        channel,
        state: 'configured',
        url: value,
        ...(channel === 'webhook' && secrets.webhookSecret ? { signingSecret: secrets.webhookSecret } : {}),
      };
    };
    switch (channel) {
      case 'slack':
        return webhook('slackWebhookUrl');
      case 'teams':
        return webhook('teamsWebhookUrl');
      case 'discord':
        return webhook('discordWebhookUrl');
      case 'webhook':
        return webhook('webhookUrl');
      case 'email': {
        const url = secrets.smtpUrl;
        if (!url) return { channel, state: 'skipped', reason: `${varName('smtpUrl')} is not set` };
        let protocol = '';
        let parsed: URL;
        try {
          parsed = new URL(url);
          protocol = parsed.protocol;
        } catch {
          return {
            channel,
            state: 'misconfigured',
            reason: `${varName('smtpUrl')} is not a valid URL (the value is not shown because it is a secret); expected smtp://user:pass@host:587 or smtps://user:pass@host:465`,
          };
        }
        if (protocol !== 'smtp:' && protocol !== 'smtps:') {
          return {
            channel,
            state: 'misconfigured',
            reason: `${varName('smtpUrl')} must start with smtp:// (STARTTLS) or smtps:// (TLS); found ${protocol}//`,
          };
        }
        const hostProblem = destinationProblem(parsed, policy, 'smtp');
        if (hostProblem)
          return {
            channel,
            state: 'misconfigured',
            reason: `${varName('smtpUrl')} ${hostProblem} (the value is not shown because it is a secret)`,
          };
        if (!secrets.emailTo)
          return {
            channel,
            state: 'misconfigured',
            reason: `${varName('emailTo')} is not set (the recipients, comma-separated)`,
          };
        if (!secrets.emailFrom)
          return {
            channel,
            state: 'misconfigured',
            reason: `${varName('emailFrom')} is not set (the sender address)`,
          };
        return {
          channel,
          state: 'configured',
          url,
          smtp: { url, to: secrets.emailTo, from: secrets.emailFrom },
        };
      }
    }
  });
}
