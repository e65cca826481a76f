#!/usr/bin/env node
// The DHash service: POST /hash (PNG bytes → 64-bit dHash), GET /health, GET /metrics (Prometheus
// exposition via prom-client), JSON-lines logs on stdout. Runs the release named in
// <root>/active-release; a faulty release misbehaves in the way releases.json says, from
// `onsetSeconds` after start: slow hashing, failing extractions, dying health, a growing
// low-confidence queue, or a subtle regression (×3 hash time, failures 0.2 % → 2 %: under every fixed
// limit, caught only against the pre-deploy baseline). A release may also set `workMs` (simulated
// work per image) and `failureRate` (background failures) to give the baseline something to measure.
//   node src/server.mjs --root DIR --port N
import { createServer } from 'node:http';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { dhash } from './dhash.mjs';
import { activeRelease } from './releases.mjs';

const MAX_BODY = 5 * 1024 * 1024;
const LOW_CONFIDENCE = 0.25;

function log(level, message, fields = {}) {
  process.stdout.write(
    `${JSON.stringify({ timestamp: new Date().toISOString(), level, message, ...fields })}\n`,
  );
}

export function startService({ root, port = 0, host = '127.0.0.1' }) {
  const release = activeRelease(root);
  const started = Date.now();
  const faultActive = () =>
    release.fault !== undefined && Date.now() - started >= (release.onsetSeconds ?? 0) * 1000;
  const registry = new Registry();
  const extractions = new Counter({
    name: 'dhash_extractions_total',
    help: 'Hash extractions by result.',
    labelNames: ['result'],
    registers: [registry],
  });
  for (const result of ['ok', 'failed', 'invalid']) extractions.inc({ result }, 0);
  const duration = new Histogram({
    name: 'dhash_hash_duration_seconds',
    help: 'Time to hash one image.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 2.5, 5, 10],
    registers: [registry],
  });
  const queue = new Gauge({
    name: 'dhash_low_confidence_queue_length',
    help: 'Hashes waiting for low-confidence review.',
    registers: [registry],
  });
  new Gauge({
    name: 'dhash_release_info',
    help: 'The running release.',
    labelNames: ['version', 'fault'],
    registers: [registry],
  }).set({ version: release.version, fault: release.fault ?? 'none' }, 1);
  let queueLength = 0;
  // Reviewers drain the queue (50 items a second, ahead of what the demo traffic adds); a release
  // with the growing-queue fault floods it faster than that.
  const drain = setInterval(() => {
    queueLength = Math.max(0, queueLength - 10);
    queue.set(queueLength);
  }, 200);
  drain.unref();

  const server = createServer((req, res) => {
    const requestId = String(req.headers['x-request-id'] ?? randomUUID());
    const reply = (status, body, type = 'application/json') => {
      res.writeHead(status, { 'content-type': type, 'x-request-id': requestId });
      res.end(type === 'application/json' ? JSON.stringify(body) : body);
    };
    if (req.method === 'GET' && req.url === '/health') {
      if (release.fault === 'dying-health' && faultActive())
        return reply(503, { status: 'failing', version: release.version, reason: 'worker pool exhausted' });
      return reply(200, {
        status: 'ok',
        version: release.version,
        uptime_s: Math.round((Date.now() - started) / 1000),
      });
    }
    if (req.method === 'GET' && req.url === '/metrics') {
      registry.metrics().then((text) => reply(200, text, registry.contentType));
      return;
    }
    if (req.method === 'POST' && req.url === '/hash') {
      const chunks = [];
      let size = 0;
      req.on('data', (c) => {
        size += c.length;
        if (size <= MAX_BODY) chunks.push(c);
      });
      req.on('end', async () => {
        const t0 = process.hrtime.bigint();
        if (size > MAX_BODY) {
          extractions.inc({ result: 'invalid' });
          log('warn', 'image too large', { request_id: requestId, bytes: size });
          return reply(413, { error: `image larger than ${MAX_BODY} bytes`, request_id: requestId });
        }
        let result;
        try {
          result = dhash(Buffer.concat(chunks));
        } catch (error) {
          extractions.inc({ result: 'invalid' });
          log('warn', 'not a PNG image', { request_id: requestId, error: error.message });
          return reply(400, { error: 'body is not a PNG image', request_id: requestId });
        }
        const fault = faultActive() ? release.fault : undefined;
        if (fault === 'slow-hashing') await new Promise((r) => setTimeout(r, 2600));
        if (release.workMs) {
          const factor = fault === 'subtle-regression' ? 3 : 1;
          const computeMs = Number(process.hrtime.bigint() - t0) / 1e6;
          const targetMs = (computeMs + release.workMs * (0.5 + Math.random())) * factor;
          await new Promise((r) => setTimeout(r, Math.max(0, targetMs - computeMs)));
        }
        const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
        duration.observe(seconds);
        const failureRate =
          fault === 'failing-extractions'
            ? 0.4
            : fault === 'subtle-regression'
              ? 0.02
              : (release.failureRate ?? 0);
        if (failureRate > 0 && Math.random() < failureRate) {
          extractions.inc({ result: 'failed' });
          log('error', 'extraction failed', {
            request_id: requestId,
            error: 'feature extractor returned no gradient map',
          });
          return reply(500, { error: 'extraction failed', request_id: requestId });
        }
        extractions.inc({ result: 'ok' });
        if (result.confidence < LOW_CONFIDENCE || fault === 'growing-queue') {
          queueLength += fault === 'growing-queue' ? 60 : 1;
          queue.set(queueLength);
        }
        appendFileSync(
          join(root, 'data', 'hashes.jsonl'),
          `${JSON.stringify({ at: new Date().toISOString(), hash: result.hash, confidence: result.confidence, release: release.version })}\n`,
        );
        log('info', 'hashed image', {
          request_id: requestId,
          hash: result.hash,
          duration_ms: Math.round(seconds * 1000),
          confidence: result.confidence,
        });
        reply(200, {
          hash: result.hash,
          width: result.width,
          height: result.height,
          confidence: result.confidence,
          request_id: requestId,
        });
      });
      return;
    }
    reply(404, { error: `no route for ${req.method} ${req.url}`, request_id: requestId });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const address = server.address();
      log('info', 'dhash service listening', {
        version: release.version,
        fault: release.fault ?? null,
        port: address.port,
      });
      resolve({
        server,
        port: address.port,
        release,
        close: () =>
          new Promise((r) => (clearInterval(drain), server.close(() => r()), server.closeAllConnections())),
      });
    });
  });
}

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const root = arg('root');
  if (!root) {
    console.error('usage: server.mjs --root DIR [--port N]');
    process.exit(2);
  }
  try {
    const service = await startService({ root, port: Number(arg('port', '0')) });
    const stop = () => service.close().then(() => process.exit(0));
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  } catch (error) {
    log('error', 'dhash service failed to start', { error: error.message });
    process.exit(1);
  }
}
