// Recording the pre-deploy baseline and sampling what baseline gates read during the watch, from
// the same source the monitor polls: a Prometheus range query over the period before the deploy
// (instant, nothing to wait for), or a scrape of the service's /metrics every `intervalMs` through
// the period (the exposition has no history). Baseline gates need raw cumulative series (counters,
// histogram buckets, gauges) rather than the windowed values the fixed gates' PromQL computes.
import { readFileSync, writeFileSync } from 'node:fs';
import { ConfigError, formatDuration } from '@guarded-rollout/config';
import {
  BaselineError,
  baselineFromReadings,
  metricsOfBaselineGate,
  parseBaselineSnapshot,
  type BaselineGate,
  type BaselineSnapshot,
  type Gate,
  type MetricReading,
  type Reading,
} from '@guarded-rollout/gates';
import { systemClock, type Clock } from './clock.js';
import { scrapeExposition } from './providers/exposition.js';
import { describeFetchError, getText } from './providers/http.js';
import { resolveSelectors, type MonitorSources, type SeriesSelector } from './sources.js';

/** Reads a baseline file written by `guarded-rollout baseline` (or inline JSON, for an action
 *  input); a ConfigError naming the file and what is wrong otherwise. */
export function loadBaselineFile(fileOrJson: string): BaselineSnapshot {
  const inline = fileOrJson.trim().startsWith('{');
  const where = inline ? 'input "baseline"' : fileOrJson;
  let raw: unknown;
  try {
    raw = JSON.parse(inline ? fileOrJson : readFileSync(fileOrJson, 'utf8'));
  } catch (error) {
    throw new ConfigError(`cannot read the baseline: ${(error as Error).message}`, { file: where });
  }
  try {
    return parseBaselineSnapshot(raw, where);
  } catch (error) {
    throw new ConfigError((error as Error).message, { file: where });
  }
}

export interface BaselineSourceOptions {
  gates: readonly BaselineGate[];
  /** Prometheus text exposition of the service (scraped). */
  metricsUrl?: string;
  /** Prometheus HTTP API (range query). */
  prometheusUrl?: string;
  sources?: MonitorSources;
  timeoutMs?: number;
}

/** What a baseline gate's metric is, which decides how it is read. */
type SeriesKind = 'counter' | 'histogram' | 'gauge';

function seriesOf(
  gates: readonly BaselineGate[],
  sources: MonitorSources | undefined,
): Map<string, { selector: SeriesSelector; kind: SeriesKind }> {
  // The selector mapping is the fixed gates' (gate `sources`, sources file, DHash defaults): a
  // stand-in gate per baseline gate reuses it without touching the fixed-gate code.
  const standIns = gates.map(
    (g) =>
      ({
        name: g.name,
        kind: 'ratio',
        numerator: metricsOfBaselineGate(g)[0]!,
        denominator: metricsOfBaselineGate(g)[1] ?? metricsOfBaselineGate(g)[0]!,
        sources: g.sources,
        threshold: 0,
        windowMs: 0,
        minEvents: 1,
      }) as Gate,
  );
  const selectors = resolveSelectors(standIns, sources);
  const out = new Map<string, { selector: SeriesSelector; kind: SeriesKind }>();
  for (const g of gates)
    for (const m of metricsOfBaselineGate(g))
      out.set(m, {
        selector: selectors.get(m)!,
        kind: g.compare === 'ratio' ? 'counter' : g.compare === 'percentile' ? 'histogram' : 'gauge',
      });
  return out;
}

function matchers(s: SeriesSelector): string {
  const parts = Object.entries(s.labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

/** PromQL for the raw cumulative value of a series (summed across instances). */
export function rawSeriesQuery(selector: SeriesSelector, kind: SeriesKind): string {
  if (kind === 'histogram') return `sum by (le) (${selector.name}_bucket${matchers(selector)})`;
  if (kind === 'gauge') return `max(${selector.name}${matchers(selector)})`;
  return `sum(${selector.name}${matchers(selector)})`;
}

interface PromSeries {
  metric: Record<string, string>;
  value?: [number, string];
  values?: Array<[number, string]>;
}

async function promApi(
  baseUrl: string,
  path: string,
  params: Record<string, string>,
  timeoutMs: number,
): Promise<PromSeries[]> {
  const url = new URL(path, baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  let res;
  try {
    res = await getText(url.toString(), timeoutMs);
  } catch (error) {
    throw new BaselineError(`Prometheus query failed: ${describeFetchError(error, timeoutMs)}`);
  }
  let answer: { status?: string; error?: string; data?: { result?: PromSeries[] } };
  try {
    answer = JSON.parse(res.body);
  } catch {
    throw new BaselineError(`Prometheus answered HTTP ${res.status} without JSON`);
  }
  if (answer.status !== 'success')
    throw new BaselineError(`PromQL error: ${answer.error ?? `HTTP ${res.status}`}`);
  return answer.data?.result ?? [];
}

/** Turns per-timestamp samples of each metric into engine readings, one per timestamp. */
function toReadings(
  byMetric: Map<string, { kind: SeriesKind; series: PromSeries[] }>,
  startSeconds: number,
): Reading[] {
  const times = new Set<number>();
  for (const { series } of byMetric.values())
    for (const s of series) for (const [t] of s.values ?? []) times.add(t);
  return [...times]
    .sort((a, b) => a - b)
    .map((t) => {
      const metrics: Record<string, MetricReading> = {};
      for (const [metric, { kind, series }] of byMetric) {
        const at = (s: PromSeries): number | undefined => {
          const v = s.values?.find(([ts]) => ts === t)?.[1];
          return v === undefined ? undefined : Number(v);
        };
        if (kind === 'histogram') {
          const buckets = series
            .map((s) => ({ le: s.metric.le === '+Inf' ? Infinity : Number(s.metric.le), count: at(s) }))
            .filter((b): b is { le: number; count: number } => b.count !== undefined);
          if (buckets.length) {
            metrics[metric] = {
              type: 'histogram',
              buckets,
              count: buckets.find((b) => b.le === Infinity)?.count ?? 0,
            };
          }
        } else {
          const v = series[0] ? at(series[0]) : undefined;
          if (v !== undefined) metrics[metric] = { type: kind === 'gauge' ? 'gauge' : 'counter', value: v };
        }
      }
      return { at: (t - startSeconds) * 1000, metrics };
    });
}

/** Scales histogram bounds by the selector's unit factor (seconds → ms). */
function scaleBuckets(reading: MetricReading, scale: number): MetricReading {
  if (reading.type !== 'histogram' || scale === 1) return reading;
  return { ...reading, buckets: reading.buckets.map((b) => ({ le: b.le * scale, count: b.count })) };
}

/** A sampler of the raw series baseline gates read, for the watch and for recording. */
export function createBaselineSampler(
  options: BaselineSourceOptions,
): (at: number) => Promise<Record<string, MetricReading>> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const series = seriesOf(options.gates, options.sources);
  if (options.metricsUrl) {
    const selectors = new Map([...series].map(([m, s]) => [m, s.selector]));
    return (_at) => scrapeExposition(options.metricsUrl!, selectors, timeoutMs);
  }
  if (options.prometheusUrl) {
    return async () => {
      const out: Record<string, MetricReading> = {};
      await Promise.all(
        [...series].map(async ([metric, { selector, kind }]) => {
          try {
            const result = await promApi(
              options.prometheusUrl!,
              'api/v1/query',
              { query: rawSeriesQuery(selector, kind) },
              timeoutMs,
            );
            if (!result.length) return void (out[metric] = { type: 'error', error: `no data for ${metric}` });
            if (kind === 'histogram') {
              const buckets = result.map((s) => ({
                le: (s.metric.le === '+Inf' ? Infinity : Number(s.metric.le)) * selector.scale,
                count: Number(s.value?.[1]),
              }));
              out[metric] = {
                type: 'histogram',
                buckets,
                count: buckets.find((b) => b.le === Infinity)?.count ?? 0,
              };
            } else {
              const value = Number(result[0]!.value?.[1]) * (kind === 'gauge' ? selector.scale : 1);
              out[metric] = { type: kind === 'gauge' ? 'gauge' : 'counter', value };
            }
          } catch (error) {
            out[metric] = { type: 'error', error: (error as Error).message };
          }
        }),
      );
      return out;
    };
  }
  throw new ConfigError('baseline gates need metrics-url (exposition) or prometheus-url (Prometheus API)', {
    field: 'metrics-url',
  });
}

export interface RecordBaselineOptions extends BaselineSourceOptions {
  /** Overrides the gates' baseline period (they share the longest one by default). */
  periodMs?: number;
  /** Virtual ms per real ms, as for the monitor (a demo at 60× records 15 m in 15 s). */
  timeScale?: number;
  /** Exposition only: scrape interval in virtual ms (default 30 s). */
  intervalMs?: number;
  /** Writes the snapshot as JSON here too. */
  outFile?: string;
  clock?: Clock;
  signal?: AbortSignal;
  log?: (line: string) => void;
}

/**
 * Records the baseline before a deploy. Prometheus: one range query per metric over the period
 * that just ended. Exposition: scrapes now and every `intervalMs` until the period has passed
 * (the deploy must wait for it). Throws BaselineError when the source fails or the period holds
 * too little data; a cancel (signal) throws too, so nothing is deployed on a half baseline.
 */
export async function recordBaseline(options: RecordBaselineOptions): Promise<BaselineSnapshot> {
  const clock = options.clock ?? systemClock;
  const log = options.log ?? (() => {});
  const scale = options.timeScale ?? 1;
  const periodMs = options.periodMs ?? Math.max(...options.gates.map((g) => g.baselinePeriodMs));
  if (!options.gates.length) throw new BaselineError('no baseline gates are configured for this environment');
  let readings: Reading[];
  let source: string;
  if (options.prometheusUrl && !options.metricsUrl) {
    const series = seriesOf(options.gates, options.sources);
    const end = clock.now() / 1000;
    const start = end - periodMs / scale / 1000;
    const step = Math.max(1, (options.intervalMs ?? 30_000) / scale / 1000);
    log(`baseline: Prometheus range query over the last ${formatDuration(periodMs)} (step ${step}s)`);
    const byMetric = new Map<string, { kind: SeriesKind; series: PromSeries[] }>();
    for (const [metric, { selector, kind }] of series) {
      const result = await promApi(
        options.prometheusUrl,
        'api/v1/query_range',
        { query: rawSeriesQuery(selector, kind), start: String(start), end: String(end), step: String(step) },
        options.timeoutMs ?? 5000,
      );
      byMetric.set(metric, { kind, series: result });
    }
    readings = toReadings(byMetric, start).map((r) => ({
      ...r,
      metrics: Object.fromEntries(
        Object.entries(r.metrics).map(([m, v]) => [m, scaleBuckets(v, series.get(m)!.selector.scale)]),
      ),
    }));
    source = `prometheus ${options.prometheusUrl}`;
  } else {
    const sample = createBaselineSampler(options);
    const interval = options.intervalMs ?? 30_000;
    const started = clock.now();
    readings = [];
    log(
      `baseline: scraping ${options.metricsUrl} every ${formatDuration(interval)} for ${formatDuration(periodMs)}${scale !== 1 ? ` (${formatDuration(periodMs / scale)} real)` : ''}`,
    );
    for (let at = 0; at <= periodMs; at += interval) {
      const wait = started + at / scale - clock.now();
      if (wait > 0) await clock.sleep(wait, options.signal);
      if (options.signal?.aborted) throw new BaselineError('baseline recording cancelled');
      const metrics = await sample(at);
      const failed = Object.entries(metrics).find(([, m]) => m.type === 'error');
      if (failed)
        throw new BaselineError(
          `baseline: ${failed[0]} could not be read: ${(failed[1] as { error: string }).error}`,
        );
      readings.push({ at, metrics });
    }
    source = `exposition ${options.metricsUrl}`;
  }
  const snapshot = baselineFromReadings(options.gates, readings, {
    recordedAt: new Date(clock.now()),
    periodMs,
    source,
  });
  if (options.outFile) writeFileSync(options.outFile, `${JSON.stringify(snapshot, null, 2)}\n`);
  for (const [name, s] of Object.entries(snapshot.gates))
    log(
      `baseline ${name}: ${s.compare === 'ratio' ? `${s.bad}/${s.total} failed` : s.compare === 'percentile' ? `p-bound ${s.bound}, ${s.above}/${s.total} slower` : `${s.values.length} readings, mean ${(s.values.reduce((a, b) => a + b, 0) / Math.max(1, s.values.length)).toFixed(1)}`}`,
    );
  return snapshot;
}
