// The notify bundle started the way the runner starts it (node dist/index.js, INPUT_* variables,
// GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files) against fault-injecting and echoing receivers:
// it ends within its budget, a kill -9 mid-send leaves the pending journal line, and no secret
// reaches stdout/stderr, annotations, outputs, the summary or the fallback file in any encoding —
// while the runner is told to mask every form (::add-mask::).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from '@jest/globals';
import { readUndelivered } from '@guarded-rollout/notify';
import {
  httpEcho,
  httpFaults,
  smtpEcho,
  smtpFaults,
  type Receiver,
} from '../../../packages/notify/__tests__/faults.js';
import { encodings, leaks, smtpLoginForms } from '../../../packages/notify/__tests__/leak-forms.js';

const bundle = fileURLToPath(new URL('../dist/index.js', import.meta.url));
const receivers: Receiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

interface Run {
  child: ChildProcess;
  dir: string;
  done: Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string; ms: number }>;
  outputs: () => string;
  summary: () => string;
}

function startBundle(inputs: Record<string, string>, extraEnv: Record<string, string> = {}): Run {
  const dir = mkdtempSync(join(tmpdir(), 'notify-bundle-faults-'));
  writeFileSync(join(dir, 'output'), '');
  writeFileSync(join(dir, 'summary'), '');
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: dir,
    RUNNER_TEMP: dir,
    GITHUB_WORKSPACE: dir,
    GITHUB_OUTPUT: join(dir, 'output'),
    GITHUB_STEP_SUMMARY: join(dir, 'summary'),
    ...extraEnv,
  };
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase()}`] = v;
  const started = Date.now();
  const child = spawn(process.execPath, [bundle], { cwd: dir, env });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const done = new Promise<Awaited<Run['done']>>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, ms: Date.now() - started })),
  );
  return {
    child,
    dir,
    done,
    outputs: () => readFileSync(join(dir, 'output'), 'utf8'),
    summary: () => readFileSync(join(dir, 'summary'), 'utf8'),
  };
}

const describeBundle = existsSync(bundle) ? describe : describe.skip;

describeBundle('notify action bundle under faults', () => {
  it('a hung webhook and a silent SMTP server: the step ends within its 2 s budget (+ start-up)', async () => {
    const hung = await httpFaults.hang();
    const mail = await smtpFaults.neverGreets();
    receivers.push(hung, mail);
    const run = startBundle({
      event: 'rollback-started',
      environment: 'production',
      channels: 'webhook, email',
      'webhook-url': `${hung.url}/hooks/hungTOKEN12345`,
      'smtp-url': `smtp://mailer:pw-${'x'.repeat(8)}@127.0.0.1:${mail.port}`,
      'email-to': 'oncall@example.test',
      'email-from': 'rollout@example.test',
      'fallback-dir': 'fallback',
      timeout: '2s',
      'attempt-timeout': '1s',
    });
    const result = await run.done;
    // Node start-up and module loading come on top of the 2 s budget on a loaded machine.
    expect(result.ms).toBeLessThan(2000 + 2500);
    expect(result.code).toBe(0);
    const undelivered = readUndelivered(join(run.dir, 'fallback', 'notifications.jsonl'));
    expect(undelivered.map((e) => `${e.channel} ${e.status}`).sort()).toEqual([
      'email failed',
      'webhook failed',
    ]);
    expect(result.stdout).toMatch(
      /::warning title=notify%3A webhook failed::notification to webhook not delivered/,
    );
  });

  it('kill -9 mid-send leaves the pending line (with the payload) in the fallback file', async () => {
    const hung = await httpFaults.hang();
    receivers.push(hung);
    const run = startBundle({
      event: 'gate-violation',
      environment: 'production',
      channels: 'webhook',
      'webhook-url': `${hung.url}/hooks/killTOKEN98765`,
      'fallback-dir': 'fallback',
      timeout: '60s',
    });
    await hung.firstContact; // the request is on the wire
    run.child.kill('SIGKILL');
    const result = await run.done;
    expect(result.signal).toBe('SIGKILL');
    const path = join(run.dir, 'fallback', 'notifications.jsonl');
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      channel: 'webhook',
      status: 'pending',
      event: 'gate-violation',
    });
    expect(readUndelivered(path)).toHaveLength(1);
    expect(lines[0]).not.toContain('killTOKEN98765');
  });

  it('echoing receivers: masked on the runner, absent from every output in every encoding', async () => {
    const http = await httpEcho();
    const smtp = await smtpEcho();
    receivers.push(http, smtp);
    const user = 'mailer-account7';
    const pass = 'p@ss w/rd:Zq9xK2';
    const slack = `${http.url}/services/T0PUBLICX/B0tokenSEG/slackSECRETtoken77`;
    const discord = `${http.url}/api/webhooks/123456/discordTOKEN55`;
    const generic = `${http.url}/hooks/genericHOOK66?key=queryVALUE88`;
    const smtpUrl = `smtp://${encodeURIComponent(user)}:${encodeURIComponent(pass)}@127.0.0.1:${smtp.port}`;
    const run = startBundle(
      {
        event: 'rollback-started',
        environment: 'production',
        'slack-webhook-url': slack,
        'smtp-url': smtpUrl,
        'email-to': 'oncall@example.test',
        'email-from': 'rollout@example.test',
        'fallback-dir': 'fallback',
        timeout: '5s',
      },
      // Secrets from the environment too (the PRODUCT.md variable names).
      { DISCORD_WEBHOOK_URL: discord, NOTIFY_WEBHOOK_URL: generic, NOTIFY_WEBHOOK_SECRET: 'hmacSECRETkey44' },
    );
    const result = await run.done;
    expect(result.code).toBe(0);
    expect(http.seen.join('\n')).toContain('slackSECRETtoken77');
    expect(smtp.seen.join('\n')).toContain(Buffer.from(pass).toString('base64'));
    const masks = result.stdout.split('\n').filter((l) => l.startsWith('::add-mask::'));
    // Command data is escaped (% → %25, CR/LF → %0D/%0A); the runner unescapes it.
    const masked = new Set(
      masks.map((l) =>
        l.slice('::add-mask::'.length).replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%'),
      ),
    );
    // The runner is told every form it may meet: the raw parts and their encodings.
    for (const form of [
      'slackSECRETtoken77',
      'discordTOKEN55',
      'queryVALUE88',
      pass,
      Buffer.from(pass).toString('base64'),
      Buffer.from(user).toString('base64'),
      Buffer.from(`\0${user}\0${pass}`).toString('base64'),
      encodeURIComponent(pass),
    ])
      expect({ form, masked: masked.has(form) }).toEqual({ form, masked: true });
    const visible = [
      result.stdout
        .split('\n')
        .filter((l) => !l.startsWith('::add-mask::'))
        .join('\n'),
      result.stderr,
      run.outputs(),
      run.summary(),
      readFileSync(join(run.dir, 'fallback', 'notifications.jsonl'), 'utf8'),
    ].join('\n');
    // The echo did reach the log (redacted), so the check below is not vacuous.
    expect(visible).toMatch(/you sent: POST (\/services\/?)?\*\*\*/);
    const forms = [
      ...[slack, discord, generic, smtpUrl, 'hmacSECRETkey44'].flatMap(encodings),
      ...['B0tokenSEG', 'slackSECRETtoken77', 'discordTOKEN55', 'genericHOOK66', 'queryVALUE88'].flatMap(
        encodings,
      ),
      ...smtpLoginForms(user, pass),
    ];
    expect(leaks(visible, forms)).toEqual([]);
  });
});
