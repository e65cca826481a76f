import { describe, expect, it } from '@jest/globals';
import { formatDuration, tryParseDuration } from '../src/durations.js';

describe('durations', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['10m', 600_000],
    ['1h', 3_600_000],
    ['1h30m', 5_400_000],
    ['1.5s', 1500],
    [' 2m ', 120_000],
  ])('%s = %d ms', (text, ms) => expect(tryParseDuration(text)).toBe(ms));

  it.each(['60', '15 minutes', '', '1x', '-5s', 'm'])('refuses %j', (text) =>
    expect(tryParseDuration(text)).toBeUndefined(),
  );

  it.each([
    [90_000, '1m30s'],
    [3_600_000, '1h'],
    [250, '250ms'],
    [0, '0ms'],
  ])('formats %d as %s', (ms, text) => expect(formatDuration(ms)).toBe(text));
});
