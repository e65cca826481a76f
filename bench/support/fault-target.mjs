#!/usr/bin/env node
// A DHash-like target for the monitor fault bench, run as a separate process. It has its own metric
// names (svc_requests_total{outcome="success"|"failure"}, svc_latency_seconds histogram,
// svc_review_backlog gauge, /healthz), which the monitor reaches only through a mapping. It runs
// on a virtual clock: the driver posts the virtual time before each check, and the target derives
// every counter from the traffic up to that time — 1 request per second, deterministic per seed.
//
// Ports: prints `{"service": N, "control": M}` on its first stdout line. Control (POST JSON):
//   /scenario {seed, noise, fault, onsetMs, share, blipAtMs}  (resets the clock to 0)
//   /clock {at}
// fault: none | health | ratio | latency | queue | down | 500 | hang | garbage | vanish
import { createServer } from 'node:http';

const BOUNDS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10];
const BLIP_MS = 20_000; // a restart shorter than the health gate tolerates (3 checks at 15 s)

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let scenario = { seed: 1, noise: false, fault: 'none', onsetMs: Infinity, share: 1, blipAtMs: null };
let now = 0;
let state;
const hung = new Set();

function reset() {
  const random = mulberry32(scenario.seed);
  state = {
    random,
    k: 0,
    ok: 0,
    failed: 0,
    buckets: BOUNDS.map(() => 0),
    inf: 0,
    sum: 0,
    restarted: false,
    last5xx: -Infinity,
  };
  for (const socket of hung) socket.destroy();
  hung.clear();
}

const active = (t) => t >= scenario.onsetMs;
const inBlip = (t) => scenario.blipAtMs !== null && t >= scenario.blipAtMs && t < scenario.blipAtMs + BLIP_MS;
/** Whether the j-th request after the onset is hit, spreading a share evenly (like the analysis). */
const hit = (j, share) => Math.floor(j * share + 1e-9) > Math.floor((j - 1) * share + 1e-9);

/** Serves every request up to the virtual time `t` (1 per second). */
function advance(t) {
  const target = Math.floor(t / 1000 + 1e-9);
  while (state.k < target) {
    state.k++;
    const at = state.k * 1000;
    const u = state.random();
    const jitter = 0.02 + 0.6 * state.random() ** 2 + (state.random() < 0.01 ? 0.9 : 0);
    if (inBlip(at)) continue; // the process is restarting: nothing served
    if (scenario.blipAtMs !== null && at >= scenario.blipAtMs + BLIP_MS && !state.restarted) {
      // A fresh process: every counter starts again from zero.
      Object.assign(state, {
        ok: 0,
        failed: 0,
        buckets: BOUNDS.map(() => 0),
        inf: 0,
        sum: 0,
        restarted: true,
      });
    }
    const j = state.k - Math.floor(scenario.onsetMs / 1000 + 1e-9);
    const faulty = active(at) && j >= 1;
    // A single 5xx now and then: about 6 an hour, never two within 2 minutes of each other.
    let failed = scenario.noise && u < 1 / 600 && state.k - state.last5xx > 120;
    if (failed) state.last5xx = state.k;
    if (faulty && scenario.fault === 'ratio' && hit(j, scenario.share)) failed = true;
    let seconds = jitter;
    if (faulty && scenario.fault === 'latency' && hit(j, scenario.share)) seconds = 5 + 3 * state.random();
    if (failed) state.failed++;
    else state.ok++;
    state.sum += seconds;
    BOUNDS.forEach((b, i) => {
      if (seconds <= b) state.buckets[i]++;
    });
    state.inf++;
  }
}

function exposition() {
  const lines = [
    '# HELP svc_requests_total Requests by outcome.',
    '# TYPE svc_requests_total counter',
    `svc_requests_total{outcome="success"} ${state.ok}`,
  ];
  if (!(scenario.fault === 'vanish' && active(now)))
    lines.push(`svc_requests_total{outcome="failure"} ${state.failed}`);
  lines.push('# HELP svc_latency_seconds Request latency.', '# TYPE svc_latency_seconds histogram');
  BOUNDS.forEach((b, i) => lines.push(`svc_latency_seconds_bucket{le="${b}"} ${state.buckets[i]}`));
  lines.push(
    `svc_latency_seconds_bucket{le="+Inf"} ${state.inf}`,
    `svc_latency_seconds_sum ${state.sum.toFixed(3)}`,
    `svc_latency_seconds_count ${state.inf}`,
  );
  let backlog = 40 + Math.round(15 * Math.sin(now / 97_000));
  if (scenario.fault === 'queue' && active(now)) backlog = scenario.share >= 1 ? 1500 : 1001;
  lines.push('# TYPE svc_review_backlog gauge', `svc_review_backlog ${backlog}`, '');
  return lines.join('\n');
}

const service = createServer((req, res) => {
  advance(now);
  if (inBlip(now)) return req.socket.destroy();
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  if (path === '/healthz') {
    const down = scenario.fault === 'health' && active(now);
    res.writeHead(down ? 503 : 200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ status: down ? 'failing' : 'ok' }));
  }
  if (path === '/metrics') {
    if (active(now)) {
      if (scenario.fault === 'down') return req.socket.destroy();
      if (scenario.fault === '500') return res.writeHead(500).end('internal error');
      if (scenario.fault === 'hang') {
        hung.add(req.socket);
        return undefined;
      }
      if (scenario.fault === 'garbage') {
        res.writeHead(200, { 'content-type': 'text/html' });
        return res.end('<html><body><h1>502 Bad Gateway</h1></body></html>');
      }
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    return res.end(exposition());
  }
  res.writeHead(404).end();
});

const control = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    const doc = body ? JSON.parse(body) : {};
    if (req.url === '/scenario') {
      scenario = {
        seed: doc.seed ?? 1,
        noise: Boolean(doc.noise),
        fault: doc.fault ?? 'none',
        onsetMs: doc.onsetMs ?? Infinity,
        share: doc.share ?? 1,
        blipAtMs: doc.blipAtMs ?? null,
      };
      now = 0;
      reset();
    } else if (req.url === '/clock') {
      if (doc.at < now) reset();
      now = doc.at;
    } else if (req.url === '/quit') {
      res.end('bye');
      process.exit(0);
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ at: now }));
  });
});

reset();
await new Promise((r) => service.listen(0, '127.0.0.1', r));
await new Promise((r) => control.listen(0, '127.0.0.1', r));
process.stdout.write(
  `${JSON.stringify({ service: service.address().port, control: control.address().port })}\n`,
);
process.on('SIGTERM', () => process.exit(0));
