// Human durations used across config files, action inputs and CLI flags: "500ms", "30s", "10m",
// "1h", "1h30m". Bare numbers are refused: "60" is ambiguous between seconds and minutes.

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION = /^(?:(\d+(?:\.\d+)?)(ms|s|m|h|d))+$/;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;

export const DURATION_PATTERN = '^([0-9]+(\\.[0-9]+)?(ms|s|m|h|d))+$';

/** Parses a duration string to milliseconds, or returns undefined when it is not one. */
export function tryParseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (!DURATION.test(trimmed)) return undefined;
  let total = 0;
  for (const [, amount, unit] of trimmed.matchAll(PART)) {
    total += Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS];
  }
  return Math.round(total);
}

/** The sentence used whenever a duration is malformed, so every doorway says the same thing. */
export function durationProblem(field: string, value: unknown): string {
  return `${field}: ${JSON.stringify(value)} is not a duration; use e.g. "30s", "15m" or "1h" (units: ms, s, m, h, d)`;
}

/** Formats milliseconds compactly: 90_000 → "1m30s", 3_600_000 → "1h". */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 1000) return `${Math.round(ms)}ms`;
  let rest = Math.round(ms / 1000);
  const h = Math.floor(rest / 3600);
  rest -= h * 3600;
  const m = Math.floor(rest / 60);
  const s = rest - m * 60;
  return `${h ? `${h}h` : ''}${m ? `${m}m` : ''}${s ? `${s}s` : ''}` || '0s';
}
