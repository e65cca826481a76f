import { afterEach, describe, expect, it } from '@jest/globals';
import {
  DEFAULT_RETRY_POLICY,
  renderEmail,
  sendEmail,
  systemClock,
  type DeliveryEnvironment,
} from '../src/index.js';
import { message, VIOLATION_DETAILS } from './fixtures.js';
import { fakeClock } from './sink.js';
import { startSmtpSink, type SmtpSink } from './smtp-sink.js';

let sink: SmtpSink | undefined;
afterEach(async () => {
  await sink?.close();
  sink = undefined;
});

const env = (clock = systemClock): DeliveryEnvironment => ({
  fetch,
  clock,
  random: () => 0.5,
  policy: DEFAULT_RETRY_POLICY,
  attemptTimeoutMs: 5000,
  deadline: clock.now() + 20_000,
});

async function send(s: SmtpSink, scheme: 'smtp' | 'smtps', e = env()) {
  const content = renderEmail(message('gate-violation', VIOLATION_DETAILS));
  return sendEmail(
    {
      url: `${scheme}://mailer:smtp-pass-s3cret@127.0.0.1:${s.port}`,
      to: 'oncall@example.test, sre@example.test',
      from: 'Guarded Rollout <rollout@example.test>',
      tls: { ca: [s.cert] },
    },
    content,
    { 'X-Guarded-Rollout-Dedupe-Key': 'gr-mail-key' },
    '<gr-mail-key@guarded-rollout.invalid>',
    e,
  );
}

describe('email over SMTP (smtp-server sink, mailparser)', () => {
  it('upgrades smtp:// with STARTTLS, authenticates, and sends HTML and text parts', async () => {
    sink = await startSmtpSink();
    const result = await send(sink, 'smtp');
    expect(result).toMatchObject({ delivered: true, attempts: 1 });
    expect(sink.messages).toHaveLength(1);
    const { mail, secure, user } = sink.messages[0]!;
    expect(secure).toBe(true);
    expect(user).toBe('mailer');
    expect(mail.subject).toBe('[guarded-rollout] [production] 🚨 Quality gate violated: production 1.4.2');
    expect(mail.text).toContain('p95_hash_time: 2400 ms (limit > 2000 ms over 15m)');
    expect(mail.html).toContain('<strong>p95_hash_time</strong>: 2400 ms (limit &gt; 2000 ms over 15m)');
    expect(mail.messageId).toBe('<gr-mail-key@guarded-rollout.invalid>');
    expect(mail.headers.get('x-guarded-rollout-dedupe-key')).toBe('gr-mail-key');
    expect(JSON.stringify(mail.to)).toContain('sre@example.test');
  });

  it('speaks implicit TLS for smtps://', async () => {
    sink = await startSmtpSink({ secure: true });
    const result = await send(sink, 'smtps');
    expect(result.delivered).toBe(true);
    expect(sink.messages[0]!.secure).toBe(true);
  });

  it('retries a 4xx SMTP reply and gives up at once on a 5xx reply', async () => {
    sink = await startSmtpSink({ failWith: (n) => (n === 1 ? 451 : undefined) });
    const clock = fakeClock(Date.now());
    const ok = await send(sink, 'smtp', env(clock));
    expect(ok).toMatchObject({ delivered: true, attempts: 2 });
    expect(clock.waits).toEqual([250]);
    await sink.close();
    sink = await startSmtpSink({ failWith: () => 554 });
    const refused = await send(sink, 'smtp');
    expect(refused).toMatchObject({ delivered: false, attempts: 1 });
    expect(refused.error).toMatch(/^SMTP 554/);
  });

  it('reports a wrong password without showing it', async () => {
    sink = await startSmtpSink({ pass: 'another-password' });
    const result = await send(sink, 'smtp');
    expect(result.delivered).toBe(false);
    expect(result.attempts).toBe(1);
    expect(result.error).toMatch(/535/);
    expect(result.error).not.toContain('smtp-pass-s3cret');
  });
});
