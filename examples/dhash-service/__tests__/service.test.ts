// The sample DHash service as a real process under its supervisor: hashing, health, metrics,
// JSON logs, each fault kind, deploy by release switch + restart, crash restart, clean stop.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const src = fileURLToPath(new URL('../src/', import.meta.url));
const images = fileURLToPath(new URL('../sample-images/', import.meta.url));

function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('timed out');
}

interface Deployment {
  root: string;
  base: string;
  supervisor: ChildProcess;
  ctl: (...args: string[]) => { status: number | null; stdout: string; stderr: string };
}

async function deployment(fault: string): Promise<Deployment> {
  const root = mkdtempSync(join(tmpdir(), 'dhash-svc-'));
  const ctl = (...args: string[]) =>
    spawnSync(process.execPath, [join(src, 'ctl.mjs'), ...args, '--root', root], { encoding: 'utf8' });
  expect(ctl('init', '--fault', fault).status).toBe(0);
  const supervisor = spawn(process.execPath, [join(src, 'supervisor.mjs'), '--root', root], {
    stdio: 'ignore',
  });
  const port = await until(
    async () => (JSON.parse(readFileSync(join(root, 'supervisor.json'), 'utf8')) as { port: number }).port,
  );
  const base = `http://127.0.0.1:${port}`;
  await until(async () => ((await fetch(`${base}/health`)).ok ? true : undefined));
  return { root, base, supervisor, ctl };
}

async function stopDeployment(d: Deployment | undefined): Promise<void> {
  if (!d || d.supervisor.exitCode !== null) return;
  const exited = new Promise((r) => d.supervisor.once('exit', r));
  d.supervisor.kill('SIGTERM');
  await exited;
}

const png = (name: string): Buffer => readFileSync(join(images, name));
/** fetch, retried once: after a restart the client's pooled keep-alive sockets point at the old process. */
async function fetchFresh(url: string, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch {
    return fetch(url, init);
  }
}
const hash = (base: string, body: Buffer) =>
  fetchFresh(`${base}/hash`, {
    method: 'POST',
    body,
    headers: { 'content-type': 'image/png', 'x-request-id': 'req-1' },
  });

describe('release 1.0.0 (healthy)', () => {
  let d: Deployment;
  beforeAll(async () => void (d = await deployment('failing-extractions')));
  afterAll(async () => {
    await stopDeployment(d);
    expect(alive(d.supervisor.pid)).toBe(false);
  });

  it('hashes a PNG to a 64-bit dHash in hex, the same for the same image', async () => {
    const r = await hash(d.base, png('stripes.png'));
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({
      hash: '5a5a5a5a5a5a5a5a',
      width: 64,
      height: 64,
      confidence: 1,
      request_id: 'req-1',
    });
    const c = (await (await hash(d.base, png('checkerboard.png'))).json()) as { hash: string };
    expect(c.hash).toBe('1818666618186666');
  });

  it('refuses a body that is not a PNG with 400 and counts it as invalid', async () => {
    const r = await hash(d.base, Buffer.from('GIF89a...'));
    expect(r.status).toBe(400);
    const metrics = await (await fetch(`${d.base}/metrics`)).text();
    expect(metrics).toMatch(/^dhash_extractions_total\{result="invalid"\} 1$/m);
  });

  it('answers /health with JSON status ok and its version, and serves the Prometheus exposition', async () => {
    expect(await (await fetch(`${d.base}/health`)).json()).toMatchObject({ status: 'ok', version: '1.0.0' });
    const metrics = await (await fetch(`${d.base}/metrics`)).text();
    expect(metrics).toContain('# TYPE dhash_extractions_total counter');
    expect(metrics).toContain('# TYPE dhash_hash_duration_seconds histogram');
    expect(metrics).toContain('# TYPE dhash_low_confidence_queue_length gauge');
    expect(metrics).toContain('dhash_release_info{version="1.0.0",fault="none"} 1');
  });

  it('logs JSON lines with ISO-8601 timestamp, level, message and request id', async () => {
    await hash(d.base, png('circle.png'));
    const lines = readFileSync(join(d.root, 'service.log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const hashed = lines.find((l) => l.message === 'hashed image')!;
    expect(hashed).toMatchObject({ level: 'info', request_id: 'req-1' });
    expect(new Date(hashed.timestamp as string).toISOString()).toBe(hashed.timestamp);
    expect(readFileSync(join(d.root, 'data', 'hashes.jsonl'), 'utf8')).toContain('5a5a5a5a5a5a5a5a');
  });

  it('deploy switches the active release and restarts; a crashed service is restarted', async () => {
    const deployed = d.ctl('deploy', '--version', '1.1.0');
    expect(deployed.stdout).toContain('deployed 1.1.0');
    const results = await Promise.all(
      Array.from({ length: 20 }, () => hash(d.base, png('stripes.png')).then((r) => r.status)),
    );
    expect(results.filter((s) => s === 500).length).toBeGreaterThan(0);
    const servicePid = Number(
      spawnSync('pgrep', ['-P', String(d.supervisor.pid)], { encoding: 'utf8' }).stdout.trim(),
    );
    process.kill(servicePid, 'SIGKILL');
    await until(async () => ((await fetchFresh(`${d.base}/health`)).ok ? true : undefined));
    expect(d.ctl('deploy', '--version', '9.9.9').stderr).toMatch(
      /unknown version "9.9.9"; known: 1.0.0, 1.1.0/,
    );
  });
});

describe('faulty release 1.1.0', () => {
  it('dying-health: /health answers 503 with a failing status', async () => {
    const d = await deployment('dying-health');
    try {
      d.ctl('deploy', '--version', '1.1.0', '--timeout', '5');
      const r = await fetchFresh(`${d.base}/health`);
      expect(r.status).toBe(503);
      expect(await r.json()).toMatchObject({ status: 'failing', version: '1.1.0' });
    } finally {
      await stopDeployment(d);
    }
  });

  it('growing-queue: the low-confidence queue grows with every request', async () => {
    const d = await deployment('growing-queue');
    try {
      expect(d.ctl('deploy', '--version', '1.1.0').status).toBe(0);
      for (let i = 0; i < 20; i++) await hash(d.base, png('stripes.png'));
      const metrics = await (await fetchFresh(`${d.base}/metrics`)).text();
      expect(Number(/^dhash_low_confidence_queue_length (\d+)/m.exec(metrics)![1])).toBeGreaterThan(1000);
    } finally {
      await stopDeployment(d);
    }
  });

  it('subtle-regression: hash time ×3 from a ~30 ms baseline, still far under the 2000 ms limit', async () => {
    const d = await deployment('subtle-regression');
    const meanMs = async (): Promise<number> => {
      const text = await (await fetchFresh(`${d.base}/metrics`)).text();
      const sum = Number(/^dhash_hash_duration_seconds_sum (\S+)/m.exec(text)![1]);
      const count = Number(/^dhash_hash_duration_seconds_count (\S+)/m.exec(text)![1]);
      return (sum / count) * 1000;
    };
    try {
      for (let i = 0; i < 20; i++) await hash(d.base, png('stripes.png'));
      const before = await meanMs();
      expect(d.ctl('deploy', '--version', '1.1.0').status).toBe(0);
      for (let i = 0; i < 20; i++) await hash(d.base, png('stripes.png'));
      const after = await meanMs();
      const metrics = await (await fetchFresh(`${d.base}/metrics`)).text();
      expect(metrics).toContain('fault="subtle-regression"');
      expect(before).toBeGreaterThan(15);
      expect(after).toBeGreaterThan(2 * before);
      expect(after).toBeLessThan(1000);
      expect(JSON.parse(readFileSync(join(d.root, 'releases.json'), 'utf8'))['1.0.0']).toMatchObject({
        failureRate: 0.002,
      });
    } finally {
      await stopDeployment(d);
    }
  });

  it('an unknown fault kind is refused', () => {
    const root = mkdtempSync(join(tmpdir(), 'dhash-svc-'));
    const r = spawnSync(
      process.execPath,
      [join(src, 'ctl.mjs'), 'init', '--root', root, '--fault', 'gremlins'],
      { encoding: 'utf8' },
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      /--fault "gremlins" is not one of none, slow-hashing, failing-extractions, dying-health, growing-queue/,
    );
  });
});
