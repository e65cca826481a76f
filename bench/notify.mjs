#!/usr/bin/env node
// Notification fan-out benchmark: five channels (four webhooks + SMTP) on 127.0.0.1 sinks with
// fixed latencies. Compares sendNotification fanning out to all five against (a) the slowest channel
// alone and (b) a naive reference in the same process: plain fetch + nodemailer, one channel after
// the other. Then one channel hangs: the others must arrive within their own latency and the call
// must end within its time budget. Last, every channel hangs (webhooks accept and never answer, the
// SMTP server never greets, one webhook trickles bytes) while a garbage collection is forced every
// 5 ms (the process re-runs itself under --expose-gc): the call must still end at its budget — the
// case AbortSignal.any loses on Node 20. Builds packages/notify once with ncc into .tmp/ (Node 20
// has no TypeScript loader). Usage: node bench/notify.mjs [runs=15]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

if (typeof globalThis.gc !== 'function') {
  // Forced GC needs --expose-gc; re-run this file with it.
  const again = spawnSync(
    process.execPath,
    ['--expose-gc', fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    {
      stdio: 'inherit',
    },
  );
  process.exit(again.status ?? 1);
}
const root = fileURLToPath(new URL('..', import.meta.url));
const runs = Number(process.argv[2] ?? 15);
const out = join(root, '.tmp/bench-notify');
const requireFromNotify = createRequire(join(root, 'packages/notify/package.json'));

function newestMtime(dir) {
  let newest = 0;
  for (const name of readdirSync(dir, { recursive: true }))
    newest = Math.max(newest, statSync(join(dir, name)).mtimeMs);
  return newest;
}
if (
  !existsSync(join(out, 'index.js')) ||
  statSync(join(out, 'index.js')).mtimeMs < newestMtime(join(root, 'packages/notify/src'))
) {
  console.log('building packages/notify for the benchmark (ncc)...');
  const r = spawnSync(
    process.execPath,
    [
      join(root, 'node_modules/@vercel/ncc/dist/ncc/cli.js'),
      'build',
      join(root, 'packages/notify/src/index.ts'),
      '-o',
      out,
      '-q',
      '--target',
      'es2022',
    ],
    { stdio: 'inherit', cwd: root },
  );
  if (r.status !== 0) process.exit(1);
}
const notify = await import(pathToFileURL(join(out, 'index.js')).href);
const nodemailer = requireFromNotify('nodemailer');
const { SMTPServer } = requireFromNotify('smtp-server');

const LATENCY = { slack: 40, teams: 80, discord: 60, webhook: 30, email: 50 };

async function httpSink(latencyFor) {
  const sockets = new Set();
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const channel = req.url.split('/')[1];
      const latency = latencyFor(channel);
      if (latency === 'hang') return;
      if (latency === 'loris') {
        // Slow-loris: a status line, then one header byte every 100 ms, forever.
        res.socket.write('HTTP/1.1 200 OK\r\n');
        const t = setInterval(() => (res.socket?.destroyed ? clearInterval(t) : res.socket.write('X')), 100);
        return;
      }
      setTimeout(() => res.writeHead(channel === 'teams' ? 202 : 200).end('ok'), latency);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(r);
      }),
  };
}

async function smtpSink(latencyMs) {
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, _session, cb) {
      stream.resume();
      stream.on('end', () => setTimeout(() => cb(), latencyMs));
    },
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { port: server.server.address().port, close: () => new Promise((r) => server.close(r)) };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fallbackDir = mkdtempSync(join(tmpdir(), 'bench-notify-'));
const templates = notify.loadTemplates({ defaultDir: join(root, 'action-templates/notifications') });
const details = {
  version: '1.4.2',
  actor: 'bench',
  violatedGates: [{ gate: 'p95_hash_time', value: '2400 ms', limit: '> 2000 ms' }],
};

async function timed(fn) {
  const t = performance.now();
  const r = await fn();
  return { ms: performance.now() - t, r };
}

async function main() {
  const http = await httpSink((c) => LATENCY[c]);
  const smtp = await smtpSink(LATENCY.email);
  const env = {
    SLACK_WEBHOOK_URL: `${http.url}/slack/x`,
    TEAMS_WEBHOOK_URL: `${http.url}/teams/x`,
    DISCORD_WEBHOOK_URL: `${http.url}/discord/x`,
    NOTIFY_WEBHOOK_URL: `${http.url}/webhook/x`,
    NOTIFY_WEBHOOK_SECRET: 'bench-secret',
    SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
    NOTIFY_EMAIL_TO: 'oncall@example.test',
    NOTIFY_EMAIL_FROM: 'rollout@example.test',
  };
  const send = (channels, extra = {}) =>
    notify.sendNotification({
      event: 'gate-violation',
      environment: 'production',
      details,
      channels,
      env,
      templates,
      fallbackDir,
      ...extra,
    });

  // Warm-up (JIT, connection setup).
  for (let i = 0; i < 3; i++) await send([]);

  const alone = {};
  for (const c of notify.CHANNELS) {
    const xs = [];
    for (let i = 0; i < runs; i++) {
      const { ms, r } = await timed(() => send([c]));
      if (r.delivered[c] !== true)
        throw new Error(`${c} not delivered in the benchmark: ${JSON.stringify(r.channels)}`);
      xs.push(ms);
    }
    alone[c] = median(xs);
  }
  const fan = [];
  for (let i = 0; i < runs; i++) {
    const { ms, r } = await timed(() => send([]));
    if (r.anyFailed) throw new Error('fan-out lost a channel');
    fan.push(ms);
  }
  // Reference: the naive approach, in the same process — plain fetch, then nodemailer, one by one.
  const message = notify.buildMessage(
    templates,
    notify.buildEventContext({
      event: 'gate-violation',
      environment: 'production',
      details,
      timestamp: new Date().toISOString(),
      dedupeKey: 'bench',
    }),
    details,
  );
  const naive = [];
  for (let i = 0; i < runs; i++) {
    const { ms } = await timed(async () => {
      for (const c of ['slack', 'teams', 'discord', 'webhook']) {
        const res = await fetch(env[`${c === 'webhook' ? 'NOTIFY' : c.toUpperCase()}_WEBHOOK_URL`], {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(notify.renderChannelPayload(c, message)),
        });
        await res.text();
      }
      const t = nodemailer.createTransport(env.SMTP_URL);
      await t.sendMail({
        from: env.NOTIFY_EMAIL_FROM,
        to: env.NOTIFY_EMAIL_TO,
        ...notify.renderEmail(message),
      });
      t.close();
    });
    naive.push(ms);
  }
  await http.close();

  // One channel hangs: Teams never answers. Budget 2 s, attempts time out after 1.5 s.
  const hanging = await httpSink((c) => (c === 'teams' ? 'hang' : LATENCY[c]));
  const envHang = {
    ...env,
    SLACK_WEBHOOK_URL: `${hanging.url}/slack/x`,
    TEAMS_WEBHOOK_URL: `${hanging.url}/teams/x`,
    DISCORD_WEBHOOK_URL: `${hanging.url}/discord/x`,
    NOTIFY_WEBHOOK_URL: `${hanging.url}/webhook/x`,
  };
  const budgetMs = 2000;
  const { ms: hangMs, r: hangResult } = await timed(() =>
    notify.sendNotification({
      event: 'gate-violation',
      environment: 'production',
      details,
      env: envHang,
      templates,
      fallbackDir,
      budgetMs,
      attemptTimeoutMs: 1500,
    }),
  );
  await hanging.close();
  await smtp.close();

  // Every channel hung, forced GC every 5 ms: the budget must hold anyway.
  const allHung = await httpSink((c) => (c === 'discord' ? 'loris' : 'hang'));
  const silentSmtp = new SMTPServer({ logger: false, authOptional: true, onConnect() {} }); // never greets
  await new Promise((r) => silentSmtp.listen(0, '127.0.0.1', r));
  const envHung = {
    SLACK_WEBHOOK_URL: `${allHung.url}/slack/tokenA1`,
    TEAMS_WEBHOOK_URL: `${allHung.url}/teams/tokenB2`,
    DISCORD_WEBHOOK_URL: `${allHung.url}/discord/tokenC3`,
    NOTIFY_WEBHOOK_URL: `${allHung.url}/webhook/tokenD4`,
    SMTP_URL: `smtp://127.0.0.1:${silentSmtp.server.address().port}`,
    NOTIFY_EMAIL_TO: 'oncall@example.test',
    NOTIFY_EMAIL_FROM: 'rollout@example.test',
  };
  const gcTimer = setInterval(() => globalThis.gc(), 5);
  const hungRuns = [];
  for (const hungBudget of [1000, 2000, 2000]) {
    const { ms, r } = await timed(() =>
      notify.sendNotification({
        event: 'rollback-started',
        environment: 'production',
        details,
        env: envHung,
        templates,
        fallbackDir,
        budgetMs: hungBudget,
        attemptTimeoutMs: 700,
      }),
    );
    hungRuns.push({ budget: hungBudget, ms, failed: r.channels.filter((c) => c.status === 'failed').length });
  }
  clearInterval(gcTimer);
  await allHung.close();
  for (const c of silentSmtp.connections ?? []) c.close();
  await new Promise((r) => silentSmtp.close(r));

  const slowest = Math.max(...Object.values(alone));
  const rows = [
    ...notify.CHANNELS.map((c) => [
      `${c} alone (sink latency ${LATENCY[c]} ms)`,
      alone[c],
      alone[c] / slowest,
    ]),
    ['fan-out, 5 channels in parallel (sendNotification)', median(fan), median(fan) / slowest],
    ['reference: plain fetch + nodemailer, sequential', median(naive), median(naive) / slowest],
  ];
  const pad = (s, n) => String(s).padEnd(n);
  console.log(
    `\nNotification fan-out, median of ${runs} runs (ratio vs the slowest single channel, ${slowest.toFixed(1)} ms)\n`,
  );
  console.log(`${pad('scenario', 54)} ${pad('ms', 8)} ratio`);
  console.log(`${'-'.repeat(54)} ${'-'.repeat(8)} -----`);
  for (const [name, ms, ratio] of rows)
    console.log(`${pad(name, 54)} ${pad(ms.toFixed(1), 8)} ${ratio.toFixed(2)}`);
  const fanRatio = median(fan) / slowest;
  console.log(
    `\nfan-out ≤ 1.2 × slowest single channel: ${fanRatio <= 1.2 ? 'yes' : 'NO'} (${fanRatio.toFixed(2)})`,
  );

  console.log(
    `\nOne channel hanging (teams), budget ${budgetMs} ms, attempt timeout 1500 ms: call ended after ${hangMs.toFixed(0)} ms (${hangMs <= budgetMs + 250 ? 'within' : 'OVER'} budget)`,
  );
  console.log(`${pad('channel', 10)} ${pad('status', 10)} ${pad('ms', 8)} alone ms`);
  for (const c of hangResult.channels)
    console.log(
      `${pad(c.channel, 10)} ${pad(c.status, 10)} ${pad(c.durationMs, 8)} ${alone[c.channel].toFixed(1)}`,
    );
  console.log(
    `\nAll five channels hung (4 never answer / slow-loris, SMTP never greets), forced GC every 5 ms:`,
  );
  console.log(`${pad('budget ms', 10)} ${pad('call ms', 8)} ${pad('over', 8)} failed channels`);
  for (const h of hungRuns)
    console.log(
      `${pad(h.budget, 10)} ${pad(h.ms.toFixed(0), 8)} ${pad((h.ms - h.budget).toFixed(0), 8)} ${h.failed}/5`,
    );
  console.log(
    `every call within budget + 1 s: ${hungRuns.every((h) => h.ms <= h.budget + 1000) ? 'yes' : 'NO'} (reference: AbortSignal.any + AbortSignal.timeout never fires after a GC on Node 20.20 — see packages/notify/__tests__/gc-deadline.test.ts)`,
  );
  console.log(`\npeak RSS: ${(process.resourceUsage().maxRSS / 1024).toFixed(1)} MB`);
}

await main();
