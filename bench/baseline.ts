// Evidence for baseline gates (issue 17): many simulated deploys of the sample service.
//  - healthy windows: the release is as good as the old one, but traffic, failure rate, latency and
//    queue drift with the time of day and are overdispersed minute to minute → false-alarm rate with
//    a Clopper–Pearson 95 % interval, which must sit at or below α;
//  - regressions of several sizes → power and median time to detect;
//  - the reference: a naive one-sided z-test of the same hypothesis re-checked at every poll (what a
//    dashboard alert does), which shows why the test must be sequential; and the fixed seed gates.
// Runs the real engine: parseGatesConfig, baselineFromReadings, evaluateBaselineGates, evaluateGates.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  baselineFromReadings,
  binomialUpperBound,
  evaluateBaselineGates,
  evaluateGates,
  parseGatesConfig,
  pollTimes,
  type Reading,
} from '../packages/gates/src/index.js';

const root = process.argv[2] ?? process.cwd();
const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const HEALTHY = arg('healthy', 2000);
const WINDOWS = arg('windows', 200);
const RPS = arg('rps', 5);
let seed = arg('seed', 1);

// ---- the gates: the shipped production config plus one baseline gate per comparison ----------
const shipped = JSON.parse(readFileSync(join(root, 'quality-gates-config.json'), 'utf8'));
shipped.defaults.gates = {
  ...shipped.defaults.gates,
  failures_vs_baseline: {
    kind: 'baseline',
    compare: 'ratio',
    numerator: 'extractions_failed',
    denominator: 'extractions_total',
  },
  p95_vs_baseline: { kind: 'baseline', compare: 'percentile', metric: 'hash_duration_ms', percentile: 95 },
  queue_vs_baseline: { kind: 'baseline', compare: 'gauge', metric: 'low_confidence_queue_length' },
};
const env = parseGatesConfig(JSON.stringify(shipped), 'production');
const baselineGates = env.baselineGates!;
const ALPHA = baselineGates[0]!.alpha;
const MARGIN = baselineGates[0]!.margin;
const PERIOD = baselineGates[0]!.baselinePeriodMs;
const watchTimes = pollTimes(env.policy);
const BASELINE_POLL_MS = 30_000;

// ---- randomness (seeded) ------------------------------------------------------------------
function random(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
function normal(): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}
function poisson(lambda: number): number {
  if (lambda > 50) return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * normal()));
  const l = Math.exp(-lambda);
  let k = 0;
  let p = random();
  while (p > l) {
    k++;
    p *= random();
  }
  return k;
}
/** Gamma(shape, 1/shape): mean 1, coefficient of variation 1/√shape (Marsaglia–Tsang). */
function gammaMeanOne(shape: number): number {
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = normal();
    const v = (1 + c * x) ** 3;
    if (v > 0 && Math.log(random()) < 0.5 * x * x + d - d * v + d * Math.log(v)) return (d * v) / shape;
  }
}

// ---- the simulated service ----------------------------------------------------------------
const BUCKETS = [5, 10, 25, 50, 100, 250, 500, 1000, 2000, 2500, 5000, 10000, Infinity];
const DAY = 24 * 3600_000;
interface Effect {
  failures: number;
  latency: number;
  queue: number;
}
const NONE: Effect = { failures: 1, latency: 1, queue: 1 };

/** One deploy: the baseline period (−15 m … 0) then the watch (0 … 60 m), at a random time of day.
 *  Returns the readings of each part, polled like the monitor polls. */
function simulateDeploy(effect: Effect): { baseline: Reading[]; watch: Reading[] } {
  const phase = random() * DAY;
  const diurnal = (t: number, amplitude: number): number =>
    1 + amplitude * Math.sin((2 * Math.PI * (t + phase)) / DAY);
  let bad = 0;
  let total = 0;
  const cumulative = BUCKETS.map(() => 0);
  let queueNoise = normal() * 3;
  let minuteFailure = gammaMeanOne(4);
  let minuteLatency = Math.exp(0.08 * normal());
  let clock = -PERIOD;
  const SLICE = 10_000;
  const advance = (to: number): void => {
    for (; clock < to; clock += SLICE) {
      if (Math.floor(clock / 60_000) !== Math.floor((clock - SLICE) / 60_000)) {
        // Minute-to-minute overdispersion: the failure rate and latency wander beyond binomial noise.
        minuteFailure = gammaMeanOne(4);
        minuteLatency = Math.exp(0.08 * normal());
      }
      if (Math.floor(clock / 30_000) !== Math.floor((clock - SLICE) / 30_000))
        queueNoise = 0.6 * queueNoise + 2.4 * normal();
      const after = clock >= 0 ? effect : NONE;
      const n = poisson((RPS * diurnal(clock, 0.4) * SLICE) / 1000);
      const p = Math.min(1, 0.002 * diurnal(clock + 3 * 3600_000, 0.3) * minuteFailure * after.failures);
      bad += poisson(n * p);
      total += n;
      const median = 40 * diurnal(clock + 6 * 3600_000, 0.15) * minuteLatency * after.latency;
      for (let k = 0; k < n; k++) {
        const ms = median * Math.exp(0.5 * normal());
        for (let j = 0; j < BUCKETS.length; j++) if (ms <= BUCKETS[j]!) cumulative[j]!++;
      }
    }
  };
  const reading = (at: number): Reading => {
    advance(at);
    const queue = Math.max(
      0,
      10 * diurnal(at + 9 * 3600_000, 0.3) * (at >= 0 ? effect.queue : 1) + queueNoise,
    );
    return {
      at,
      health: { ok: true },
      metrics: {
        extractions_failed: { type: 'counter', value: bad },
        extractions_total: { type: 'counter', value: total },
        hash_duration_ms: {
          type: 'histogram',
          buckets: BUCKETS.map((le, j) => ({ le, count: cumulative[j]! })),
          count: total,
        },
        low_confidence_queue_length: { type: 'gauge', value: Math.round(queue) },
      },
    };
  };
  const baseline: Reading[] = [];
  for (let t = -PERIOD; t <= 0; t += BASELINE_POLL_MS) baseline.push(reading(t));
  const watch = watchTimes.map((t) => reading(t));
  return { baseline, watch };
}

// ---- the naive reference: a one-sided z-test re-checked at every poll -----------------------
const Z = 2.3263478740408408; // one-sided 1 % (α = 0.01)
function naiveFirstAlarm(
  name: string,
  baselineSample: ReturnType<typeof baselineFromReadings>['gates'][string],
  watch: Reading[],
): number | null {
  // Reuse the engine's own per-poll counts through its verdicts' values: value = watch share (%) or
  // mean; recompute the counts cheaply here instead.
  for (let i = 2; i <= watch.length; i++) {
    const verdict = evaluateBaselineGates(
      baselineGates.filter((g) => g.name === name),
      { version: 1, recordedAt: '', periodMs: PERIOD, source: '', gates: { [name]: baselineSample } },
      watch.slice(0, i),
    )[0]!;
    if (verdict.value === null) continue;
    let z: number;
    if (baselineSample.compare === 'gauge') {
      const w = watch
        .slice(0, i)
        .map((r) => (r.metrics.low_confidence_queue_length as { value: number }).value);
      const b = baselineSample.values;
      const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
      const variance = (xs: number[]) => xs.reduce((s, x) => s + (x - mean(xs)) ** 2, 0) / (xs.length - 1);
      z =
        (mean(w) - mean(b) * (1 + MARGIN)) /
        Math.sqrt(Math.max(variance(w) / w.length + ((1 + MARGIN) ** 2 * variance(b)) / b.length, 1e-9));
    } else {
      const x0 = baselineSample.compare === 'ratio' ? baselineSample.bad : baselineSample.above;
      const n0 = baselineSample.total;
      const m = /watch (\d+)\/(\d+)/.exec(verdict.reason);
      if (!m) continue;
      const x = Number(m[1]);
      const n = Number(m[2]);
      const pw = x / n;
      const pb = x0 / n0;
      const se = Math.sqrt((pw * (1 - pw)) / n + ((1 + MARGIN) ** 2 * pb * (1 - pb)) / n0);
      z = se > 0 ? (pw - pb * (1 + MARGIN)) / se : 0;
    }
    if (z > Z) return watch[i - 1]!.at;
  }
  return null;
}

// ---- statistics of the results ------------------------------------------------------------
function clopperPearson(x: number, n: number): [number, number] {
  const lo = x === 0 ? 0 : 1 - binomialUpperBound(n - x, n, 0.025);
  return [lo, binomialUpperBound(x, n, 0.025)];
}
const pct = (v: number): string => `${(v * 100).toFixed(2)}%`;
const median = (xs: number[]): number | null => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
};
const minutes = (ms: number | null): string => (ms === null ? '—' : `${(ms / 60_000).toFixed(1)} m`);

interface Tally {
  trips: number;
  times: number[];
}
function runScenario(label: string, effect: Effect, windows: number, watchGate: string | 'any') {
  const seq: Tally = { trips: 0, times: [] };
  const naive: Tally = { trips: 0, times: [] };
  const perGate: Record<string, number> = {};
  let fixed = 0;
  for (let w = 0; w < windows; w++) {
    const { baseline, watch } = simulateDeploy(effect);
    const snapshot = baselineFromReadings(baselineGates, baseline, {
      recordedAt: new Date(0),
      periodMs: PERIOD,
      source: 'bench',
    });
    const verdicts = evaluateBaselineGates(baselineGates, snapshot, watch);
    for (const v of verdicts) if (v.status === 'violated') perGate[v.gate] = (perGate[v.gate] ?? 0) + 1;
    const relevant = verdicts.filter((v) => watchGate === 'any' || v.gate === watchGate);
    const times = relevant.map((v) => v.detectedAt).filter((t): t is number => t !== null);
    if (times.length) {
      seq.trips++;
      seq.times.push(Math.min(...times));
    }
    const naiveTimes = relevant
      .map((v) => naiveFirstAlarm(v.gate, snapshot.gates[v.gate]!, watch))
      .filter((t): t is number => t !== null);
    if (naiveTimes.length) {
      naive.trips++;
      naive.times.push(Math.min(...naiveTimes));
    }
    if (effect !== NONE || w < 200) {
      for (let i = 1; i <= watch.length; i++) {
        if (evaluateGates(env, watch.slice(0, i)).some((r) => r.status === 'violated')) {
          fixed++;
          break;
        }
      }
    }
  }
  return { label, windows, seq, naive, perGate, fixed };
}

const started = Date.now();
console.log(
  `Baseline gates: α = ${ALPHA}, margin ${MARGIN * 100}%, baseline ${PERIOD / 60_000} m polled every ${BASELINE_POLL_MS / 1000} s, ` +
    `watch ${env.policy.windowMs / 60_000} m at the production cadence (${watchTimes.length} polls), ${RPS} requests/s mean.\n` +
    'Healthy windows: traffic ±40 %, failure rate (0.2 %) ±30 %, hash time ±15 % over the day; per-minute\n' +
    'overdispersion (failure rate × Gamma, CV 50 %; latency × lognormal 8 %); queue AR(1) around 10 ± 30 %.\n',
);
const healthy = runScenario('healthy (no regression)', NONE, HEALTHY, 'any');
const [lo, hi] = clopperPearson(healthy.seq.trips, HEALTHY);
const [nlo, nhi] = clopperPearson(healthy.naive.trips, HEALTHY);
console.log(`False alarms over ${HEALTHY} healthy windows (any of the 3 baseline gates):`);
console.log('| test | false alarms | rate | 95% CI (Clopper–Pearson) | ≤ α? |');
console.log('|---|---|---|---|---|');
console.log(
  `| sequential (this) | ${healthy.seq.trips} | ${pct(healthy.seq.trips / HEALTHY)} | [${pct(lo)}, ${pct(hi)}] | ${hi <= ALPHA ? 'yes (whole CI)' : healthy.seq.trips / HEALTHY <= ALPHA ? 'yes (estimate)' : 'NO'} |`,
);
console.log(
  `| naive z-test every poll | ${healthy.naive.trips} | ${pct(healthy.naive.trips / HEALTHY)} | [${pct(nlo)}, ${pct(nhi)}] | ${healthy.naive.trips / HEALTHY <= ALPHA ? 'yes' : 'NO'} |`,
);
console.log(
  `per gate (sequential): ${baselineGates.map((g) => `${g.name} ${healthy.perGate[g.name] ?? 0}`).join(', ')}; fixed gates tripped in ${healthy.fixed} of the first ${Math.min(200, HEALTHY)}\n`,
);

const scenarios: Array<[string, Effect, string]> = [
  ['failures 0.2 % → 0.5 %', { ...NONE, failures: 2.5 }, 'failures_vs_baseline'],
  ['failures 0.2 % → 1 %', { ...NONE, failures: 5 }, 'failures_vs_baseline'],
  ['failures 0.2 % → 2 %', { ...NONE, failures: 10 }, 'failures_vs_baseline'],
  ['failures 0.2 % → 3 %', { ...NONE, failures: 15 }, 'failures_vs_baseline'],
  ['hash time × 1.5', { ...NONE, latency: 1.5 }, 'p95_vs_baseline'],
  ['hash time × 3', { ...NONE, latency: 3 }, 'p95_vs_baseline'],
  ['queue × 2', { ...NONE, queue: 2 }, 'queue_vs_baseline'],
  ['queue × 3', { ...NONE, queue: 3 }, 'queue_vs_baseline'],
  ['subtle regression (×3 time, 2 % failures)', { failures: 10, latency: 3, queue: 1 }, 'any'],
];
console.log(`Regressions (${WINDOWS} windows each; onset at the deploy):`);
console.log(
  '| regression | gate | power (sequential) | median time to detect | naive z-test power | naive median | fixed gates tripped |',
);
console.log('|---|---|---|---|---|---|---|');
for (const [label, effect, gate] of scenarios) {
  const r = runScenario(label, effect, WINDOWS, gate);
  console.log(
    `| ${label} | ${gate} | ${pct(r.seq.trips / WINDOWS)} | ${minutes(median(r.seq.times))} | ${pct(r.naive.trips / WINDOWS)} | ${minutes(median(r.naive.times))} | ${pct(r.fixed / WINDOWS)} |`,
  );
}
console.log(`\n(${((Date.now() - started) / 1000).toFixed(1)} s)`);
