import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from '@jest/globals';
import { readUndelivered } from '@guarded-rollout/notify';
import { startSink, type Sink } from '../../notify/__tests__/sink.js';
import { cli } from './run-cli.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
let sink: Sink | undefined;
afterEach(async () => {
  await sink?.close();
  sink = undefined;
});

describe('guarded-rollout notify', () => {
  it('delivers to the configured channels, skips the rest, and keeps failures in the fallback file', async () => {
    sink = await startSink((req) =>
      req.path === '/teams' ? { status: 400, body: 'bad card' } : { status: 202 },
    );
    const cwd = mkdtempSync(join(tmpdir(), 'notify-cli-'));
    const run = await cli(
      [
        'notify',
        '--event',
        'deploy-succeeded',
        '--env',
        'production',
        '--channel',
        'slack',
        '--channel',
        'teams,discord',
        '--details',
        '{"version":"1.4.2","duration":"62m"}',
        '--fallback-dir',
        'fb',
      ],
      { cwd, env: { SLACK_WEBHOOK_URL: sink.urlFor('/slack'), TEAMS_WEBHOOK_URL: sink.urlFor('/teams') } },
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(
      '✅ Deploy succeeded: production 1.4.2 (deploy-succeeded, production, ref gr-',
    );
    expect(run.stdout).toMatch(/slack +delivered \(1 attempt/);
    expect(run.stdout).toMatch(
      /teams +failed \(1 attempt, \d+ ms\): HTTP 400 \(not retried: the request itself was refused\) — bad card/,
    );
    expect(run.stdout).toMatch(/discord +skipped: DISCORD_WEBHOOK_URL is not set/);
    expect(run.stdout).toContain(`undelivered messages kept in ${join(cwd, 'fb', 'notifications.jsonl')}`);
    expect(readUndelivered(join(cwd, 'fb', 'notifications.jsonl'))).toMatchObject([
      {
        channel: 'teams',
        event: 'deploy-succeeded',
      },
    ]);
    const failing = await cli(
      [
        'notify',
        '--event',
        'custom',
        '--env',
        'staging',
        '--channel',
        'teams',
        '--fail-on-error',
        '--fallback-dir',
        join(cwd, 'fb2'),
      ],
      {
        env: { TEAMS_WEBHOOK_URL: sink.urlFor('/teams') },
      },
    );
    expect(failing.code).toBe(1);
  });

  it('dry-run prints every payload and sends nothing', async () => {
    sink = await startSink();
    const run = await cli(
      [
        'notify',
        '--event',
        'escalation',
        '--env',
        'production',
        '--details',
        '{"stage":"T+15"}',
        '--dry-run',
      ],
      { env: { SLACK_WEBHOOK_URL: sink.urlFor('/s') } },
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('[dry-run] 📣 Monitoring T+15: production');
    expect(run.stdout).toContain('--- teams payload ---');
    expect(sink.requests).toHaveLength(0);
  });

  it.each([
    [
      ['notify', '--event', 'deploy-exploded', '--env', 'production'],
      /error: event: "deploy-exploded" is not a known event/,
    ],
    [
      ['notify', '--event', 'custom', '--env', 'production', '--channel', 'pager'],
      /error: channel "pager" is not known; use one or more of slack, teams, discord, email, webhook/,
    ],
    [
      ['notify', '--event', 'custom', '--env', 'production', '--details', '{version: 1}'],
      /error: --details is not valid JSON/,
    ],
    [['notify', '--event', 'custom', '--env', 'production', '--timeout', 'soon'], /--timeout/],
  ])('refuses %j with exit 2', async (argv, message) => {
    const run = await cli(argv);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
  });

  it('exits 2 for a malformed webhook URL without printing it', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'notify-cli-'));
    const run = await cli(['notify', '--event', 'custom', '--env', 'production', '--channel', 'slack'], {
      cwd,
      env: { SLACK_WEBHOOK_URL: 'hooks.example.test/T/B/notAurlTOKEN' },
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      'error: channel slack: SLACK_WEBHOOK_URL is not a valid URL (the value is not shown because it is a secret)',
    );
    expect(
      run.stdout + run.stderr + readFileSync(join(cwd, 'notify-fallback', 'notifications.jsonl'), 'utf8'),
    ).not.toContain('notAurlTOKEN');
  });

  const built = existsSync(join(root, 'packages/cli/dist/index.js'));
  (built ? it : it.skip)('runs from the built bundle through the scripts/notify.js shim', async () => {
    sink = await startSink();
    const cwd = mkdtempSync(join(tmpdir(), 'notify-shim-'));
    const run = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(
        process.execPath,
        [
          join(root, 'scripts/notify.js'),
          '--event',
          'deploy-started',
          '--env',
          'staging',
          '--channel',
          'webhook',
        ],
        {
          cwd,
          env: { PATH: process.env.PATH ?? '', NOTIFY_WEBHOOK_URL: sink!.urlFor('/hook') },
        },
      );
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (out += c.toString()));
      child.on('close', (code) => resolve({ code, out }));
    });
    expect(run.out).toMatch(/webhook +delivered/);
    expect(run.code).toBe(0);
    expect(sink.requests[0]!.json).toMatchObject({ event: 'deploy-started', environment: 'staging' });
  });
});
