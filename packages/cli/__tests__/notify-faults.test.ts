// `guarded-rollout notify` against a receiver that never answers and against echoing receivers:
// the command ends within its --timeout (+ 1 s), keeps the message, and prints no secret in any
// encoding (stdout, stderr, --json, the fallback file).
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { readUndelivered } from '@guarded-rollout/notify';
import { httpEcho, httpFaults, smtpEcho, type Receiver } from '../../notify/__tests__/faults.js';
import { encodings, leaks, smtpLoginForms } from '../../notify/__tests__/leak-forms.js';
import { startSink } from '../../notify/__tests__/sink.js';
import { startCli } from './bundle.js';
import { cli } from './run-cli.js';

const receivers: Receiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

describe('guarded-rollout notify under faults', () => {
  it.each([
    [['--timeout', '0s'], /error: --timeout must be longer than 0 \(e\.g\. 30s\); found "0s"/],
    [['--attempt-timeout', 'soon'], /--attempt-timeout/],
  ])('refuses %j with exit 2', async (flags, message) => {
    const run = await cli(['notify', '--event', 'custom', '--env', 'production', ...flags]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
  });

  it('a fallback directory that cannot be written never stops the send, and says so', async () => {
    const hung = await httpFaults.hang();
    receivers.push(hung);
    const cwd = mkdtempSync(join(tmpdir(), 'notify-cli-fb-'));
    const run = await cli(
      [
        'notify',
        '--event',
        'custom',
        '--env',
        'production',
        '--timeout',
        '1s',
        '--fallback-dir',
        '/dev/null/fb',
      ],
      { cwd, env: { NOTIFY_WEBHOOK_URL: `${hung.url}/hooks/fbTOKEN12345` } },
    );
    expect(run.code).toBe(0);
    expect(hung.connections).toBe(1);
    expect(run.stdout).toMatch(/webhook +failed/);
    expect(run.stderr).toMatch(/warning: cannot write the fallback file: /);
  });

  it('a webhook that never answers: exits 0 within --timeout 2s + 1 s and keeps the message', async () => {
    const hung = await httpFaults.hang();
    receivers.push(hung);
    const cwd = mkdtempSync(join(tmpdir(), 'notify-cli-faults-'));
    const started = Date.now();
    const run = await cli(
      [
        'notify',
        '--event',
        'rollback-started',
        '--env',
        'production',
        '--channel',
        'webhook',
        '--timeout',
        '2s',
      ],
      { cwd, env: { NOTIFY_WEBHOOK_URL: `${hung.url}/hooks/cliHungTOKEN42` } },
    );
    expect(Date.now() - started).toBeLessThan(3000);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/webhook +failed/);
    expect(readUndelivered(join(cwd, 'notify-fallback', 'notifications.jsonl'))).toMatchObject([
      { channel: 'webhook', status: 'failed', event: 'rollback-started' },
    ]);
  });

  it('echoing receivers: no secret in stdout, stderr, --json or the fallback file, in any encoding', async () => {
    const http = await httpEcho();
    const smtp = await smtpEcho();
    receivers.push(http, smtp);
    const user = 'cli-mailer-01';
    const pass = 'cli p@ss/Word99';
    const env = {
      SLACK_WEBHOOK_URL: `${http.url}/services/T9/B9/cliSlackTOKEN`,
      NOTIFY_WEBHOOK_URL: `${http.url}/hooks/cliGenericTOKEN?token=cliQueryTOKEN`,
      SMTP_URL: `smtp://${encodeURIComponent(user)}:${encodeURIComponent(pass)}@127.0.0.1:${smtp.port}`,
      NOTIFY_EMAIL_TO: 'oncall@example.test',
      NOTIFY_EMAIL_FROM: 'rollout@example.test',
    };
    const cwd = mkdtempSync(join(tmpdir(), 'notify-cli-echo-'));
    const args = ['notify', '--event', 'gate-violation', '--env', 'production', '--timeout', '5s'];
    const text = await cli(args, { cwd, env });
    const json = await cli([...args, '--json'], { cwd, env });
    expect(http.seen.join('\n')).toContain('cliSlackTOKEN');
    expect(smtp.seen.join('\n')).toContain(Buffer.from(pass).toString('base64'));
    const visible = [
      text.stdout,
      text.stderr,
      json.stdout,
      json.stderr,
      readFileSync(join(cwd, 'notify-fallback', 'notifications.jsonl'), 'utf8'),
    ].join('\n');
    expect(visible).toMatch(/you sent: POST/);
    const forms = [
      ...[env.SLACK_WEBHOOK_URL, env.NOTIFY_WEBHOOK_URL, env.SMTP_URL].flatMap(encodings),
      ...['cliSlackTOKEN', 'cliGenericTOKEN', 'cliQueryTOKEN'].flatMap(encodings),
      ...smtpLoginForms(user, pass),
    ];
    expect(leaks(visible, forms)).toEqual([]);
  });
  it('Ctrl-C while it waits out a Retry-After of 20 s (the bundled CLI, a real SIGINT): exits at once with one line and keeps the message', async () => {
    const sink = await startSink(() => ({
      status: 429,
      headers: { 'retry-after': '20' },
      body: 'slow down',
    }));
    receivers.push({ close: () => sink.close() } as Receiver);
    const cwd = mkdtempSync(join(tmpdir(), 'notify-cli-cancel-'));
    const cli = startCli(
      ['notify', '--event', 'custom', '--env', 'production', '--channel', 'webhook', '--timeout', '60s'],
      {
        cwd,
        env: { PATH: process.env.PATH ?? '', HOME: cwd, NOTIFY_WEBHOOK_URL: sink.urlFor('/hooks/waitTOKEN') },
      },
    );
    for (let i = 0; i < 600 && sink.requests.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    const { code, ms } = await cli.interrupt();
    expect(code).toBe(0);
    expect(ms).toBeLessThan(5000); // not the 20 s the wait would have taken
    expect(sink.requests).toHaveLength(1);
    expect(cli.stderr()).toContain('received SIGINT: stopping the sends; what was not delivered is kept\n');
    expect(cli.stdout()).toMatch(/webhook +failed/);
    expect(readUndelivered(join(cwd, 'notify-fallback', 'notifications.jsonl'))).toMatchObject([
      { channel: 'webhook', status: 'failed', event: 'custom' },
    ]);
  }, 300_000);
});
