// Secrets against receivers that echo back what they got (HTTP: path, query, headers, body, also
// URL-encoded and base64; SMTP: every line, so the AUTH LOGIN base64 credentials come back). The
// encodings searched for are built here independently of the redaction code, and every output of
// a call — result, report lines, job-summary markdown, fallback journal — is grepped for each.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import {
  describeResult,
  notificationRedactor,
  redactError,
  resultMarkdown,
  sendNotification,
} from '../src/index.js';
import { httpEcho, smtpEcho, type Receiver } from './faults.js';
import { TEMPLATE_DIR, VIOLATION_DETAILS } from './fixtures.js';
import { encodings, leaks, smtpLoginForms, SMTP_PASS, SMTP_USER, TOKENS } from './leak-forms.js';

const receivers: Receiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

describe('echoing receivers', () => {
  it('no secret part, in any encoding, reaches the result, the report, the summary or the fallback', async () => {
    const http = await httpEcho();
    const smtp = await smtpEcho();
    receivers.push(http, smtp);
    const [pub, seg, slack, teamsSig, discord, generic] = TOKENS;
    const env = {
      SLACK_WEBHOOK_URL: `${http.url}/services/${pub}/${seg}/${slack}`,
      TEAMS_WEBHOOK_URL: `${http.url}/workflows/wf1/triggers/manual/paths/invoke?api-version=2016-06-01&sig=${encodeURIComponent(teamsSig!)}`,
      DISCORD_WEBHOOK_URL: `${http.url}/api/webhooks/123456/${discord}`,
      NOTIFY_WEBHOOK_URL: `${http.url}/hooks/${generic}?key=queryVALUE88`,
      NOTIFY_WEBHOOK_SECRET: 'hmacSECRETkey44',
      SMTP_URL: `smtp://${encodeURIComponent(SMTP_USER)}:${encodeURIComponent(SMTP_PASS)}@127.0.0.1:${smtp.port}`,
      NOTIFY_EMAIL_TO: 'oncall@example.test',
      NOTIFY_EMAIL_FROM: 'rollout@example.test',
    };
    const fallbackDir = mkdtempSync(join(tmpdir(), 'notify-leaks-'));
    const result = await sendNotification({
      event: 'gate-violation',
      environment: 'production',
      details: VIOLATION_DETAILS,
      env,
      defaultTemplateDir: TEMPLATE_DIR,
      fallbackDir,
      budgetMs: 5000,
      attemptTimeoutMs: 3000,
      retryPolicy: { maxAttempts: 1 },
    });
    // The receivers really did get (and echo) the secrets.
    expect(http.seen.join('\n')).toContain(slack);
    expect(smtp.seen.join('\n')).toContain(Buffer.from(SMTP_PASS).toString('base64'));
    expect(result.delivered).toEqual({
      slack: false,
      teams: false,
      discord: false,
      email: false,
      webhook: false,
    });
    // What the echo said is in the report (minus the secrets): the test would prove nothing otherwise.
    const slackReason = result.channels.find((c) => c.channel === 'slack')!.reason!;
    expect(slackReason).toMatch(/you sent: POST (\/services\/?)?\*\*\*/);
    expect(result.channels.find((c) => c.channel === 'email')!.reason).toMatch(/SMTP 535.*bad login \*\*\*/);

    const outputs = [
      JSON.stringify(result),
      JSON.stringify(result, null, 2),
      describeResult(result).join('\n'),
      resultMarkdown(result),
      readFileSync(result.fallbackPath!, 'utf8'),
    ].join('\n');
    const forms = [
      ...Object.values(env)
        .filter((v) => !v.includes('example.test'))
        .flatMap(encodings),
      ...[seg!, slack!, teamsSig!, discord!, generic!, 'queryVALUE88', 'hmacSECRETkey44'].flatMap(encodings),
      ...smtpLoginForms(SMTP_USER, SMTP_PASS),
    ];
    expect(leaks(outputs, forms)).toEqual([]);
  });

  it('an unexpected error is redacted in its message and its stack before a doorway prints it', () => {
    const env = { SMTP_URL: `smtp://${SMTP_USER}:${encodeURIComponent(SMTP_PASS)}@mail.example.test:587` };
    const redact = notificationRedactor({ env });
    const b64 = Buffer.from(SMTP_PASS).toString('base64');
    const error = redactError(new Error(`boom while sending AUTH ${b64} for ${SMTP_USER}`), redact) as Error;
    expect(error.message).toBe('boom while sending AUTH *** for ***');
    expect(leaks(`${error.message}\n${error.stack}`, smtpLoginForms(SMTP_USER, SMTP_PASS))).toEqual([]);
  });
});
