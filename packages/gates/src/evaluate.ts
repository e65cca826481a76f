// Pure gate evaluation: given the readings so far (oldest first), what does each gate say at the
// latest reading? Missing data is never a pass: it is `insufficient-data`, and a source that keeps
// failing becomes a violation once the configured error budget is spent (fail closed).
import { formatDuration } from '@guarded-rollout/config';
import type {
  ConsecutiveFailuresGate,
  EnvironmentGates,
  Gate,
  GaugeGate,
  MonitorPolicy,
  PercentileGate,
  RatioGate,
} from './config.js';
import { histogramQuantile, nearestRankPercentile, type Bucket } from './percentile.js';
import type { MetricReading, Reading } from './readings.js';

export type GateStatus = 'ok' | 'violated' | 'insufficient-data';

export interface GateResult {
  gate: string;
  /** 'baseline': a baseline gate's verdict (packages/gates/src/baseline), merged in by the monitor. */
  kind: Gate['kind'] | 'baseline';
  status: GateStatus;
  /** The observed value (a fraction for ratio gates), or null when there is none. */
  value: number | null;
  threshold: number;
  windowMs: number | null;
  unit: string;
  /** A failure is seen but not yet confirmed (e.g. 1 failed health check out of 3 needed). */
  suspicious: boolean;
  reason: string;
  /** A warn-only gate's finding: reported, never a violation. */
  warning?: string;
}

type Outcome = Pick<GateResult, 'status' | 'value' | 'reason'> & { suspicious?: boolean };

/** Formats a gate value in its unit: ratios as percentages. */
export function formatGateValue(
  gate: { kind: Gate['kind'] | 'baseline'; unit?: string },
  value: number | null,
): string {
  if (value === null || Number.isNaN(value)) return 'n/a';
  if (gate.kind === 'ratio') return `${(value * 100).toFixed(2).replace(/\.?0+$/, '')}%`;
  if (gate.kind === 'consecutive_failures') return `${value}`;
  const rounded = Number.isInteger(value) ? `${value}` : value.toFixed(1);
  return gate.unit ? `${rounded} ${gate.unit}` : rounded;
}

/** "> 2 consecutive non-OK checks", "> 5% over 10m", ... */
export function describeLimit(gate: Gate): string {
  switch (gate.kind) {
    case 'consecutive_failures':
      return `> ${gate.threshold} consecutive non-OK health checks`;
    case 'ratio':
      return `${gate.numerator}/${gate.denominator} > ${formatGateValue(gate, gate.threshold)} over ${formatDuration(gate.windowMs)}`;
    case 'percentile':
      return `p${gate.percentile} ${gate.metric} > ${formatGateValue(gate, gate.threshold)} over ${formatDuration(gate.windowMs)}`;
    case 'gauge':
      return `${gate.metric} > ${formatGateValue(gate, gate.threshold)}`;
  }
}

/** Counts trailing readings in which `failed(reading)` holds, skipping readings where it is undefined. */
function trailingStreak(readings: readonly Reading[], failed: (r: Reading) => boolean | undefined): number {
  let streak = 0;
  for (let i = readings.length - 1; i >= 0; i--) {
    const verdict = failed(readings[i]!);
    if (verdict === undefined) continue;
    if (!verdict) break;
    streak++;
  }
  return streak;
}

function evaluateConsecutive(
  gate: ConsecutiveFailuresGate,
  readings: readonly Reading[],
  policy: MonitorPolicy,
): Outcome {
  const checks = readings.filter((r) => r.health !== undefined);
  if (checks.length === 0)
    return { status: 'insufficient-data', value: null, reason: 'no health check has run yet' };
  const streak = trailingStreak(readings, (r) => {
    if (!r.health) return undefined;
    if (r.health.ok) return false;
    if (r.health.error && !policy.sourceErrors.failClosed) return undefined;
    return true;
  });
  const last = [...checks].reverse().find((r) => r.health && !r.health.ok)?.health;
  const detail = last && !last.ok ? `; last: ${last.detail}` : '';
  if (streak > gate.threshold) {
    return {
      status: 'violated',
      value: streak,
      reason: `${streak} consecutive non-OK health checks (limit ${gate.threshold})${detail}`,
    };
  }
  return {
    status: 'ok',
    value: streak,
    suspicious: streak > 0,
    reason: streak
      ? `${streak} non-OK check(s) in a row, ${gate.threshold + 1} trip the gate${detail}`
      : 'health checks OK',
  };
}

/** The readings a gate may use: those whose metric(s) are present and not errors. Also returns the
 *  trailing run of source errors, for fail-closed accounting. */
function usable(
  readings: readonly Reading[],
  metrics: readonly string[],
): { ok: Reading[]; errorStreak: number; lastError: string } {
  const ok = readings.filter((r) =>
    metrics.every((m) => r.metrics[m] !== undefined && r.metrics[m]!.type !== 'error'),
  );
  const errorStreak = trailingStreak(readings, (r) => {
    const states = metrics.map((m) => r.metrics[m]);
    if (states.some((s) => s?.type === 'error')) return true;
    if (states.every((s) => s !== undefined)) return false;
    return undefined;
  });
  let lastError = '';
  for (let i = readings.length - 1; i >= 0 && !lastError; i--) {
    for (const m of metrics) {
      const s = readings[i]!.metrics[m];
      if (s?.type === 'error') lastError = s.error;
    }
  }
  return { ok, errorStreak, lastError };
}

/** Fail-closed verdict for a gate whose latest reading is a source error. */
function sourceErrorOutcome(streak: number, lastError: string, policy: MonitorPolicy): Outcome | undefined {
  if (streak === 0) return undefined;
  if (policy.sourceErrors.failClosed && streak > policy.sourceErrors.maxConsecutive) {
    return {
      status: 'violated',
      value: null,
      reason: `metrics source failed ${streak} consecutive polls (limit ${policy.sourceErrors.maxConsecutive}): ${lastError}`,
    };
  }
  return {
    status: 'insufficient-data',
    value: null,
    suspicious: true,
    reason: `metrics source error: ${lastError}`,
  };
}

/** Index of the window's baseline: the latest usable reading at or before (now - window), or the
 *  earliest one while the window is not yet full. */
function baselineIndex(ok: readonly Reading[], now: number, windowMs: number): number {
  let index = 0;
  for (let i = 0; i < ok.length; i++) if (ok[i]!.at <= now - windowMs) index = i;
  return index;
}

/** increase() of a cumulative counter across readings, treating a drop as a restart from zero. */
function counterIncrease(values: readonly number[]): number {
  let total = 0;
  for (let i = 1; i < values.length; i++) {
    const delta = values[i]! - values[i - 1]!;
    total += delta >= 0 ? delta : values[i]!;
  }
  return total;
}

function counterValue(m: MetricReading | undefined): number {
  return m && (m.type === 'counter' || m.type === 'gauge') ? m.value : Number.NaN;
}

function evaluateRatio(gate: RatioGate, readings: readonly Reading[], policy: MonitorPolicy): Outcome {
  const now = readings[readings.length - 1]?.at ?? 0;
  const computed = sourceComputed(gate.name, readings, policy, (value, events = gate.minEvents) =>
    judgeRatio(gate, value * events, events),
  );
  if (computed) return computed;
  const { ok, errorStreak, lastError } = usable(readings, [gate.numerator, gate.denominator]);
  const failure = sourceErrorOutcome(errorStreak, lastError, policy);
  if (failure) return failure;
  if (ok.length < 2)
    return { status: 'insufficient-data', value: null, reason: 'needs two readings to measure a rate' };
  const inWindow = ok.slice(baselineIndex(ok, now, gate.windowMs));
  const bad = counterIncrease(inWindow.map((r) => counterValue(r.metrics[gate.numerator])));
  const all = counterIncrease(inWindow.map((r) => counterValue(r.metrics[gate.denominator])));
  const verdict = judgeRatio(gate, bad, all);
  if (verdict.status === 'violated') return verdict;
  const fast = fastBurnRatio(gate, ok, now, policy);
  if (fast === 'suspicious') return { ...verdict, suspicious: true };
  return fast ?? verdict;
}

/** The fast-burn limit of a ratio gate: 5× its limit, at most 40 %, never under the limit. */
export function fastBurnRatioLimit(threshold: number): number {
  return Math.max(threshold, Math.min(0.4, threshold * 5));
}

/** Fast burn: over the short window the failure ratio is far above the limit (a hard failure).
 *  Violates at once instead of waiting for the long window to fill. */
function fastBurnRatio(
  gate: RatioGate,
  ok: readonly Reading[],
  now: number,
  policy: MonitorPolicy,
): Outcome | 'suspicious' | undefined {
  const w = policy.cadence.fastBurnWindowMs;
  if (!w || w >= gate.windowMs) return undefined;
  const recent = ok.slice(baselineIndex(ok, now, w));
  if (recent.length < 2) return undefined;
  const bad = counterIncrease(recent.map((r) => counterValue(r.metrics[gate.numerator])));
  const all = counterIncrease(recent.map((r) => counterValue(r.metrics[gate.denominator])));
  const limit = fastBurnRatioLimit(gate.threshold);
  if (!Number.isFinite(bad) || !(all > 0)) return undefined;
  // Above the gate's own limit over the last minute, on more than one failure: worth a fast look.
  if (!(all >= gate.minEvents) || !(bad / all > limit))
    return bad > 1 && bad / all > gate.threshold ? 'suspicious' : undefined;
  return {
    status: 'violated',
    value: bad / all,
    reason: `fast burn: ${bad}/${all} = ${formatGateValue(gate, bad / all)} over the last ${formatDuration(now - recent[0]!.at)} (fast-burn limit ${formatGateValue(gate, limit)}; gate limit ${formatGateValue(gate, gate.threshold)} over ${formatDuration(gate.windowMs)})`,
  };
}

function withFastBurn(verdict: Outcome, fast: Outcome | 'suspicious' | undefined): Outcome {
  if (fast === 'suspicious') return { ...verdict, suspicious: true };
  return fast ?? verdict;
}

/** Fast burn of a percentile gate: more than half the requests of the short window are above
 *  the limit (its median is), i.e. nearly every request is slow. Suspicious when the gate's own
 *  percentile over the short window is above the limit. */
function fastBurnPercentile(
  gate: PercentileGate,
  ok: readonly Reading[],
  now: number,
  policy: MonitorPolicy,
): Outcome | 'suspicious' | undefined {
  const w = policy.cadence.fastBurnWindowMs;
  if (!w || w >= gate.windowMs) return undefined;
  const latest = ok[ok.length - 1]?.metrics[gate.metric];
  let median = Number.NaN;
  let high = Number.NaN;
  let count = 0;
  let from = now;
  if (latest?.type === 'samples') {
    const recent = ok.filter((r) => r.at > now - w);
    const values = recent.flatMap((r) => {
      const m = r.metrics[gate.metric];
      return m?.type === 'samples' ? m.values : [];
    });
    median = nearestRankPercentile(values, 50);
    high = nearestRankPercentile(values, gate.percentile);
    count = values.length;
    from = Math.max(0, now - w);
  } else if (latest?.type === 'histogram') {
    if (ok.length < 2) return undefined;
    const baseReading = ok[baselineIndex(ok, now, w)]!;
    const base = baseReading.metrics[gate.metric];
    const buckets = subtractBuckets(
      latest.buckets,
      base?.type === 'histogram' && base !== latest ? base.buckets : undefined,
    );
    count = buckets.reduce((max, b) => Math.max(max, b.count), 0);
    median = histogramQuantile(0.5, buckets);
    high = histogramQuantile(gate.percentile / 100, buckets);
    from = baseReading.at;
  } else return undefined;
  if (count < gate.minSamples) return undefined;
  if (!(median > gate.threshold)) return high > gate.threshold ? 'suspicious' : undefined;
  return {
    status: 'violated',
    value: median,
    reason: `fast burn: the median of the last ${formatDuration(now - from)} is ${formatGateValue(gate, median)} (${count} observations): more than half the requests are above the limit ${formatGateValue(gate, gate.threshold)}`,
  };
}

/** Events a ratio gate needs before it judges: min_events, and never so few that a single failed
 *  event (a 5xx now and then) exceeds the limit by itself. */
export function minimumEvents(gate: RatioGate): number {
  return gate.threshold > 0 ? Math.max(gate.minEvents, Math.floor(1 / gate.threshold) + 1) : gate.minEvents;
}

function judgeRatio(gate: RatioGate, bad: number, all: number): Outcome {
  if (!Number.isFinite(bad) || !Number.isFinite(all)) {
    return { status: 'insufficient-data', value: null, reason: 'counter readings are not numbers' };
  }
  const needed = minimumEvents(gate);
  if (all < needed) {
    return {
      status: 'insufficient-data',
      value: all > 0 ? bad / all : null,
      reason: `only ${all} ${gate.denominator} in the window; at least ${needed} needed to judge${needed > gate.minEvents ? ` (so that one failure alone cannot exceed ${formatGateValue(gate, gate.threshold)})` : ''}`,
    };
  }
  const ratio = bad / all;
  const text = `${bad}/${all} = ${formatGateValue(gate, ratio)} over ${formatDuration(gate.windowMs)}`;
  return ratio > gate.threshold
    ? { status: 'violated', value: ratio, reason: `${text} (limit ${formatGateValue(gate, gate.threshold)})` }
    : { status: 'ok', value: ratio, reason: text };
}

function subtractBuckets(now: readonly Bucket[], then: readonly Bucket[] | undefined): Bucket[] {
  if (!then) return [...now];
  const before = new Map(then.map((b) => [b.le, b.count]));
  const deltas = now.map((b) => ({ le: b.le, count: b.count - (before.get(b.le) ?? 0) }));
  // A histogram that went backwards was reset (restart): count everything observed since.
  return deltas.some((b) => b.count < 0) ? [...now] : deltas;
}

function evaluatePercentile(
  gate: PercentileGate,
  readings: readonly Reading[],
  policy: MonitorPolicy,
): Outcome {
  const now = readings[readings.length - 1]?.at ?? 0;
  const computed = sourceComputed(gate.name, readings, policy, (value, events = gate.minSamples) =>
    judgePercentile(gate, value, events),
  );
  if (computed) return computed;
  const { ok, errorStreak, lastError } = usable(readings, [gate.metric]);
  const failure = sourceErrorOutcome(errorStreak, lastError, policy);
  if (failure) return failure;
  const latest = ok[ok.length - 1]?.metrics[gate.metric];
  if (!latest) return { status: 'insufficient-data', value: null, reason: `no ${gate.metric} reading yet` };
  if (latest.type === 'samples') {
    const values = ok
      .filter((r) => r.at > now - gate.windowMs)
      .flatMap((r) => {
        const m = r.metrics[gate.metric];
        return m?.type === 'samples' ? m.values : [];
      });
    const verdict = judgePercentile(gate, nearestRankPercentile(values, gate.percentile), values.length);
    return verdict.status === 'violated'
      ? verdict
      : withFastBurn(verdict, fastBurnPercentile(gate, ok, now, policy));
  }
  if (latest.type === 'histogram') {
    if (ok.length < 2)
      return {
        status: 'insufficient-data',
        value: null,
        reason: 'needs two readings to measure a histogram window',
      };
    const base = ok[baselineIndex(ok, now, gate.windowMs)]!.metrics[gate.metric];
    const buckets = subtractBuckets(
      latest.buckets,
      base?.type === 'histogram' && base !== latest ? base.buckets : undefined,
    );
    const total = buckets.reduce((max, b) => Math.max(max, b.count), 0);
    const verdict = judgePercentile(gate, histogramQuantile(gate.percentile / 100, buckets), total);
    return verdict.status === 'violated'
      ? verdict
      : withFastBurn(verdict, fastBurnPercentile(gate, ok, now, policy));
  }
  return {
    status: 'insufficient-data',
    value: null,
    reason: `${gate.metric} is a ${latest.type}, not a histogram or samples`,
  };
}

function judgePercentile(gate: PercentileGate, value: number, count: number): Outcome {
  if (count < gate.minSamples || Number.isNaN(value)) {
    return {
      status: 'insufficient-data',
      value: Number.isNaN(value) ? null : value,
      reason: `only ${count} ${gate.metric} observations in the window; at least ${gate.minSamples} needed`,
    };
  }
  const text = `p${gate.percentile} = ${formatGateValue(gate, value)} over ${formatDuration(gate.windowMs)} (${count} observations)`;
  return value > gate.threshold
    ? { status: 'violated', value, reason: `${text}, limit ${formatGateValue(gate, gate.threshold)}` }
    : { status: 'ok', value, reason: text };
}

function evaluateGauge(gate: GaugeGate, readings: readonly Reading[], policy: MonitorPolicy): Outcome {
  const computed = sourceComputed(gate.name, readings, policy, (value) => judgeGauge(gate, value));
  if (computed) return computed;
  const metric = gate.metric;
  const { ok, errorStreak, lastError } = usable(readings, [metric]);
  const failure = sourceErrorOutcome(errorStreak, lastError, policy);
  if (failure) return failure;
  const latest = ok[ok.length - 1]?.metrics[metric];
  if (!latest) return { status: 'insufficient-data', value: null, reason: `no ${gate.metric} reading yet` };
  const value =
    latest.type === 'gauge' || latest.type === 'counter' || latest.type === 'windowed'
      ? latest.value
      : Number.NaN;
  if (!Number.isFinite(value))
    return { status: 'insufficient-data', value: null, reason: `${gate.metric} is not a gauge` };
  return judgeGauge(gate, value);
}

function judgeGauge(gate: GaugeGate, value: number): Outcome {
  const text = `${gate.metric} = ${formatGateValue(gate, value)}`;
  return value > gate.threshold
    ? { status: 'violated', value, reason: `${text} (limit ${formatGateValue(gate, gate.threshold)})` }
    : { status: 'ok', value, reason: text };
}

/** A gate fed under its own name by a source that computes the windowed value itself (a PromQL
 *  query): the latest value is judged directly, and that source's errors count fail-closed like any
 *  other source's. Undefined when the gate is fed raw metrics instead. */
function sourceComputed(
  name: string,
  readings: readonly Reading[],
  policy: MonitorPolicy,
  judge: (value: number, events?: number) => Outcome,
): Outcome | undefined {
  const latest = readings[readings.length - 1]?.metrics[name];
  if (latest === undefined) return undefined;
  if (latest.type === 'windowed') return judge(latest.value, latest.events);
  const { errorStreak, lastError } = usable(readings, [name]);
  return (
    sourceErrorOutcome(errorStreak, lastError, policy) ?? {
      status: 'insufficient-data',
      value: null,
      reason: `${name} reading is a ${latest.type}, not a value computed over the window`,
    }
  );
}

/** A gate looks unhealthy when it is violated, suspicious, or reads above its limit without yet
 *  having enough data to judge (e.g. 3 of 4 extractions failed): all three warrant a fast look.
 *  The monitor loop and the detection analysis both switch to suspicion polling on it. */
export function looksUnhealthy(r: GateResult): boolean {
  return r.status === 'violated' || r.suspicious || (r.value !== null && r.value > r.threshold);
}

/** Evaluates one gate at the latest reading. */
export function evaluateGate(gate: Gate, readings: readonly Reading[], policy: MonitorPolicy): GateResult {
  let outcome: Outcome;
  switch (gate.kind) {
    case 'consecutive_failures':
      outcome = evaluateConsecutive(gate, readings, policy);
      break;
    case 'ratio':
      outcome = evaluateRatio(gate, readings, policy);
      break;
    case 'percentile':
      outcome = evaluatePercentile(gate, readings, policy);
      break;
    case 'gauge':
      outcome = evaluateGauge(gate, readings, policy);
      break;
  }
  return {
    gate: gate.name,
    kind: gate.kind,
    status: outcome.status,
    value: outcome.value,
    threshold: gate.threshold,
    windowMs: 'windowMs' in gate ? gate.windowMs : null,
    unit: 'unit' in gate ? gate.unit : '',
    suspicious: outcome.suspicious ?? false,
    reason: outcome.reason,
  };
}

/** Evaluates every gate of an environment at the latest reading. */
export function evaluateGates(
  config: Pick<EnvironmentGates, 'gates' | 'policy'>,
  readings: readonly Reading[],
): GateResult[] {
  return config.gates.map((gate) => evaluateGate(gate, readings, config.policy));
}

/** How much history the evaluation needs: the longest window plus a baseline reading before it. */
export function retentionMs(config: Pick<EnvironmentGates, 'gates' | 'policy'>): number {
  const longest = Math.max(0, ...config.gates.map((g) => ('windowMs' in g ? g.windowMs : 0)));
  return longest + Math.max(config.policy.cadence.intervalMs, config.policy.cadence.initialIntervalMs);
}

/** Drops readings no gate can still use, keeping memory flat over a long window. Health streaks
 *  need only the trailing readings, so they are kept up to the largest failure threshold + 1. */
export function pruneReadings(
  config: Pick<EnvironmentGates, 'gates' | 'policy'>,
  readings: Reading[],
): Reading[] {
  const now = readings[readings.length - 1]?.at ?? 0;
  const horizon = now - retentionMs(config);
  const keepTail = Math.max(
    config.policy.sourceErrors.maxConsecutive + 2,
    ...config.gates.map((g) => (g.kind === 'consecutive_failures' ? g.threshold + 2 : 0)),
  );
  // Keep one reading at or before the horizon as the counter baseline.
  let firstKept = 0;
  for (let i = 0; i < readings.length; i++) if (readings[i]!.at <= horizon) firstKept = i;
  firstKept = Math.min(firstKept, Math.max(0, readings.length - keepTail));
  return firstKept > 0 ? readings.slice(firstKept) : readings;
}
