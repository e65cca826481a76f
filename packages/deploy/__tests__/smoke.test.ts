import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readEvidenceLog } from '@guarded-rollout/evidence';
import { checksForTier, judgeResponse, runSmokeTests, valueAtPath, type SmokeCheck } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'smoke-'));
let server: Server;
let base = '';

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'ok', checks: { db: 'ok' }, version: '1.4.2' }));
    } else if (req.url === '/hash' && req.method === 'POST') {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ hash: 'f0e1d2c3b4a59687', received: body.length }));
      });
    } else if (req.url === '/slow') {
      setTimeout(() => res.end('late'), 2000).unref();
    } else if (req.url === '/broken') {
      res.writeHead(500);
      res.end('internal error');
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

const check = (over: Partial<SmokeCheck>): SmokeCheck => ({
  name: 'c',
  tier: 'standard',
  method: 'GET',
  url: '/health',
  headers: {},
  expectStatus: 200,
  json: [],
  timeoutMs: 2000,
  ...over,
});

describe('smoke rules', () => {
  it('selects only critical checks for the critical tier, critical first for all', () => {
    const checks = [check({ name: 'a' }), check({ name: 'b', tier: 'critical' })];
    expect(checksForTier(checks, 'critical').map((c) => c.name)).toEqual(['b']);
    expect(checksForTier(checks, 'all').map((c) => c.name)).toEqual(['b', 'a']);
  });

  it.each<[Partial<SmokeCheck>, number, string, string[]]>([
    [{}, 200, '', []],
    [{}, 503, '', ['status 503, expected 200']],
    [{ bodyContains: 'ok' }, 200, 'all ok', []],
    [{ bodyContains: 'ok' }, 200, 'degraded', ['body does not contain "ok"']],
    [{ json: [{ path: 'status', equals: 'ok' }] }, 200, '{"status":"ok"}', []],
    [
      { json: [{ path: 'checks.db', equals: 'ok' }] },
      200,
      '{"checks":{"db":"down"}}',
      ['JSON checks.db is "down", expected "ok"'],
    ],
    [{ json: [{ path: 'items[1].id', equals: 2 }] }, 200, '{"items":[{"id":1},{"id":2}]}', []],
    [{ json: [{ path: 'version', equals: '1' }] }, 200, '{}', ['JSON version is missing']],
    [{ json: [{ path: 'a', equals: 1 }] }, 200, '<html>', ['body is not JSON']],
  ])('judges %j against %i %s', (over, status, body, problems) => {
    expect(judgeResponse(check(over), status, body)).toEqual(problems);
  });

  it('reads dotted paths', () => {
    expect(valueAtPath({ a: { b: [0, { c: null }] } }, 'a.b[1].c')).toEqual({ found: true, value: null });
  });
});

describe('runSmokeTests against a real local service', () => {
  const checks: SmokeCheck[] = [
    check({ name: 'health', tier: 'critical', json: [{ path: 'status', equals: 'ok' }] }),
    check({
      name: 'hash',
      tier: 'critical',
      method: 'POST',
      url: '/hash',
      body: 'image-bytes',
      headers: { 'content-type': 'application/octet-stream' },
      json: [{ path: 'received', equals: 11 }],
    }),
    check({ name: 'broken-page', url: '/broken' }),
  ];

  it('passes the critical tier and writes the evidence log with timings', async () => {
    const report = await runSmokeTests({
      environment: 'staging',
      checks,
      tier: 'critical',
      baseUrl: base,
      logDir: dir,
    });
    expect(report.passed).toBe(true);
    expect(report.results.map((r) => r.name)).toEqual(['health', 'hash']);
    const log = readEvidenceLog(report.logPath);
    expect(log.problems).toEqual([]);
    expect(log.result).toMatchObject({ status: 'pass', kind: 'postdeploy-smoketests', tier: 'critical' });
    expect((log.result!.checks as { duration_ms: number }[])[0]!.duration_ms).toBeGreaterThanOrEqual(0);
  });

  it('fails the all tier when a standard check fails', async () => {
    const report = await runSmokeTests({
      environment: 'staging',
      checks,
      tier: 'all',
      baseUrl: base,
      logDir: dir,
    });
    expect(report.passed).toBe(false);
    expect(report.summary).toBe('1 of 3 all smoke checks failed: broken-page');
    expect(readEvidenceLog(report.logPath).result).toMatchObject({ status: 'fail' });
  });

  it('fails a check that does not answer within its timeout, and one whose server is down', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const downPort = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const report = await runSmokeTests({
      environment: 'staging',
      checks: [
        check({ name: 'slow', tier: 'critical', url: `${base}/slow`, timeoutMs: 200 }),
        check({ name: 'down', tier: 'critical', url: `http://127.0.0.1:${downPort}/health` }),
      ],
      tier: 'critical',
      logDir: dir,
    });
    expect(report.results.map((r) => r.problems[0])).toEqual([
      'no response within 200ms',
      expect.stringMatching(/request failed: ECONNREFUSED/),
    ]);
    expect(report.results[0]!.durationMs).toBeLessThan(1500);
  });

  it('a cancel between checks is never a pass: the rest are not run, and the report and log say so', async () => {
    const cancel = new AbortController();
    const report = await runSmokeTests({
      environment: 'staging',
      checks,
      tier: 'all',
      baseUrl: base,
      logDir: dir,
      signal: cancel.signal,
      // The operator's Ctrl-C lands right after the first check's line.
      onLine: () => cancel.abort(),
    });
    expect(report).toMatchObject({ passed: false, cancelled: true });
    expect(report.results.map((r) => r.name)).toEqual(['health']);
    expect(report.summary).toBe(
      'cancelled after 1 of 3 all smoke checks (1 passed, 0 failed); the rest were not run',
    );
    expect(readEvidenceLog(report.logPath).result).toMatchObject({
      status: 'fail',
      cancelled: true,
      not_run: ['hash', 'broken-page'],
    });
  });

  it('a cancel during a check that hangs ends it at once; it counts as neither pass nor fail', async () => {
    const cancel = new AbortController();
    let hung!: () => void;
    const asked = new Promise<void>((r) => (hung = r));
    // Accepts the check and never answers (a hung release).
    const silent = createServer(() => hung());
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const port = (silent.address() as AddressInfo).port;
      const lines: string[] = [];
      const started = performance.now();
      const running = runSmokeTests({
        environment: 'staging',
        checks: [
          check({ name: 'health', tier: 'critical', url: `${base}/health` }),
          check({
            name: 'search',
            tier: 'critical',
            url: `http://127.0.0.1:${port}/search`,
            timeoutMs: 600_000,
          }),
        ],
        tier: 'critical',
        logDir: dir,
        signal: cancel.signal,
        onLine: (line) => lines.push(line),
      });
      await asked;
      cancel.abort();
      const report = await running;
      expect(performance.now() - started).toBeLessThan(5000); // not the check's 10 minutes
      expect(report).toMatchObject({ passed: false, cancelled: true });
      expect(report.results[1]).toMatchObject({
        cancelled: true,
        problems: ['cancelled before it answered'],
      });
      expect(report.summary).toBe(
        'cancelled after 1 of 2 critical smoke checks (1 passed, 0 failed); the rest were not run',
      );
      expect(lines[1]).toMatch(
        /^CANCELLED \[critical\] search: GET http:\/\/127\.0\.0\.1:\d+\/search → - in \d+ms — cancelled before it answered$/,
      );
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });

  it('a cancel after the last check finished changes nothing: the pass stands', async () => {
    const cancel = new AbortController();
    const report = await runSmokeTests({
      environment: 'staging',
      checks: checks.slice(0, 1),
      tier: 'critical',
      baseUrl: base,
      logDir: dir,
      signal: cancel.signal,
      onLine: () => cancel.abort(),
    });
    expect(report).toMatchObject({
      passed: true,
      cancelled: false,
      summary: '1/1 critical smoke checks passed',
    });
  });

  it('fails when no checks exist for the tier', async () => {
    const report = await runSmokeTests({
      environment: 'staging',
      checks: [check({})],
      tier: 'critical',
      baseUrl: base,
      logDir: dir,
    });
    expect(report.passed).toBe(false);
    expect(report.summary).toBe('no critical smoke checks configured for staging');
  });

  it('refuses a relative URL without a base URL', async () => {
    await expect(
      runSmokeTests({
        environment: 'staging',
        checks: [check({ tier: 'critical' })],
        tier: 'critical',
        logDir: dir,
      }),
    ).rejects.toThrow(/"\/health" is relative and no base URL is set/);
  });
});
