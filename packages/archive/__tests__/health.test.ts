import { describe, it, expect } from '@jest/globals';
import { waitForHealthStreak, type HealthCheckOutcome } from '../src/index.js';

/** Runs the loop on a scripted sequence of check results with fake time (nothing waits). */
async function streak(
  script: boolean[],
  options: { required?: number; intervalMs?: number; deadlineMs?: number } = {},
) {
  let now = 0;
  let i = 0;
  const sleeps: number[] = [];
  const result = await waitForHealthStreak({
    probe: async (): Promise<HealthCheckOutcome> => {
      const ok = script[Math.min(i++, script.length - 1)]!;
      return { ok, detail: ok ? 'HTTP 200' : 'HTTP 503' };
    },
    clock: () => now,
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
    intervalMs: options.intervalMs ?? 5000,
    deadlineMs: options.deadlineMs ?? 60_000,
    ...(options.required ? { required: options.required } : {}),
  });
  return { ...result, sleeps };
}

describe('health streak', () => {
  const table: Array<[string, boolean[], boolean, number]> = [
    ['passes on the 3rd consecutive OK', [true, true, true], true, 3],
    ['a failure resets the streak', [true, true, false, true, true, true], true, 6],
    ['never 3 in a row before the deadline fails', [true, true, false], false, 13],
    ['all failing fails at the deadline', [false], false, 13],
  ];
  it.each(table)('%s', async (_label, script, ok, attempts) => {
    const r = await streak(script);
    expect(r.ok).toBe(ok);
    expect(r.attempts).toBe(attempts);
  });

  it('waits the interval between checks and not after the last', async () => {
    const r = await streak([true, true, true]);
    expect(r.sleeps).toEqual([5000, 5000]);
  });

  it('honours a custom required count', async () => {
    expect((await streak([true], { required: 5 })).attempts).toBe(5);
  });

  it('stops even when the clock never advances (bounded by count)', async () => {
    const r = await waitForHealthStreak({
      probe: async () => ({ ok: false, detail: 'down' }),
      clock: () => 0,
      sleep: async () => undefined,
      intervalMs: 1000,
      deadlineMs: 10_000,
    });
    expect(r.ok).toBe(false);
    expect(r.attempts).toBe(14);
  });

  it('a probe that throws counts as a failed check', async () => {
    let n = 0;
    const r = await waitForHealthStreak({
      probe: async () => {
        if (n++ === 0) throw new Error('ECONNREFUSED');
        return { ok: true, detail: 'HTTP 200' };
      },
      sleep: async () => undefined,
    });
    expect(r).toMatchObject({ ok: true, attempts: 4 });
    expect(r.checks[0]).toMatchObject({ ok: false, detail: 'probe error: ECONNREFUSED' });
  });
});
