// LOCAL ADAPTER (stand-in until packages/notify's sendNotification is wired in): delivers an
// event to every channel whose environment variable is set — Slack, Microsoft Teams and Discord
// incoming webhooks (each in its own payload shape), a generic JSON webhook signed with HMAC, and
// email over SMTP — and appends anything undelivered to the fallback file. Never throws; URLs and
// credentials never appear in what it returns or writes.
import { createHmac } from 'node:crypto';
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import type { NotificationRecord } from '../summary.js';
import type { NotifyEvent } from '../guarded.js';

export interface LocalNotifierOptions {
  environment: string;
  env: NodeJS.ProcessEnv;
  fallbackDir: string;
  timeoutMs?: number;
  /** One retry after a failed attempt, after this many ms. */
  retryDelayMs?: number;
}

const TITLES: Record<NotifyEvent, string> = {
  'deploy-started': '🚀 Deploy started',
  'deploy-succeeded': '✅ Deploy succeeded',
  'deploy-failed': '❌ Deploy failed',
  'gate-violation': '🚨 Quality gate violated',
  'rollback-started': '↩️ Rollback started',
  'rollback-succeeded': '✅ Rollback succeeded',
  'rollback-failed': '🔥 Rollback failed',
  escalation: '📣 Escalation',
  'monitoring-complete': '📊 Monitoring complete',
};

function bodyText(details: Record<string, unknown>): string {
  return Object.entries(details)
    .filter(([k]) => k !== 'environment')
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join('\n');
}

async function post(
  url: string,
  payload: unknown,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<void> {
  const body = JSON.stringify(payload);
  const res = await fetch(url, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', ...headers },
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
}

function reasonOf(error: unknown): string {
  const e = error as { name?: string; message?: string; cause?: { code?: string } };
  if (e?.name === 'TimeoutError') return 'timed out';
  return e?.cause?.code ?? e?.message ?? String(error);
}

/** A Notifier that always resolves with the per-channel record. */
export type RecordingNotifier = (
  event: NotifyEvent,
  details: Record<string, unknown>,
) => Promise<NotificationRecord>;

export function localNotifier(options: LocalNotifierOptions): RecordingNotifier {
  const timeoutMs = options.timeoutMs ?? 5000;
  const env = options.env;
  return async (event, details): Promise<NotificationRecord> => {
    const title = `${TITLES[event]} — ${options.environment}`;
    const text = bodyText(details);
    const channels: Array<[string, string | undefined, () => Promise<void>]> = [
      [
        'slack',
        env.SLACK_WEBHOOK_URL,
        () =>
          post(
            env.SLACK_WEBHOOK_URL!,
            {
              text: `*${title}*\n${text}`,
              blocks: [
                { type: 'header', text: { type: 'plain_text', text: title } },
                { type: 'section', text: { type: 'mrkdwn', text: text || event } },
              ],
            },
            {},
            timeoutMs,
          ),
      ],
      [
        'teams',
        env.TEAMS_WEBHOOK_URL,
        () =>
          post(
            env.TEAMS_WEBHOOK_URL!,
            {
              type: 'message',
              attachments: [
                {
                  contentType: 'application/vnd.microsoft.card.adaptive',
                  content: {
                    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
                    type: 'AdaptiveCard',
                    version: '1.4',
                    body: [
                      { type: 'TextBlock', text: title, weight: 'Bolder', size: 'Medium' },
                      { type: 'TextBlock', text: text || event, wrap: true },
                    ],
                  },
                },
              ],
            },
            {},
            timeoutMs,
          ),
      ],
      // Discord caps content at 2000 characters.
      [
        'discord',
        env.DISCORD_WEBHOOK_URL,
        () =>
          post(env.DISCORD_WEBHOOK_URL!, { content: `**${title}**\n${text}`.slice(0, 2000) }, {}, timeoutMs),
      ],
      [
        'webhook',
        env.NOTIFY_WEBHOOK_URL,
        () => {
          const payload = {
            event,
            environment: options.environment,
            title,
            details,
            at: new Date().toISOString(),
          };
          const signature = env.NOTIFY_WEBHOOK_SECRET
            ? `sha256=${createHmac('sha256', env.NOTIFY_WEBHOOK_SECRET).update(JSON.stringify(payload)).digest('hex')}`
            : undefined;
          return post(
            env.NOTIFY_WEBHOOK_URL!,
            payload,
            signature ? { 'x-guarded-rollout-signature': signature } : {},
            timeoutMs,
          );
        },
      ],
      [
        'email',
        env.SMTP_URL && env.NOTIFY_EMAIL_TO ? env.SMTP_URL : undefined,
        async () => {
          const transport = nodemailer.createTransport(env.SMTP_URL!, {
            connectionTimeout: timeoutMs,
            greetingTimeout: timeoutMs,
            socketTimeout: timeoutMs,
          } as never);
          try {
            await transport.sendMail({
              from: env.NOTIFY_EMAIL_FROM ?? 'guarded-rollout@localhost',
              to: env.NOTIFY_EMAIL_TO,
              subject: title,
              text: text || event,
            });
          } finally {
            transport.close();
          }
        },
      ],
    ];
    const delivered: Record<string, boolean | 'skipped'> = {};
    const failures: Array<{ channel: string; error: string }> = [];
    await Promise.all(
      channels.map(async ([name, configured, send]) => {
        if (!configured) return void (delivered[name] = 'skipped');
        for (let attempt = 1; attempt <= 2; attempt++) {
          try {
            await send();
            delivered[name] = true;
            return;
          } catch (error) {
            if (attempt === 2) {
              delivered[name] = false;
              failures.push({ channel: name, error: reasonOf(error) });
            } else await new Promise((r) => setTimeout(r, options.retryDelayMs ?? 500));
          }
        }
      }),
    );
    const record: NotificationRecord = { event, at: new Date().toISOString(), delivered };
    if (failures.length) {
      mkdirSync(options.fallbackDir, { recursive: true });
      const fallbackPath = join(options.fallbackDir, 'notifications.jsonl');
      for (const f of failures) {
        appendFileSync(
          fallbackPath,
          `${JSON.stringify({ at: record.at, event, environment: options.environment, channel: f.channel, error: f.error, title, details })}\n`,
        );
      }
      record.fallbackPath = fallbackPath;
    }
    return record;
  };
}
