// Hard budgets against fault-injecting receivers on 127.0.0.1: every call ends within its budget
// + 1 s, whatever the receiver does, and the fallback journal holds the message (pending before
// the first attempt, failed after). Small budgets (2 s) keep it fast; bounds are generous for a
// loaded machine while still far below what an unbounded wait would take.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { readUndelivered, sendNotification, startNotification, type SendOptions } from '../src/index.js';
import { httpFaults, smtpFaults, type Receiver } from './faults.js';
import { TEMPLATE_DIR, VIOLATION_DETAILS } from './fixtures.js';

const BUDGET_MS = 2000;
const receivers: Receiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

function options(env: NodeJS.ProcessEnv, extra: Partial<SendOptions> = {}): SendOptions {
  return {
    event: 'gate-violation',
    environment: 'production',
    details: VIOLATION_DETAILS,
    env,
    defaultTemplateDir: TEMPLATE_DIR,
    fallbackDir: (lastDir = mkdtempSync(join(tmpdir(), 'notify-faults-'))),
    budgetMs: BUDGET_MS,
    attemptTimeoutMs: BUDGET_MS,
    random: () => 0,
    ...extra,
  };
}

/** The journal of a call that delivered everything (fallbackPath is then null). */
function fallbackOf(result: { fallbackPath: string | null }, dir = lastDir): string {
  return result.fallbackPath ?? join(dir, 'notifications.jsonl');
}
let lastDir = '';

function journal(path: string): Array<Record<string, unknown>> {
  return readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const webhookCases: Array<[string, () => Promise<Receiver>, RegExp]> = [
  ['accepts the POST and never answers', httpFaults.hang, /timed out|time budget/],
  ['sends half the headers, then nothing', httpFaults.halfHeaders, /timed out|time budget/],
  ['answers 503 with half the promised body', httpFaults.halfBody, /timed out|time budget/],
  ['answers 200 only after 30 s', httpFaults.slow200, /timed out|time budget/],
  ['answers 500 with a body that never ends', httpFaults.unending500, /HTTP 500/],
  ['trickles its response one byte at a time (slow-loris)', httpFaults.slowLoris, /timed out|time budget/],
];

describe(`a webhook receiver that misbehaves (budget ${BUDGET_MS} ms)`, () => {
  it.each(webhookCases)(
    '%s: the call ends within budget + 1 s and the message is in the fallback',
    async (_name, start, why) => {
      const receiver = await start();
      receivers.push(receiver);
      const opts = options(
        { NOTIFY_WEBHOOK_URL: `${receiver.url}/hooks/tokenTOKENtoken` },
        { channels: ['webhook'] },
      );
      const started = Date.now();
      const result = await sendNotification(opts);
      const elapsed = Date.now() - started;
      expect(elapsed).toBeLessThan(BUDGET_MS + 1000);
      expect(receiver.connections).toBeGreaterThan(0);
      expect(result.delivered).toEqual({ webhook: false });
      expect(result.channels[0]!.reason).toMatch(why);
      const lines = journal(result.fallbackPath!);
      expect(lines.map((l) => l.status)).toEqual(['pending', 'failed']);
      expect(lines[0]!.payload).toEqual(lines[1]!.payload);
      expect(readUndelivered(result.fallbackPath!)).toHaveLength(1);
    },
  );

  it('counts a 200 whose body never finishes as delivered, at once (no timeout, no duplicate)', async () => {
    const receiver = await httpFaults.acceptedHalfBody();
    receivers.push(receiver);
    const started = Date.now();
    const result = await sendNotification(
      options({ NOTIFY_WEBHOOK_URL: `${receiver.url}/hooks/tokenTOKENtoken` }, { channels: ['webhook'] }),
    );
    expect(Date.now() - started).toBeLessThan(1000);
    expect(result.delivered).toEqual({ webhook: true });
    expect(receiver.connections).toBe(1);
    expect(journal(fallbackOf(result)).map((l) => l.status)).toEqual(['pending', 'delivered']);
  });

  it('gives up at once on 429 with Retry-After: 3600 (beyond the budget)', async () => {
    const receiver = await httpFaults.retryAfterHour();
    receivers.push(receiver);
    const started = Date.now();
    const result = await sendNotification(
      options(
        { NOTIFY_WEBHOOK_URL: `${receiver.url}/hooks/tokenTOKENtoken` },
        { channels: ['webhook'], budgetMs: 30_000 },
      ),
    );
    expect(Date.now() - started).toBeLessThan(1000);
    expect(result.channels[0]).toMatchObject({ status: 'failed', attempts: 1 });
    expect(result.channels[0]!.reason).toMatch(/HTTP 429 asked to wait 3600000 ms/);
    expect(readUndelivered(result.fallbackPath!)).toHaveLength(1);
  });

  it('does not follow a redirect (here: to the metadata service)', async () => {
    const receiver = await httpFaults.redirectToMetadata();
    receivers.push(receiver);
    const result = await sendNotification(
      options({ NOTIFY_WEBHOOK_URL: `${receiver.url}/hooks/tokenTOKENtoken` }, { channels: ['webhook'] }),
    );
    expect(result.channels[0]).toMatchObject({ status: 'failed', attempts: 1 });
    expect(result.channels[0]!.reason).toMatch(/HTTP 307 \(a redirect\); redirects are not followed/);
    expect(receiver.connections).toBe(1);
  });

  it('ends within budget + 1 s even when fetch ignores its AbortSignal', async () => {
    const neverSettles = (() => new Promise<Response>(() => undefined)) as unknown as typeof fetch;
    const started = Date.now();
    const result = await sendNotification(
      options(
        { NOTIFY_WEBHOOK_URL: 'https://hooks.example.test/hooks/tokenTOKENtoken' },
        {
          channels: ['webhook'],
          fetch: neverSettles,
          urlPolicy: { allowLinkLocal: true }, // skips the DNS check of the made-up host
        },
      ),
    );
    expect(Date.now() - started).toBeLessThan(BUDGET_MS + 1000);
    expect(result.delivered).toEqual({ webhook: false });
  });
});

describe(`an SMTP server that misbehaves (budget ${BUDGET_MS} ms)`, () => {
  it.each([
    ['never greets (smtp-server holding its 220)', smtpFaults.neverGreets],
    ['greets one line at a time forever (slow-loris)', smtpFaults.slowLoris],
  ] as Array<[string, () => Promise<Receiver>]>)(
    '%s: the call ends within budget + 1 s',
    async (_name, start) => {
      const receiver = await start();
      receivers.push(receiver);
      const env = {
        SMTP_URL: `smtp://mailer:pass-word-42@127.0.0.1:${receiver.port}`,
        NOTIFY_EMAIL_TO: 'oncall@example.test',
        NOTIFY_EMAIL_FROM: 'rollout@example.test',
      };
      const started = Date.now();
      const result = await sendNotification(options(env, { channels: ['email'] }));
      expect(Date.now() - started).toBeLessThan(BUDGET_MS + 1000);
      expect(receiver.connections).toBeGreaterThan(0);
      expect(result.delivered).toEqual({ email: false });
      expect(journal(result.fallbackPath!).map((l) => l.status)).toEqual(['pending', 'failed']);
    },
  );
});

describe('all channels at once', () => {
  it('five hung channels end together within budget + 1 s, each journalled pending → failed', async () => {
    const hung = await httpFaults.hang();
    const mail = await smtpFaults.neverGreets();
    receivers.push(hung, mail);
    const env = {
      SLACK_WEBHOOK_URL: `${hung.url}/services/T0/B0/slackTOKEN1`,
      TEAMS_WEBHOOK_URL: `${hung.url}/workflows/abc/triggers/manual/paths/invoke?sig=teamsTOKEN2`,
      DISCORD_WEBHOOK_URL: `${hung.url}/api/webhooks/1/discordTOKEN3`,
      NOTIFY_WEBHOOK_URL: `${hung.url}/hooks/genericTOKEN4`,
      SMTP_URL: `smtp://mailer:pass-word-42@127.0.0.1:${mail.port}`,
      NOTIFY_EMAIL_TO: 'oncall@example.test',
      NOTIFY_EMAIL_FROM: 'rollout@example.test',
    };
    const started = Date.now();
    const handle = startNotification(options(env, { attemptTimeoutMs: 700 }));
    // Returned at once with the pending lines already on disk.
    expect(Date.now() - started).toBeLessThan(500);
    const result = await handle.done;
    expect(Date.now() - started).toBeLessThan(BUDGET_MS + 1000);
    expect(Object.values(result.delivered)).toEqual([false, false, false, false, false]);
    const lines = journal(result.fallbackPath!);
    expect(lines.slice(0, 5).every((l) => l.status === 'pending')).toBe(true);
    expect(lines.slice(5).map((l) => l.status)).toEqual(['failed', 'failed', 'failed', 'failed', 'failed']);
    expect(
      readUndelivered(result.fallbackPath!)
        .map((l) => l.channel)
        .sort(),
    ).toEqual(['discord', 'email', 'slack', 'teams', 'webhook']);
  });

  it('abort() on the handle ends every send at once and still journals them as failed', async () => {
    const hung = await httpFaults.hang();
    receivers.push(hung);
    const handle = startNotification(
      options(
        { NOTIFY_WEBHOOK_URL: `${hung.url}/hooks/genericTOKEN4` },
        { channels: ['webhook'], budgetMs: 60_000 },
      ),
    );
    await hung.firstContact;
    const started = Date.now();
    handle.abort();
    const result = await handle.done;
    expect(Date.now() - started).toBeLessThan(500);
    expect(result.channels[0]!.reason).toBe('cancelled after 1 attempt');
    expect(readUndelivered(result.fallbackPath!)).toMatchObject([{ channel: 'webhook', status: 'failed' }]);
  });
});
