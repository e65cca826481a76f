import { describe, expect, it } from '@jest/globals';
import { DEFAULT_POLICY, milestones, nextPollAt, pollSchedule } from '../src/index.js';

describe('poll cadence', () => {
  it('polls every 30 s for the first 5 minutes, then every 120 s, ending exactly at T+60', () => {
    const s = pollSchedule(DEFAULT_POLICY).map((ms) => ms / 1000);
    expect(s.slice(0, 12)).toEqual([0, 30, 60, 90, 120, 150, 180, 210, 240, 270, 300, 420]);
    expect(s.slice(-3)).toEqual([3420, 3540, 3600]);
    expect(s).toHaveLength(11 + 27 + 1);
    expect(new Set(s.slice(1).map((t, i) => t - s[i]!))).toEqual(new Set([30, 120, 60]));
  });

  it('switches to 15 s while a failure is suspected, and back afterwards', () => {
    expect(nextPollAt(DEFAULT_POLICY, 1_200_000, true)).toBe(1_215_000);
    expect(nextPollAt(DEFAULT_POLICY, 1_215_000, false)).toBe(1_335_000);
    expect(nextPollAt(DEFAULT_POLICY, 60_000, true)).toBe(75_000);
  });

  it('never polls after the window', () => {
    expect(nextPollAt(DEFAULT_POLICY, 3_540_000)).toBe(3_600_000);
    expect(nextPollAt(DEFAULT_POLICY, 3_600_000)).toBeUndefined();
  });

  it('disables suspicion polling with a 0s interval', () => {
    const off = { ...DEFAULT_POLICY, cadence: { ...DEFAULT_POLICY.cadence, suspicionIntervalMs: 0 } };
    expect(nextPollAt(off, 1_200_000, true)).toBe(1_320_000);
  });

  it('marks escalations at T+15 and T+30 and the final report at T+60', () => {
    expect(milestones(DEFAULT_POLICY)).toEqual([
      { atMs: 900_000, kind: 'escalation' },
      { atMs: 1_800_000, kind: 'escalation' },
      { atMs: 3_600_000, kind: 'final-report' },
    ]);
  });
});
