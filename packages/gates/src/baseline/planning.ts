// What a baseline gate can see before a deploy happens: at a given traffic rate, the smallest
// regression it detects within the watch window, and the expected time to detect a few sizes.
// "Expected" = the statistic evaluated at the expected counts (close to the median detection time).
import { formatDuration } from '@guarded-rollout/config';
import type { MonitorPolicy } from '../config.js';
import type { BaselineGate } from './gate.js';
import {
  binomialMixtureLogStatistic,
  binomialUpperBound,
  gaussianMixtureLogStatistic,
  gaussianMixtureRho,
} from './sequential.js';
import { studentTQuantile } from './special.js';

export interface BaselinePlanOptions {
  /** Requests a second (ratio and percentile gates). */
  requestsPerSecond: number;
  /** Assumed baseline failure rate for ratio gates (default 1 %). */
  baselineRate?: number;
  /** Assumed baseline gauge mean and standard deviation (default 10 and 3). */
  gaugeMean?: number;
  gaugeSd?: number;
  /** Poll interval during the baseline period for gauges (default: the policy's initial interval). */
  baselinePollMs?: number;
}

export interface BaselinePlan {
  gate: string;
  assumption: string;
  /** Smallest detectable effect within the window, as a factor on the baseline value. */
  smallestFactor: number | null;
  smallestTimeMs: number | null;
  examples: Array<{ factor: number; from: number; to: number; timeMs: number | null }>;
  /** "0.2% → 0.61% (×3.1) within 60m" */
  summary: string;
}

/** Poll times (ms after the deploy) of a policy's cadence over its window. */
export function pollTimes(policy: Pick<MonitorPolicy, 'windowMs' | 'cadence'>): number[] {
  const out: number[] = [];
  for (let t = 0; t <= policy.windowMs;) {
    out.push(t);
    t += t < policy.cadence.initialPhaseMs ? policy.cadence.initialIntervalMs : policy.cadence.intervalMs;
  }
  return out;
}

export function planBaselineGate(
  gate: BaselineGate,
  policy: Pick<MonitorPolicy, 'windowMs' | 'cadence'>,
  options: BaselinePlanOptions,
): BaselinePlan {
  const times = pollTimes(policy);
  const cutoff = Math.log(2 / gate.alpha);
  const rate = options.requestsPerSecond;
  let base: number;
  let detectAt: (factor: number) => number | null;
  let assumption: string;
  let show: (v: number) => string;
  if (gate.compare === 'gauge') {
    const mean = options.gaugeMean ?? 10;
    const sd = Math.max(options.gaugeSd ?? 3, 1);
    const k = Math.max(
      2,
      Math.round(gate.baselinePeriodMs / (options.baselinePollMs ?? policy.cadence.initialIntervalMs)),
    );
    const limit =
      (mean + (studentTQuantile(1 - gate.alpha / 2, k - 1) * sd) / Math.sqrt(k)) * (1 + gate.margin);
    const rho = gaussianMixtureRho(sd, 20, gate.alpha / 2);
    base = mean;
    assumption = `baseline mean ${mean} (σ ${sd}) over ${k} readings; one reading per poll`;
    show = (v) => v.toFixed(1);
    detectAt = (factor) => {
      for (let i = 1; i <= times.length; i++)
        if (gaussianMixtureLogStatistic(i * (mean * factor - limit), i, sd, rho) >= cutoff)
          return times[i - 1]!;
      return null;
    };
  } else {
    base = gate.compare === 'ratio' ? (options.baselineRate ?? 0.01) : 1 - gate.percentile! / 100;
    const n0 = (rate * gate.baselinePeriodMs) / 1000;
    const limit = Math.min(1, binomialUpperBound(base * n0, n0, gate.alpha / 2) * (1 + gate.margin));
    assumption =
      gate.compare === 'ratio'
        ? `${rate} requests/s, baseline failure rate ${(base * 100).toFixed(2)}% over ${formatDuration(gate.baselinePeriodMs)}`
        : `${rate} requests/s; by construction ${(base * 100).toFixed(0)}% of baseline requests are slower than its p${gate.percentile}`;
    show = (v) => `${(v * 100).toFixed(2).replace(/\.?0+$/, '')}%`;
    detectAt = (factor) => {
      const p = Math.min(1, base * factor);
      for (const t of times) {
        const n = (rate * t) / 1000;
        if (n > 0 && binomialMixtureLogStatistic(p * n, n, limit) >= cutoff) return t;
      }
      return null;
    };
  }
  // Smallest factor detected within the window (detection is monotone in the factor).
  const ceiling = gate.compare === 'gauge' ? 1000 : 1 / base;
  let smallestFactor: number | null = null;
  if (detectAt(ceiling) !== null) {
    let lo = 1;
    let hi = ceiling;
    for (let i = 0; i < 60; i++) {
      const mid = (lo + hi) / 2;
      if (detectAt(mid) !== null) hi = mid;
      else lo = mid;
    }
    smallestFactor = hi;
  }
  const examples = [1.5, 2, 3, 5, 10]
    .filter((f) => f <= ceiling)
    .map((factor) => ({
      factor,
      from: base,
      to: Math.min(gate.compare === 'gauge' ? Infinity : 1, base * factor),
      timeMs: detectAt(factor),
    }));
  const smallestTimeMs = smallestFactor === null ? null : detectAt(smallestFactor);
  const summary =
    smallestFactor === null
      ? `cannot detect any regression within ${formatDuration(policy.windowMs)} at this traffic`
      : `smallest detectable: ${show(base)} → ${show(base * smallestFactor)} (×${smallestFactor.toFixed(1)}) within ${formatDuration(policy.windowMs)}; ` +
        examples
          .map(
            (e) =>
              `×${e.factor}: ${e.timeMs === null ? 'not within the window' : e.timeMs === 0 ? 'at the first poll' : `~${formatDuration(e.timeMs)}`}`,
          )
          .join(', ');
  return { gate: gate.name, assumption, smallestFactor, smallestTimeMs, examples, summary };
}
