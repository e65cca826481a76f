// Where notifications may go: https only (http only to loopback), link-local and cloud metadata
// addresses refused unless allowed explicitly — on the literal host and after DNS resolution —
// and clear errors that never show the (secret) URL.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import {
  assertResolvedHostAllowed,
  destinationProblem,
  forbiddenAddress,
  sendNotification,
  webhookUrlProblem,
} from '../src/index.js';
import { TEMPLATE_DIR } from './fixtures.js';

describe('webhook URL policy', () => {
  it.each([
    ['https://hooks.slack.com/services/T/B/x', undefined],
    ['http://127.0.0.1:8080/hook', undefined],
    ['http://localhost:8080/hook', undefined],
    ['http://[::1]:8080/hook', undefined],
    ['http://hooks.example.test/hook', /must be an https:\/\/ URL .*found a http: URL/],
    ['ftp://files.example.test/x', /must be an https:\/\/ URL .*found a ftp: URL/],
    ['https://169.254.169.254/latest/meta-data/', /169\.254\.169\.254 is a link-local address/],
    ['https://169.254.170.2/v2/credentials', /link-local/],
    ['https://2852039166/latest', /169\.254\.169\.254 is a link-local address/], // decimal form
    ['https://[::ffff:169.254.169.254]/x', /169\.254\.169\.254 is a link-local address/],
    ['https://[::ffff:a9fe:a9fe]/x', /169\.254\.169\.254 is a link-local address/],
    ['https://[fe80::1]/x', /link-local address \(fe80::\/10\)/],
    ['https://[fd00:ec2::254]/x', /AWS metadata service/],
    ['https://100.100.100.200/x', /Alibaba Cloud metadata/],
    [
      'https://metadata.google.internal/computeMetadata/v1/',
      /cloud metadata service \(metadata\.google\.internal\)/,
    ],
  ] as Array<[string, RegExp | undefined]>)('%s', (url, expected) => {
    const problem = webhookUrlProblem(url, 'NOTIFY_WEBHOOK_URL');
    if (expected === undefined) expect(problem).toBeUndefined();
    else {
      expect(problem).toMatch(expected);
      expect(problem).toMatch(/^NOTIFY_WEBHOOK_URL /);
      expect(problem).not.toContain(url);
    }
  });

  it('allows link-local and metadata addresses only when told to', () => {
    const url = new URL('https://169.254.169.254/hook');
    expect(destinationProblem(url, {}, 'http')).toMatch(/NOTIFY_ALLOW_LINK_LOCAL=1/);
    expect(destinationProblem(url, { allowLinkLocal: true }, 'http')).toBeUndefined();
  });

  it('refuses a name that resolves to a link-local address (checked after DNS)', async () => {
    const lookup = (async () => [
      { address: '93.184.215.14', family: 4 },
      { address: '169.254.169.254', family: 4 },
    ]) as unknown as typeof import('node:dns/promises').lookup;
    await expect(assertResolvedHostAllowed('rebind.example.test', {}, lookup)).rejects.toThrow(
      /the host resolves to 169\.254\.169\.254 is a link-local address/,
    );
    await expect(
      assertResolvedHostAllowed('rebind.example.test', { allowLinkLocal: true }, lookup),
    ).resolves.toBeUndefined();
    expect(forbiddenAddress('93.184.215.14')).toBeUndefined();
    expect(forbiddenAddress('127.0.0.1')).toBeUndefined();
  });

  it('sendNotification reports a metadata URL as misconfigured, unsent, and keeps the message', async () => {
    const fallbackDir = mkdtempSync(join(tmpdir(), 'notify-policy-'));
    const base = {
      event: 'custom',
      environment: 'production',
      details: { message: 'hi' },
      defaultTemplateDir: TEMPLATE_DIR,
      fallbackDir,
      channels: ['webhook'],
    };
    const refused = await sendNotification({
      ...base,
      env: { NOTIFY_WEBHOOK_URL: 'https://169.254.169.254/latest/meta-data/iam/secretTOKEN' },
    });
    expect(refused.channels[0]).toMatchObject({ status: 'misconfigured', attempts: 0 });
    expect(refused.channels[0]!.reason).toMatch(/NOTIFY_WEBHOOK_URL points at 169\.254\.169\.254/);
    expect(refused.fallbackPath).not.toBeNull();
    // Allowed on purpose: it is tried (and fails fast here: nothing listens on that address).
    const allowed = await sendNotification({
      ...base,
      env: { NOTIFY_WEBHOOK_URL: 'https://169.254.169.254/hook', NOTIFY_ALLOW_LINK_LOCAL: '1' },
      budgetMs: 1500,
      attemptTimeoutMs: 500,
      retryPolicy: { maxAttempts: 1 },
    });
    expect(allowed.channels[0]!.status).toBe('failed');
    expect(allowed.channels[0]!.attempts).toBe(1);
  });

  it('refuses an SMTP server on a metadata address', async () => {
    const result = await sendNotification({
      event: 'custom',
      environment: 'production',
      details: { message: 'hi' },
      defaultTemplateDir: TEMPLATE_DIR,
      fallbackDir: mkdtempSync(join(tmpdir(), 'notify-policy-')),
      channels: ['email'],
      env: {
        SMTP_URL: 'smtp://u:pw-secret-1@169.254.169.254:25',
        NOTIFY_EMAIL_TO: 'a@example.test',
        NOTIFY_EMAIL_FROM: 'b@example.test',
      },
    });
    expect(result.channels[0]!.status).toBe('misconfigured');
    expect(result.channels[0]!.reason).toMatch(/^SMTP_URL points at 169\.254\.169\.254/);
  });
});
