import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { secretForms } from '@guarded-rollout/action-io';
import { ConfigError } from '@guarded-rollout/config';
import {
  FALLBACK_FILE,
  readUndelivered,
  resultMarkdown,
  describeResult,
  sendNotification,
  type SendOptions,
} from '../src/index.js';
import { TEMPLATE_DIR, VIOLATION_DETAILS } from './fixtures.js';
import { fakeClock, startSink, type Sink, type SinkReply } from './sink.js';
import { startSmtpSink, type SmtpSink } from './smtp-sink.js';

let sink: Sink | undefined;
let smtp: SmtpSink | undefined;
afterEach(async () => {
  await sink?.close();
  await smtp?.close();
  sink = smtp = undefined;
});

const SMTP_PASS = 'smtp-pass-s3cret';
const HOOK_SECRET = 'hmac-signing-secret-42';

/** One sink answers all four webhook channels, each on its own secret-looking path. */
async function setup(replies: Partial<Record<string, SinkReply>> = {}) {
  sink = await startSink((req) => replies[req.path.split('/')[1]!] ?? { status: 200, body: 'ok' });
  smtp = await startSmtpSink();
  const env = {
    SLACK_WEBHOOK_URL: sink.urlFor('/slack/T000/B000/XXXXslacktoken'),
    TEAMS_WEBHOOK_URL: sink.urlFor('/teams/workflows/abc/triggers/manual/paths/invoke?sig=teamsSIGtoken'),
    DISCORD_WEBHOOK_URL: sink.urlFor('/discord/api/webhooks/123/discordTOKENvalue'),
    NOTIFY_WEBHOOK_URL: sink.urlFor('/webhook/hooks/generic-token-value'),
    NOTIFY_WEBHOOK_SECRET: HOOK_SECRET,
    SMTP_URL: `smtp://mailer:${SMTP_PASS}@127.0.0.1:${smtp.port}`,
    NOTIFY_EMAIL_TO: 'oncall@example.test',
    NOTIFY_EMAIL_FROM: 'rollout@example.test',
  };
  return env;
}

function base(env: NodeJS.ProcessEnv, extra: Partial<SendOptions> = {}): SendOptions {
  return {
    event: 'gate-violation',
    environment: 'production',
    details: VIOLATION_DETAILS,
    env,
    defaultTemplateDir: TEMPLATE_DIR,
    fallbackDir: mkdtempSync(join(tmpdir(), 'notify-fallback-')),
    ...(smtp ? { smtpTls: { ca: [smtp.cert] } } : {}),
    // Generous: a STARTTLS handshake on a busy machine can take longer than a hang test's timeout.
    attemptTimeoutMs: 3000,
    budgetMs: 5000,
    random: () => 0,
    ...extra,
  };
}

describe('sendNotification', () => {
  it('delivers to all five channels in parallel with one dedupe key, a valid HMAC signature and no fallback', async () => {
    const env = await setup();
    const result = await sendNotification(base(env));
    expect(result.delivered).toEqual({ slack: true, teams: true, discord: true, email: true, webhook: true });
    expect(result.fallbackPath).toBeNull();
    expect(result.anyFailed).toBe(false);
    const paths = sink!.requests.map((r) => r.path.split('/')[1]).sort();
    expect(paths).toEqual(['discord', 'slack', 'teams', 'webhook']);
    for (const r of sink!.requests) expect(r.headers['x-guarded-rollout-dedupe-key']).toBe(result.dedupeKey);
    const hook = sink!.requests.find((r) => r.path.startsWith('/webhook'))!;
    expect(hook.headers['x-guarded-rollout-signature-256']).toBe(
      `sha256=${createHmac('sha256', HOOK_SECRET).update(hook.body).digest('hex')}`,
    );
    expect(hook.json).toMatchObject({
      event: 'gate-violation',
      environment: 'production',
      dedupeKey: result.dedupeKey,
    });
    expect(smtp!.messages).toHaveLength(1);
    expect(smtp!.messages[0]!.mail.headers.get('x-guarded-rollout-dedupe-key')).toBe(result.dedupeKey);
    const teams = sink!.requests.find((r) => r.path.startsWith('/teams'))!.json as {
      attachments: { content: { version: string } }[];
    };
    expect(teams.attachments[0]!.content.version).toBe('1.4');
  });

  it('skips a channel whose variable is unset, and reports it as such', async () => {
    const env = await setup();
    delete (env as Record<string, string | undefined>).DISCORD_WEBHOOK_URL;
    const result = await sendNotification(base(env, { channels: ['slack', 'discord'] }));
    expect(result.delivered).toEqual({ slack: true, discord: 'skipped' });
    expect(result.channels.find((c) => c.channel === 'discord')!.reason).toBe(
      'DISCORD_WEBHOOK_URL is not set',
    );
    expect(result.fallbackPath).toBeNull();
  });

  it('keeps every undelivered message in the fallback file while the others are delivered', async () => {
    const env = await setup({
      discord: { status: 404, body: '{"message":"Unknown Webhook","code":10015}' },
      slack: { status: 500 },
      teams: 'hang',
    });
    const clock = fakeClock(Date.now());
    // E-mail is left out: its STARTTLS handshake may not fit the short timeout the hang needs.
    const options = base(env, {
      clock,
      budgetMs: 10_000,
      attemptTimeoutMs: 300,
      channels: ['slack', 'teams', 'discord', 'webhook'],
    });
    const result = await sendNotification(options);
    expect(result.delivered).toEqual({
      slack: false,
      teams: false,
      discord: false,
      webhook: true,
    });
    expect(result.anyFailed).toBe(true);
    expect(result.fallbackPath).toBe(join(options.fallbackDir!, FALLBACK_FILE));
    const journal = readFileSync(result.fallbackPath!, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    // Journal: one pending line per channel before any attempt, then one final line each.
    expect(journal.slice(0, 4).map((l) => l.status)).toEqual(['pending', 'pending', 'pending', 'pending']);
    expect(
      journal
        .slice(4)
        .map((l) => `${l.channel} ${l.status}`)
        .sort(),
    ).toEqual(['discord failed', 'slack failed', 'teams failed', 'webhook delivered']);
    const lines = readUndelivered(result.fallbackPath!) as unknown as Record<string, unknown>[];
    expect(lines.map((l) => l.channel).sort()).toEqual(['discord', 'slack', 'teams']);
    const discord = lines.find((l) => l.channel === 'discord')!;
    expect(discord).toMatchObject({
      event: 'gate-violation',
      environment: 'production',
      attempts: 1,
      dedupeKey: result.dedupeKey,
      status: 'failed',
    });
    expect(discord.error).toMatch(/the Discord webhook no longer exists/);
    expect((discord.payload as { embeds: unknown[] }).embeds).toHaveLength(1);
    expect(lines.find((l) => l.channel === 'slack')).toMatchObject({
      attempts: 4,
      error: expect.stringContaining('HTTP 500 after 4 attempts'),
    });
    expect(lines.find((l) => l.channel === 'teams')!.error).toMatch(/timed out/);
    expect(sink!.requestsTo('/discord/api/webhooks/123/discordTOKENvalue')).toHaveLength(1); // 404: no retry
  });

  it('ends within the time budget when a channel hangs, without holding back the others', async () => {
    const env = await setup({ teams: 'hang' });
    const started = Date.now();
    const result = await sendNotification(
      base(env, { budgetMs: 1500, attemptTimeoutMs: 1000, random: () => 0.5 }),
    );
    const elapsed = Date.now() - started;
    expect(result.delivered).toMatchObject({
      slack: true,
      discord: true,
      webhook: true,
      email: true,
      teams: false,
    });
    expect(elapsed).toBeLessThan(2500);
    const others = result.channels.filter((c) => c.channel !== 'teams');
    for (const c of others) expect(c.durationMs).toBeLessThan(1000);
  });

  it('stops at once when cancelled and still keeps the undelivered message', async () => {
    const env = await setup({ teams: 'hang', discord: { status: 503 } });
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 300);
    const result = await sendNotification(
      base(env, {
        signal: controller.signal,
        budgetMs: 20_000,
        attemptTimeoutMs: 10_000,
        random: () => 1,
        retryPolicy: { baseDelayMs: 5000 },
      }),
    );
    expect(Date.now() - started).toBeLessThan(2000);
    expect(result.delivered).toMatchObject({ slack: true, webhook: true, teams: false, discord: false });
    expect(result.channels.find((c) => c.channel === 'teams')!.reason).toBe('cancelled after 1 attempt');
    expect(result.channels.find((c) => c.channel === 'discord')!.reason).toBe('cancelled after 1 attempt');
    expect(
      readUndelivered(result.fallbackPath!)
        .map((l) => l.channel)
        .sort(),
    ).toEqual(['discord', 'teams']);
  });

  it('writes a fallback entry when no channel is configured at all', async () => {
    const options = base({});
    const result = await sendNotification(options);
    expect(Object.values(result.delivered)).toEqual(['skipped', 'skipped', 'skipped', 'skipped', 'skipped']);
    const [line] = readFileSync(result.fallbackPath!, 'utf8').trim().split('\n');
    expect(JSON.parse(line!)).toMatchObject({
      channel: 'none',
      error: 'no channel is configured',
      title: '🚨 Quality gate violated: production 1.4.2',
    });
  });

  it('dry-run renders every channel payload and sends nothing', async () => {
    const env = await setup();
    const result = await sendNotification(base(env, { dryRun: true }));
    expect(sink!.requests).toHaveLength(0);
    expect(smtp!.attempts).toBe(0);
    expect(result.fallbackPath).toBeNull();
    expect(Object.values(result.delivered)).toEqual(['dry-run', 'dry-run', 'dry-run', 'dry-run', 'dry-run']);
    expect(result.channels.every((c) => c.payload !== undefined)).toBe(true);
    expect(resultMarkdown(result)).toContain('<details><summary>slack payload</summary>');
  });
});

describe('bad input', () => {
  it('refuses an unknown event and an unknown channel before sending anything', async () => {
    await expect(sendNotification({ ...base({}), event: 'deploy-exploded' })).rejects.toThrow(
      /event: "deploy-exploded" is not a known event; use one of deploy-started, .*custom/,
    );
    await expect(sendNotification(base({}, { channels: ['slack', 'pager'] }))).rejects.toThrow(ConfigError);
    await expect(sendNotification(base({}, { channels: ['pager'] }))).rejects.toThrow(
      /channel "pager" is not known; use one or more of slack, teams, discord, email, webhook/,
    );
  });

  it('reports a malformed webhook URL without printing it, and still delivers the other channels', async () => {
    const env = await setup();
    const bad = 'hxxps//hooks.example.test/services/T/B/leakytoken123';
    const result = await sendNotification(
      base({
        ...env,
        SLACK_WEBHOOK_URL: bad,
        DISCORD_WEBHOOK_URL: 'ftp://files.example.test/discordtoken999',
      }),
    );
    const slack = result.channels.find((c) => c.channel === 'slack')!;
    expect(slack.status).toBe('misconfigured');
    expect(slack.reason).toBe(
      'SLACK_WEBHOOK_URL is not a valid URL (the value is not shown because it is a secret); expected https://...',
    );
    expect(result.channels.find((c) => c.channel === 'discord')!.reason).toMatch(
      /DISCORD_WEBHOOK_URL must be an https:\/\/ URL \(http:\/\/ only to 127.0.0.1, ::1 or localhost; found a ftp: URL/,
    );
    expect(result.delivered).toMatchObject({
      slack: false,
      discord: false,
      teams: true,
      email: true,
      webhook: true,
    });
    const all = JSON.stringify(result) + readFileSync(result.fallbackPath!, 'utf8');
    expect(all).not.toContain('leakytoken123');
    expect(all).not.toContain('discordtoken999');
  });

  it('refuses a retired Office 365 connector URL for Teams and explains the migration', async () => {
    const result = await sendNotification(
      base(
        {
          TEAMS_WEBHOOK_URL:
            'https://contoso.webhook.office.com/webhookb2/abc@def/IncomingWebhook/legacytoken/xyz',
        },
        { channels: ['teams'] },
      ),
    );
    const teams = result.channels[0]!;
    expect(teams.status).toBe('misconfigured');
    expect(teams.reason).toMatch(
      /TEAMS_WEBHOOK_URL is an Office 365 connector URL \(webhook\.office\.com\); Microsoft has retired these connectors.*Workflows/,
    );
    expect(teams.reason).not.toContain('legacytoken');
  });

  it('names an e-mail setup that lacks recipients', async () => {
    const result = await sendNotification(
      base(
        { SMTP_URL: 'smtp://u:p4ssw0rd-x@127.0.0.1:1', NOTIFY_EMAIL_FROM: 'a@b.test' },
        { channels: ['email'] },
      ),
    );
    expect(result.channels[0]).toMatchObject({
      status: 'misconfigured',
      reason: 'NOTIFY_EMAIL_TO is not set (the recipients, comma-separated)',
    });
  });
});

describe('secrets', () => {
  it('never appear, in any encoding, in results, reports, errors or the fallback file', async () => {
    const env = await setup({ slack: 'reset', discord: { status: 400, body: 'bad' } });
    // A refused SMTP password makes nodemailer produce an error of its own.
    env.SMTP_URL = `smtp://mailer:wrong-${SMTP_PASS}@127.0.0.1:${smtp!.port}`;
    // fetch refuses a URL with credentials and echoes the whole URL in its error message.
    env.TEAMS_WEBHOOK_URL = env.TEAMS_WEBHOOK_URL.replace('http://', 'http://bot:teamsCREDtoken@');
    const options = base(env, {
      channels: ['slack', 'teams', 'discord', 'email', 'webhook'],
      retryPolicy: { maxAttempts: 2 },
    });
    const result = await sendNotification(options);
    const dry = await sendNotification({ ...options, dryRun: true });
    const captured = [
      JSON.stringify(result),
      JSON.stringify(dry),
      resultMarkdown(result),
      resultMarkdown(dry),
      describeResult(result).join('\n'),
      readFileSync(result.fallbackPath!, 'utf8'),
    ].join('\n');
    const secrets = [
      env.SLACK_WEBHOOK_URL,
      env.TEAMS_WEBHOOK_URL,
      env.DISCORD_WEBHOOK_URL,
      env.NOTIFY_WEBHOOK_URL,
      HOOK_SECRET,
      env.SMTP_URL,
      SMTP_PASS,
      `wrong-${SMTP_PASS}`,
    ];
    for (const secret of secrets) {
      for (const form of [
        secret,
        encodeURIComponent(secret),
        Buffer.from(secret).toString('base64'),
        ...secretForms(secret),
      ]) {
        expect({ form, found: captured.includes(form) }).toEqual({ form, found: false });
      }
    }
    for (const token of [
      'XXXXslacktoken',
      'teamsSIGtoken',
      'teamsCREDtoken',
      'discordTOKENvalue',
      'generic-token-value',
    ])
      expect(captured).not.toContain(token);
    expect(result.delivered).toMatchObject({
      slack: false,
      discord: false,
      email: false,
      teams: false,
      webhook: true,
    });
    const teams = result.channels.find((c) => c.channel === 'teams')!;
    expect(teams.reason).toMatch(/^request refused: .*includes credentials: \*\*\* \(not retried\)$/);
    expect(teams.attempts).toBe(1);
  });
});
