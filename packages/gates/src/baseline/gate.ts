// Baseline gates: "the new release is worse than the pre-deploy baseline by more than a practical
// margin", decided by an always-valid sequential test so the false-alarm probability stays ≤ α no
// matter how often the monitor polls. α is split: α/2 for the baseline's upper confidence bound,
// α/2 for the sequential test of the watch against that bound × (1 + margin).
import { ConfigError, formatDuration, tryParseDuration, durationProblem } from '@guarded-rollout/config';
import type { Bucket } from '../percentile.js';
import { nearestRankPercentile } from '../percentile.js';
import type { MetricReading, Reading } from '../readings.js';
import {
  binomialMixtureLogStatistic,
  binomialUpperBound,
  gaussianMixtureLogStatistic,
  gaussianMixtureRho,
  meanUpperBound,
} from './sequential.js';

export type BaselineCompare = 'ratio' | 'percentile' | 'gauge';

export interface BaselineGate {
  name: string;
  kind: 'baseline';
  compare: BaselineCompare;
  /** ratio: bad-event and all-event counters. */
  numerator?: string;
  denominator?: string;
  /** percentile / gauge: the metric. */
  metric?: string;
  percentile?: number;
  unit: string;
  /** Relative practical margin: 0.5 tolerates up to 50 % worse than the baseline's upper bound. */
  margin: number;
  alpha: number;
  baselinePeriodMs: number;
  /** warn: a detected regression is reported (and notified) but never rolls back. */
  mode: 'enforce' | 'warn';
  /** Fewer baseline events (or gauge readings) than this cannot make a baseline. */
  minEvents: number;
  description?: string;
  sources: Record<string, string>;
}

export const BASELINE_DEFAULTS = { margin: 0.5, alpha: 0.01, baselinePeriodMs: 15 * 60_000 } as const;

type Json = Record<string, unknown>;

/** Resolves one `kind: "baseline"` gate of the (schema-checked, merged) config. */
export function resolveBaselineGate(name: string, g: Json, path: string, file: string): BaselineGate {
  const period = g.baseline_period;
  let baselinePeriodMs: number = BASELINE_DEFAULTS.baselinePeriodMs;
  if (period !== undefined) {
    const ms = typeof period === 'string' ? tryParseDuration(period) : undefined;
    if (ms === undefined || ms <= 0)
      throw new ConfigError(durationProblem(`${path}.baseline_period`, period), {
        file,
        field: `${path}.baseline_period`,
      });
    baselinePeriodMs = ms;
  }
  const compare = g.compare as BaselineCompare;
  return {
    name,
    kind: 'baseline',
    compare,
    ...(compare === 'ratio'
      ? { numerator: g.numerator as string, denominator: g.denominator as string }
      : { metric: g.metric as string }),
    ...(compare === 'percentile' ? { percentile: g.percentile as number } : {}),
    unit: (g.unit as string | undefined) ?? (compare === 'percentile' ? 'ms' : ''),
    margin: (g.margin as number | undefined) ?? BASELINE_DEFAULTS.margin,
    alpha: (g.alpha as number | undefined) ?? BASELINE_DEFAULTS.alpha,
    baselinePeriodMs,
    mode: (g.mode as 'enforce' | 'warn' | undefined) ?? 'enforce',
    minEvents: (g.min_events as number | undefined) ?? (compare === 'gauge' ? 5 : 100),
    ...(typeof g.description === 'string' ? { description: g.description } : {}),
    sources: (g.sources as Record<string, string> | undefined) ?? {},
  };
}

/** The logical metrics a baseline gate reads. */
export function metricsOfBaselineGate(gate: BaselineGate): string[] {
  return gate.compare === 'ratio' ? [gate.numerator!, gate.denominator!] : [gate.metric!];
}

/** "extractions_failed/extractions_total worse than baseline by > 50 %" */
export function describeBaselineLimit(gate: BaselineGate): string {
  const what =
    gate.compare === 'ratio'
      ? `${gate.numerator}/${gate.denominator}`
      : gate.compare === 'percentile'
        ? `share of ${gate.metric} above the baseline p${gate.percentile}`
        : `mean ${gate.metric}`;
  return `${what} worse than the ${formatDuration(gate.baselinePeriodMs)} pre-deploy baseline by > ${Math.round(gate.margin * 100)}% (α = ${gate.alpha}, sequential${gate.mode === 'warn' ? ', warn only' : ''})`;
}

/** What the baseline period showed, per gate: small, JSON-friendly, handed from the job that
 *  recorded it to the one that watches. */
export type BaselineSample =
  | { compare: 'ratio'; bad: number; total: number }
  /** `bound`: the histogram bucket bound (or sample value) holding the baseline's p-th percentile;
   *  `above` of `total` observations were slower than it. */
  | { compare: 'percentile'; bound: number; above: number; total: number }
  | { compare: 'gauge'; values: number[] };

export interface BaselineSnapshot {
  version: 1;
  /** ISO time the baseline period ended (the deploy started after it). */
  recordedAt: string;
  periodMs: number;
  /** Where it came from, for the report: "prometheus http://…", "exposition http://…/metrics". */
  source: string;
  gates: Record<string, BaselineSample>;
}

export class BaselineError extends Error {
  override name = 'BaselineError';
}

function counterIncrease(values: readonly number[]): number {
  let total = 0;
  for (let i = 1; i < values.length; i++) {
    const delta = values[i]! - values[i - 1]!;
    total += delta >= 0 ? delta : values[i]!;
  }
  return total;
}

/** Raw series a source sampled for baseline gates may sit under `baseline:<metric>` when the
 *  logical name is taken by a fixed gate's windowed value (the Prometheus provider); else the
 *  plain name (exposition scrapes, where both read the same raw series). */
export const BASELINE_METRIC_PREFIX = 'baseline:';
const raw = (r: Reading | undefined, metric: string): MetricReading | undefined =>
  r?.metrics[`${BASELINE_METRIC_PREFIX}${metric}`] ?? r?.metrics[metric];

/** A raw counter or gauge value; a `windowed` value is computed over some window, never raw. */
const numeric = (m: MetricReading | undefined): number | undefined =>
  m && (m.type === 'counter' || m.type === 'gauge') ? m.value : undefined;

/** Counter increase of a ratio gate's two counters over the readings that carry both. */
function ratioCounts(
  gate: BaselineGate,
  readings: readonly Reading[],
): { bad: number; total: number; polls: number } {
  const usable = readings.filter(
    (r) => numeric(raw(r, gate.numerator!)) !== undefined && numeric(raw(r, gate.denominator!)) !== undefined,
  );
  return {
    bad: counterIncrease(usable.map((r) => numeric(raw(r, gate.numerator!))!)),
    total: counterIncrease(usable.map((r) => numeric(raw(r, gate.denominator!))!)),
    polls: usable.length,
  };
}

/** Histogram increase between two cumulative readings (a reset counts everything since). */
function bucketDelta(now: readonly Bucket[], then: readonly Bucket[] | undefined): Bucket[] {
  if (!then) return [...now];
  const before = new Map(then.map((b) => [b.le, b.count]));
  const deltas = now.map((b) => ({ le: b.le, count: b.count - (before.get(b.le) ?? 0) }));
  return deltas.some((b) => b.count < 0) ? [...now] : deltas;
}

/** Observations of `metric` over the readings: total, and how many exceeded `bound` (when given). */
function latencyCounts(
  metric: string,
  readings: readonly Reading[],
  bound?: number,
): { total: number; above: number; buckets?: Bucket[]; values?: number[] } {
  const usable = readings.filter(
    (r) => raw(r, metric)?.type === 'histogram' || raw(r, metric)?.type === 'samples',
  );
  const first = raw(usable[0], metric);
  if (first?.type === 'samples') {
    const values = usable.flatMap((r) => {
      const m = raw(r, metric);
      return m?.type === 'samples' ? m.values : [];
    });
    return {
      total: values.length,
      above: bound === undefined ? 0 : values.filter((v) => v > bound).length,
      values,
    };
  }
  // Cumulative histograms: sum the increases between consecutive readings (resets handled per step).
  const sum = new Map<number, number>();
  for (let i = 1; i < usable.length; i++) {
    const now = raw(usable[i]!, metric);
    const then = raw(usable[i - 1]!, metric);
    if (now?.type !== 'histogram' || then?.type !== 'histogram') continue;
    for (const b of bucketDelta(now.buckets, then.buckets)) sum.set(b.le, (sum.get(b.le) ?? 0) + b.count);
  }
  const buckets = [...sum.entries()].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
  const total = buckets.find((b) => b.le === Infinity)?.count ?? buckets[buckets.length - 1]?.count ?? 0;
  const atOrBelow = bound === undefined ? total : (buckets.find((b) => b.le === bound)?.count ?? Number.NaN);
  return { total, above: total - atOrBelow, buckets };
}

/** Cumulative (bad, total) since the first watch reading, one entry per reading: bad = failed
 *  events for a ratio, observations slower than `bound` for a latency comparison. */
function cumulativeCounts(
  gate: BaselineGate,
  bound: number | undefined,
  readings: readonly Reading[],
): Array<{ bad: number; total: number }> {
  const out: Array<{ bad: number; total: number }> = [];
  const increase = (then: number, now: number): number => (now >= then ? now - then : now);
  let bad = 0;
  let total = 0;
  let prevBad: number | undefined;
  let prevTotal: number | undefined;
  let prevHistogram: Bucket[] | undefined;
  for (const r of readings) {
    if (gate.compare === 'ratio') {
      const b = numeric(raw(r, gate.numerator!));
      const t = numeric(raw(r, gate.denominator!));
      if (b !== undefined && t !== undefined) {
        if (prevBad !== undefined && prevTotal !== undefined) {
          bad += increase(prevBad, b);
          total += increase(prevTotal, t);
        }
        prevBad = b;
        prevTotal = t;
      }
    } else {
      const m = raw(r, gate.metric!);
      if (m?.type === 'samples') {
        total += m.values.length;
        bad += m.values.filter((v) => v > bound!).length;
      } else if (m?.type === 'histogram') {
        if (prevHistogram) {
          const delta = bucketDelta(m.buckets, prevHistogram);
          const all =
            delta.find((b) => b.le === Infinity)?.count ?? Math.max(0, ...delta.map((b) => b.count));
          // A bucket layout without the baseline's bound cannot be compared: NaN, never a pass.
          const atOrBelow = delta.find((b) => b.le === bound)?.count ?? Number.NaN;
          total += all;
          bad += all - atOrBelow;
        }
        prevHistogram = m.buckets;
      }
    }
    out.push({ bad, total });
  }
  return out;
}

/** Builds the baseline of each gate from readings polled during the baseline period. Throws a
 *  BaselineError naming the gate when the period held too little data to be a baseline. */
export function baselineFromReadings(
  gates: readonly BaselineGate[],
  readings: readonly Reading[],
  meta: { recordedAt: Date; periodMs: number; source: string },
): BaselineSnapshot {
  const out: Record<string, BaselineSample> = {};
  for (const gate of gates) {
    let sample: BaselineSample;
    let events: number;
    if (gate.compare === 'ratio') {
      const { bad, total } = ratioCounts(gate, readings);
      sample = { compare: 'ratio', bad, total };
      events = total;
    } else if (gate.compare === 'percentile') {
      const counts = latencyCounts(gate.metric!, readings);
      const p = gate.percentile! / 100;
      let bound = Number.NaN;
      if (counts.values) bound = nearestRankPercentile(counts.values, gate.percentile!);
      else bound = counts.buckets?.find((b) => b.count >= p * counts.total && b.count > 0)?.le ?? Number.NaN;
      const above = counts.values
        ? counts.values.filter((v) => v > bound).length
        : counts.total - (counts.buckets?.find((b) => b.le === bound)?.count ?? 0);
      sample = { compare: 'percentile', bound, above, total: counts.total };
      events = counts.total;
      if (bound === Infinity)
        throw new BaselineError(
          `baseline gate ${gate.name}: the baseline p${gate.percentile} of ${gate.metric} falls in the +Inf histogram bucket, so no slower share can be measured; add finite buckets above it`,
        );
    } else {
      const values = readings.map((r) => numeric(raw(r, gate.metric!))).filter((v) => v !== undefined);
      sample = { compare: 'gauge', values };
      events = values.length;
    }
    if (!(events >= gate.minEvents)) {
      throw new BaselineError(
        `baseline gate ${gate.name}: the ${formatDuration(meta.periodMs)} baseline period held ${events} ${gate.compare === 'gauge' ? 'readings' : 'events'}; at least ${gate.minEvents} (min_events) are needed to compare against`,
      );
    }
    out[gate.name] = sample;
  }
  return {
    version: 1,
    recordedAt: meta.recordedAt.toISOString(),
    periodMs: meta.periodMs,
    source: meta.source,
    gates: out,
  };
}

/** Checks a snapshot read from a file or an action input; names what is wrong. */
export function parseBaselineSnapshot(raw: unknown, where: string): BaselineSnapshot {
  const bad = (why: string): never => {
    throw new BaselineError(`${where}: ${why}`);
  };
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    bad('must be a JSON object written by `guarded-rollout baseline`');
  const s = raw as Partial<BaselineSnapshot>;
  if (s.version !== 1) bad(`version ${JSON.stringify(s.version)} is not supported; valid: 1`);
  if (typeof s.recordedAt !== 'string' || Number.isNaN(Date.parse(s.recordedAt)))
    bad('recordedAt must be an ISO time');
  if (typeof s.gates !== 'object' || s.gates === null) bad('gates must be an object of per-gate baselines');
  for (const [name, g] of Object.entries(s.gates!)) {
    const ok =
      (g?.compare === 'ratio' &&
        Number.isFinite(g.bad) &&
        Number.isFinite(g.total) &&
        g.bad >= 0 &&
        g.total >= g.bad) ||
      (g?.compare === 'percentile' &&
        Number.isFinite(g.above) &&
        Number.isFinite(g.total) &&
        typeof g.bound === 'number') ||
      (g?.compare === 'gauge' && Array.isArray(g.values) && g.values.every((v) => Number.isFinite(v)));
    if (!ok)
      bad(
        `gates.${name} is not a ratio {bad,total}, percentile {bound,above,total} or gauge {values} baseline`,
      );
  }
  return s as BaselineSnapshot;
}

export interface BaselineVerdict {
  gate: string;
  kind: 'baseline';
  compare: BaselineCompare;
  status: 'ok' | 'violated' | 'insufficient-data';
  /** Watch value: a percentage for ratio/percentile comparisons, the mean for gauges. */
  value: number | null;
  /** The limit tested against: baseline upper bound × (1 + margin), same unit as value. */
  threshold: number;
  windowMs: number | null;
  unit: string;
  suspicious: boolean;
  reason: string;
  /** Set in warn mode when a regression is detected: reported, never rolled back. */
  warning?: string;
  /** Evidence against "no worse than the limit" (the mixture martingale; trips at 2/α). */
  evidence: number;
  evidenceThreshold: number;
  /** `at` of the first reading where the evidence crossed the threshold, else null. */
  detectedAt: number | null;
  baselineValue: number | null;
}

const pct = (v: number): string => `${(v * 100).toFixed(v < 0.01 ? 3 : 2).replace(/\.?0+$/, '')}%`;

/** Sub-Gaussian scale floor for gauges: they count things, so a flat baseline is not σ = 0. */
const GAUGE_SD_FLOOR = 1;
/** The gauge mixture is tuned to about this many polls (the middle of a typical watch). */
const GAUGE_TUNED_POLLS = 20;

/** Evaluates one baseline gate over the watch readings so far (oldest first). The statistic's
 *  running maximum is used, so a regression once shown stays shown (the monitor stops there). */
export function evaluateBaselineGate(
  gate: BaselineGate,
  sample: BaselineSample | undefined,
  readings: readonly Reading[],
): BaselineVerdict {
  const cutoff = Math.log(2 / gate.alpha);
  const base = {
    gate: gate.name,
    kind: 'baseline' as const,
    compare: gate.compare,
    windowMs: null,
    unit: gate.compare === 'gauge' ? gate.unit : '%',
    suspicious: false,
    evidenceThreshold: 2 / gate.alpha,
  };
  if (!sample || sample.compare !== gate.compare) {
    return {
      ...base,
      status: 'insufficient-data',
      value: null,
      threshold: Number.NaN,
      evidence: 0,
      detectedAt: null,
      baselineValue: null,
      reason: `no ${gate.compare} baseline was recorded for this gate before the deploy`,
    };
  }
  let limit: number;
  let baselineValue: number;
  let baselineText: string;
  // One statistic per poll, from cumulative counts since the watch began.
  let stats: Array<{ log: number; value: number | null; text: string }>;
  if (sample.compare === 'ratio' || sample.compare === 'percentile') {
    const x0 = sample.compare === 'ratio' ? sample.bad : sample.above;
    const n0 = sample.total;
    limit = Math.min(1, binomialUpperBound(x0, n0, gate.alpha / 2) * (1 + gate.margin));
    baselineValue = n0 > 0 ? x0 / n0 : Number.NaN;
    baselineText =
      sample.compare === 'ratio'
        ? `baseline ${x0}/${n0} = ${pct(baselineValue)}`
        : `baseline p${gate.percentile} ≤ ${sample.bound} ${gate.unit}: ${x0}/${n0} = ${pct(baselineValue)} slower`;
    stats = cumulativeCounts(gate, sample.compare === 'percentile' ? sample.bound : undefined, readings).map(
      (c) => {
        if (!Number.isFinite(c.bad) || c.total <= 0) return { log: 0, value: null, text: 'no events yet' };
        return {
          log: binomialMixtureLogStatistic(c.bad, c.total, limit),
          value: (c.bad / c.total) * 100,
          text:
            sample.compare === 'ratio'
              ? `watch ${c.bad}/${c.total} = ${pct(c.bad / c.total)}`
              : `watch ${c.bad}/${c.total} = ${pct(c.bad / c.total)} slower than ${sample.bound} ${gate.unit}`,
        };
      },
    );
  } else {
    const { bound, sd } = meanUpperBound(sample.values, gate.alpha / 2);
    const sigma = Math.max(Number.isFinite(sd) ? sd : 0, GAUGE_SD_FLOOR);
    baselineValue = sample.values.reduce((s, v) => s + v, 0) / sample.values.length;
    limit = Math.max(bound, 0) * (1 + gate.margin);
    const rho = gaussianMixtureRho(sigma, GAUGE_TUNED_POLLS, gate.alpha / 2);
    baselineText = `baseline mean ${baselineValue.toFixed(1)} over ${sample.values.length} readings (σ ${sigma.toFixed(1)})`;
    let sum = 0;
    let count = 0;
    stats = readings.map((r) => {
      const v = numeric(raw(r, gate.metric!));
      if (v !== undefined) {
        sum += v;
        count++;
      }
      if (!count) return { log: 0, value: null, text: 'no readings yet' };
      return {
        log: gaussianMixtureLogStatistic(sum - count * limit, count, sigma, rho),
        value: sum / count,
        text: `watch mean ${(sum / count).toFixed(1)} over ${count} readings`,
      };
    });
  }
  // Running maximum over every poll so far: the test is always valid, so any poll may stop it.
  const best = Math.max(-Infinity, ...stats.map((x) => x.log));
  const first = stats.findIndex((x) => x.log >= cutoff);
  const detectedAt = first >= 0 ? readings[first]!.at : null;
  const latest = stats[stats.length - 1] ?? { log: 0, value: null, text: 'no readings yet' };
  const evidence = Math.exp(Math.min(best, 700));
  const threshold = gate.compare === 'gauge' ? limit : limit * 100;
  const limitText =
    gate.compare === 'gauge'
      ? `limit ${limit.toFixed(1)} = upper bound × ${1 + gate.margin}`
      : `limit ${pct(limit)} = upper bound × ${1 + gate.margin}`;
  const summary = `${latest.text}; ${baselineText} (${limitText}); evidence ${evidence < 1e6 ? evidence.toFixed(1) : evidence.toExponential(1)} of ${2 / gate.alpha} needed`;
  const out = {
    ...base,
    value: latest.value,
    threshold,
    evidence,
    detectedAt,
    baselineValue: gate.compare === 'gauge' ? baselineValue : baselineValue * 100,
  };
  if (latest.value === null) return { ...out, status: 'insufficient-data', reason: summary };
  if (best >= cutoff) {
    const reason = `regression against the baseline: ${summary}`;
    if (gate.mode === 'warn')
      return { ...out, status: 'ok', suspicious: true, warning: reason, reason: `warn only — ${reason}` };
    return { ...out, status: 'violated', reason };
  }
  return { ...out, status: 'ok', suspicious: best >= cutoff / 2, reason: summary };
}

/** Evaluates every baseline gate of an environment. */
export function evaluateBaselineGates(
  gates: readonly BaselineGate[],
  snapshot: BaselineSnapshot | undefined,
  readings: readonly Reading[],
): BaselineVerdict[] {
  return gates.map((g) => evaluateBaselineGate(g, snapshot?.gates[g.name], readings));
}
