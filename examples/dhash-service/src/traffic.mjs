#!/usr/bin/env node
// Live traffic for the demo and tests: a fixed number of workers POSTing the sample images to
// /hash in a loop, each request bounded by a timeout, until stopped or the duration ends.
//   node src/traffic.mjs --url http://127.0.0.1:PORT [--workers 4] [--seconds 60]
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const imagesDir = fileURLToPath(new URL('../sample-images/', import.meta.url));

export function loadSampleImages() {
  return readdirSync(imagesDir)
    .filter((f) => f.endsWith('.png'))
    .sort()
    .map((f) => readFileSync(join(imagesDir, f)));
}

export function startTraffic({ url, workers = 4, pauseMs = 50, timeoutMs = 10_000 }) {
  const images = loadSampleImages();
  const stats = { sent: 0, ok: 0, failed: 0 };
  let running = true;
  let n = 0;
  const worker = async () => {
    while (running) {
      const body = images[n++ % images.length];
      try {
        const res = await fetch(`${url}/hash`, {
          method: 'POST',
          body,
          headers: { 'content-type': 'image/png' },
          signal: AbortSignal.timeout(timeoutMs),
        });
        await res.arrayBuffer();
        stats[res.ok ? 'ok' : 'failed']++;
      } catch {
        stats.failed++;
        await new Promise((r) => setTimeout(r, 200));
      }
      stats.sent++;
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  };
  const all = Promise.all(Array.from({ length: workers }, worker));
  return {
    stats,
    stop: async () => {
      running = false;
      await all;
    },
  };
}

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const url = arg('url');
  if (!url) {
    console.error('usage: traffic.mjs --url http://127.0.0.1:PORT [--workers N] [--seconds S]');
    process.exit(2);
  }
  const traffic = startTraffic({ url, workers: Number(arg('workers', '4')) });
  const stop = async () => {
    await traffic.stop();
    console.log(JSON.stringify(traffic.stats));
    process.exit(0);
  };
  setTimeout(stop, Number(arg('seconds', '600')) * 1000).unref();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
