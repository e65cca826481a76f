// Spawns the committed bundle exactly as the runner does (node dist/index.js with INPUT_* variables,
// GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files) against real sinks on 127.0.0.1.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from '@jest/globals';
import { secretForms } from '@guarded-rollout/action-io';
import { readUndelivered } from '@guarded-rollout/notify';
import { startSink, type Sink } from '../../../packages/notify/__tests__/sink.js';

const bundle = fileURLToPath(new URL('../dist/index.js', import.meta.url));
let sink: Sink | undefined;
afterEach(async () => {
  await sink?.close();
  sink = undefined;
});

function runBundle(
  inputs: Record<string, string>,
  extraEnv: Record<string, string> = {},
  interruptAfterMs?: number,
) {
  const dir = mkdtempSync(join(tmpdir(), 'notify-action-'));
  const output = join(dir, 'output');
  const summary = join(dir, 'summary');
  writeFileSync(output, '');
  writeFileSync(summary, '');
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: dir,
    RUNNER_TEMP: dir,
    GITHUB_WORKSPACE: dir,
    GITHUB_OUTPUT: output,
    GITHUB_STEP_SUMMARY: summary,
    ...extraEnv,
  };
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase()}`] = v;
  return new Promise<{
    code: number | null;
    stdout: string;
    outputs: Record<string, string>;
    summary: string;
    dir: string;
  }>((resolve) => {
    const child = spawn(process.execPath, [bundle], { cwd: dir, env });
    if (interruptAfterMs !== undefined) setTimeout(() => child.kill('SIGINT'), interruptAfterMs);
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stdout += c.toString()));
    child.on('close', (code) => {
      const outputs: Record<string, string> = {};
      for (const m of readFileSync(output, 'utf8').matchAll(/^([\w-]+)<<(\S+)\n([\s\S]*?)\n\2$/gm))
        outputs[m[1]!] = m[3]!;
      resolve({ code, stdout, outputs, summary: readFileSync(summary, 'utf8'), dir });
    });
  });
}

describe('notify action bundle', () => {
  it('delivers, falls back, annotates, reports and never prints a secret', async () => {
    sink = await startSink((req) =>
      req.path.includes('discord')
        ? { status: 404, body: '{"message":"Unknown Webhook"}' }
        : { status: 200, body: 'ok' },
    );
    const slack = sink.urlFor('/slack/services/T1/B1/slackSECRETtoken');
    const discord = sink.urlFor('/discord/api/webhooks/1/discordSECRETtoken');
    const hookSecret = 'webhook-hmac-SECRET';
    const run = await runBundle(
      {
        event: 'rollback-started',
        environment: 'production',
        channels: 'slack, discord, webhook, teams',
        'slack-webhook-url': slack,
        'webhook-secret': hookSecret,
        'fallback-dir': 'fallback',
        details: JSON.stringify({
          version: '1.4.2',
          backup: 'backups/dhash_production_20261123T120000Z.zip',
          reason: 'p95 hash time 2400 ms > 2000 ms',
        }),
      },
      { DISCORD_WEBHOOK_URL: discord, NOTIFY_WEBHOOK_URL: sink.urlFor('/webhook/hookSECRETpath') },
    );
    expect(run.code).toBe(0);
    expect(JSON.parse(run.outputs.delivered!)).toEqual({
      slack: true,
      discord: false,
      webhook: true,
      teams: 'skipped',
    });
    expect(run.outputs['fallback-path']).toBe(join(run.dir, 'fallback', 'notifications.jsonl'));
    expect(run.stdout).toMatch(
      /::warning title=notify%3A discord failed::notification to discord not delivered: HTTP 404: the Discord webhook no longer exists/,
    );
    expect(run.summary).toContain('| discord | failed | 1 |');
    expect(run.summary).toContain('| teams | skipped | 0 | TEAMS_WEBHOOK_URL is not set |');
    const fallback = readFileSync(run.outputs['fallback-path']!, 'utf8');
    expect(readUndelivered(run.outputs['fallback-path']!)).toMatchObject([
      { channel: 'discord', event: 'rollback-started', status: 'failed' },
    ]);
    expect(sink.requests.map((r) => r.path.split('/')[1]).sort()).toEqual(['discord', 'slack', 'webhook']);
    // The runner learns the secrets from ::add-mask:: lines; everything else must be free of them.
    const visible = [
      run.stdout
        .split('\n')
        .filter((l) => !l.startsWith('::add-mask::'))
        .join('\n'),
      JSON.stringify(run.outputs),
      run.summary,
      fallback,
    ].join('\n');
    for (const secret of [slack, discord, hookSecret, sink.urlFor('/webhook/hookSECRETpath')]) {
      for (const form of secretForms(secret))
        expect({ form, found: visible.includes(form) }).toEqual({ form, found: false });
      expect(run.stdout).toContain(`::add-mask::${secret}`);
    }
    expect(visible).not.toMatch(/SECRET/);
  });

  it('fails the step with fail-on-error, and reports a bad event as one error line', async () => {
    sink = await startSink(() => ({ status: 500 }));
    const failed = await runBundle({
      event: 'custom',
      environment: 'staging',
      channels: 'slack',
      'slack-webhook-url': sink.urlFor('/s'),
      'fail-on-error': 'true',
      timeout: '2s',
    });
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/::error::notification not delivered to slack \(fail-on-error is set\)/);
    const bad = await runBundle({ event: 'deploy-exploded', environment: 'staging' });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/::error::input "event": "deploy-exploded" is not a known event/);
  });

  it('on cancellation (SIGINT) stops waiting, keeps the message and still sets its outputs', async () => {
    sink = await startSink(() => 'hang');
    const started = Date.now();
    const run = await runBundle(
      {
        event: 'rollback-started',
        environment: 'production',
        channels: 'teams',
        'teams-webhook-url': sink.urlFor('/t'),
        timeout: '60s',
      },
      {},
      1000,
    );
    expect(Date.now() - started).toBeLessThan(5000);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.outputs.delivered!)).toEqual({ teams: false });
    expect(run.stdout).toMatch(/teams +failed \(1 attempt, \d+ ms\): cancelled after 1 attempt/);
    expect(readFileSync(run.outputs['fallback-path']!, 'utf8')).toContain('"channel":"teams"');
  });

  it('on cancellation during a wait before a retry (429, Retry-After 20 s) exits at once, not when the wait would end', async () => {
    sink = await startSink(() => ({ status: 429, headers: { 'retry-after': '20' }, body: 'slow down' }));
    const started = Date.now();
    const run = await runBundle(
      {
        event: 'rollback-started',
        environment: 'production',
        channels: 'teams',
        'teams-webhook-url': sink.urlFor('/t'),
        timeout: '60s',
      },
      {},
      1000,
    );
    expect(Date.now() - started).toBeLessThan(5000);
    expect(sink.requests).toHaveLength(1);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('received SIGINT: stopping the sends; what was not delivered is kept');
    expect(JSON.parse(run.outputs.delivered!)).toEqual({ teams: false });
    expect(readFileSync(run.outputs['fallback-path']!, 'utf8')).toContain('"channel":"teams"');
  });

  it('dry-run prints each payload and sends nothing', async () => {
    sink = await startSink();
    const run = await runBundle({
      event: 'deploy-started',
      environment: 'staging',
      'dry-run': 'true',
      'slack-webhook-url': sink.urlFor('/s'),
    });
    expect(run.code).toBe(0);
    expect(sink.requests).toHaveLength(0);
    expect(run.stdout).toContain('dry-run: teams payload:');
    expect(run.summary).toContain('dry-run: nothing sent');
    expect(JSON.parse(run.outputs.delivered!)).toEqual({
      slack: 'dry-run',
      teams: 'dry-run',
      discord: 'dry-run',
      email: 'dry-run',
      webhook: 'dry-run',
    });
  });
});
