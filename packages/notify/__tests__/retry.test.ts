import { afterEach, describe, expect, it } from '@jest/globals';
import {
  decideRetry,
  DEFAULT_RETRY_POLICY,
  fullJitterDelay,
  parseRetryAfter,
  postWithRetry,
  type DeliveryEnvironment,
} from '../src/index.js';
import { fakeClock, startSink, type Sink, type SinkReply } from './sink.js';

const NOW = Date.parse('2026-11-23T12:00:00Z');
const policy = DEFAULT_RETRY_POLICY;
const half = (): number => 0.5;

describe('retry policy (pure)', () => {
  it.each([
    ['5', 5000],
    ['0', 0],
    ['1.5', 1500],
    ['Mon, 23 Nov 2026 12:00:07 GMT', 7000],
    ['Mon, 23 Nov 2026 11:00:00 GMT', 0],
    ['soon', undefined],
    [null, undefined],
  ])('parses Retry-After %j as %j ms', (value, expected) =>
    expect(parseRetryAfter(value, NOW)).toBe(expected),
  );

  it('backs off with full jitter: random(0, min(cap, base·2^n))', () => {
    expect([1, 2, 3, 4, 5, 6].map((n) => fullJitterDelay(n, policy, () => 0.999999))).toEqual([
      499, 999, 1999, 3999, 7999, 7999,
    ]);
    expect(fullJitterDelay(3, policy, () => 0)).toBe(0);
  });

  it.each([
    [{ kind: 'response', status: 200 } as const, 1, false, 'delivered'],
    [{ kind: 'response', status: 400 } as const, 1, false, 'HTTP 400 (not retried'],
    [{ kind: 'response', status: 404 } as const, 1, false, 'HTTP 404 (not retried'],
    [{ kind: 'response', status: 500 } as const, 1, true, 'HTTP 500'],
    [{ kind: 'response', status: 503 } as const, 4, false, 'HTTP 503 after 4 attempts'],
    [{ kind: 'response', status: 429, retryAfter: '3' } as const, 1, true, 'Retry-After 3000 ms'],
    [{ kind: 'response', status: 429, retryAfter: '3600' } as const, 1, false, 'more than the 30000 ms cap'],
    [{ kind: 'response', status: 429, bodyRetryAfterSeconds: 0.25 } as const, 1, true, 'Retry-After 250 ms'],
    [{ kind: 'network', error: 'network error ECONNRESET' } as const, 2, true, 'ECONNRESET'],
    [{ kind: 'timeout' } as const, 1, true, 'timed out'],
  ])('%j at attempt %d: retry=%s (%s)', (outcome, attempt, retry, why) => {
    const d = decideRetry(outcome, attempt, policy, NOW, half);
    expect(d.retry).toBe(retry);
    expect(d.why).toContain(why);
  });
});

describe('delivery with retries against a real HTTP sink (fake clock)', () => {
  let sink: Sink;
  afterEach(async () => sink?.close());

  type FakeClock = ReturnType<typeof fakeClock>;
  function env(
    clock: FakeClock = fakeClock(NOW),
    extra: Partial<Omit<DeliveryEnvironment, 'clock'>> = {},
  ): DeliveryEnvironment & { clock: FakeClock } {
    return {
      fetch,
      random: half,
      policy,
      attemptTimeoutMs: 2000,
      deadline: clock.now() + 60_000,
      ...extra,
      clock,
    };
  }

  async function deliver(replies: SinkReply[], e = env()) {
    sink = await startSink((_req, nth) => replies[Math.min(nth, replies.length) - 1]!);
    const result = await postWithRetry(
      { url: sink.urlFor('/hook'), body: '{"a":1}', headers: { 'x-test': '1' } },
      e,
    );
    return { result, waits: e.clock.waits, requests: sink.requests };
  }

  it('retries 5xx with the jittered exponential schedule and then delivers', async () => {
    const { result, waits, requests } = await deliver([
      { status: 500 },
      { status: 502 },
      { status: 503 },
      { status: 200 },
    ]);
    expect(result).toMatchObject({ delivered: true, attempts: 4, status: 200 });
    expect(waits).toEqual([250, 500, 1000]);
    expect(requests).toHaveLength(4);
    expect(requests[0]!.headers['x-test']).toBe('1');
    expect(requests[0]!.headers['content-type']).toBe('application/json');
  });

  it("honours Retry-After in seconds, as an HTTP date, and Discord's float retry_after body", async () => {
    expect(
      (await deliver([{ status: 429, headers: { 'retry-after': '2' } }, { status: 204 }])).waits,
    ).toEqual([2000]);
    await sink.close();
    expect(
      (
        await deliver([
          { status: 429, headers: { 'retry-after': 'Mon, 23 Nov 2026 12:00:09 GMT' } },
          { status: 204 },
        ])
      ).waits,
    ).toEqual([9000]);
    await sink.close();
    const discord = await deliver([
      {
        status: 429,
        headers: { 'content-type': 'application/json' },
        body: '{"message":"You are being rate limited.","retry_after":0.931,"global":false}',
      },
      { status: 204 },
    ]);
    expect(discord.waits).toEqual([931]);
    expect(discord.result.delivered).toBe(true);
  });

  it('gives up on a Retry-After longer than the cap (fails open, no long wait)', async () => {
    const { result, waits } = await deliver([{ status: 429, headers: { 'retry-after': '600' } }]);
    expect(result.delivered).toBe(false);
    expect(result.error).toContain('more than the 30000 ms cap');
    expect(waits).toEqual([]);
  });

  it("does not retry other 4xx and reports the receiver's answer", async () => {
    const { result, requests } = await deliver([{ status: 400, body: 'invalid_payload' }]);
    expect(result).toMatchObject({ delivered: false, attempts: 1, status: 400 });
    expect(result.error).toBe('HTTP 400 (not retried: the request itself was refused) — invalid_payload');
    expect(requests).toHaveLength(1);
  });

  it('gives up after maxAttempts on a server that keeps failing', async () => {
    const { result, waits } = await deliver([{ status: 500 }]);
    expect(result).toMatchObject({ delivered: false, attempts: 4 });
    expect(result.error).toContain('HTTP 500 after 4 attempts');
    expect(waits).toHaveLength(3);
  });

  it('retries a reset connection and a hanging server (timeout), then delivers', async () => {
    const { result, waits } = await deliver(
      ['reset', 'hang', { status: 200 }],
      env(fakeClock(NOW), { attemptTimeoutMs: 200 }),
    );
    expect(result.delivered).toBe(true);
    expect(result.history.map((h) => h.outcome)).toEqual([
      expect.stringMatching(/network error/),
      'timed out',
      'HTTP 200',
    ]);
    expect(waits).toEqual([250, 500]);
  });

  it('never starts a wait that would pass the deadline', async () => {
    const clock = fakeClock(NOW);
    const { result, waits } = await deliver([{ status: 503 }], env(clock, { deadline: NOW + 600 }));
    expect(waits).toEqual([250]);
    expect(result.delivered).toBe(false);
    expect(result.error).toMatch(/would pass the time budget/);
  });
});
