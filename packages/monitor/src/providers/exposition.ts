// Scrapes a Prometheus text exposition (/metrics) and turns the mapped series into engine
// readings: counters and gauges summed over matching series, histograms as cumulative buckets
// (summed by `le`). The windowed ratios and percentiles are then computed by the engine from the
// deltas between polls. A failed scrape or a missing series is an `error` reading (fail closed).
// The parser ships no types. ncc type-checks with each bundle's own tsconfig (src of the action or
// CLI only), which would not see this package's declaration file without the reference.
// eslint-disable-next-line @typescript-eslint/triple-slash-reference
/// <reference path="../parse-prometheus-text-format.d.ts" />
import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format';
import type { MetricReading } from '@guarded-rollout/gates';
import type { SeriesSelector } from '../sources.js';
import { selectorText } from '../sources.js';
import { describeFetchError, getText } from './http.js';

function matches(labels: Record<string, string> | undefined, wanted: Record<string, string>): boolean {
  return Object.entries(wanted).every(([k, v]) => (labels?.[k] ?? '') === v);
}

function parseBound(le: string): number {
  return le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
}

/** Finds the family for a selector; prom-client and others name counters `x_total`, while some
 *  parsers strip the suffix, so both spellings are tried. */
function findFamily(families: Map<string, ParsedFamily>, name: string): ParsedFamily | undefined {
  return families.get(name) ?? families.get(name.replace(/_total$/, '')) ?? families.get(`${name}_total`);
}

/** One metric's reading from a parsed exposition. */
export function readSeries(families: Map<string, ParsedFamily>, selector: SeriesSelector): MetricReading {
  const family = findFamily(families, selector.name);
  if (!family)
    return { type: 'error', error: `series ${selectorText(selector)} not found in the exposition` };
  const samples = family.metrics.filter((m) => matches(m.labels, selector.labels));
  if (family.type === 'HISTOGRAM') {
    if (samples.length === 0)
      return { type: 'error', error: `no histogram series matches ${selectorText(selector)}` };
    const byBound = new Map<number, number>();
    let count = 0;
    let sum = 0;
    for (const s of samples) {
      for (const [le, c] of Object.entries(s.buckets ?? {})) {
        const bound = parseBound(le);
        byBound.set(bound, (byBound.get(bound) ?? 0) + Number(c));
      }
      count += Number(s.count ?? 0);
      sum += Number(s.sum ?? 0);
    }
    const buckets = [...byBound.entries()]
      .map(([le, c]) => ({ le: le === Number.POSITIVE_INFINITY ? le : le * selector.scale, count: c }))
      .sort((a, b) => a.le - b.le);
    return { type: 'histogram', buckets, count, sum: sum * selector.scale };
  }
  if (family.type === 'SUMMARY')
    return { type: 'error', error: `${family.name} is a summary; map a histogram, counter or gauge` };
  // A labelled counter that was never incremented has no series yet: that is zero, not missing.
  const total = samples.reduce((acc, s) => acc + Number(s.value), 0) * selector.scale;
  if (!Number.isFinite(total)) return { type: 'error', error: `${selectorText(selector)} is not a number` };
  return family.type === 'GAUGE' ? { type: 'gauge', value: total } : { type: 'counter', value: total };
}

/** Parses an exposition. The parser flattens a histogram's series into one bucket map whenever
 *  they carry labels besides `le` (pods, routes), so histograms are re-declared `untyped` before
 *  parsing — which keeps every `_bucket`/`_sum`/`_count` sample with its labels — and regrouped
 *  here, one series per label set. */
export function parseExposition(text: string): Map<string, ParsedFamily> {
  const histograms = new Set<string>();
  const rewritten = text.replace(/^# TYPE (\S+) histogram\s*$/gm, (_line, name: string) => {
    histograms.add(name);
    return `# TYPE ${name} untyped`;
  });
  const families = new Map<string, ParsedFamily>();
  for (const f of parsePrometheusTextFormat(rewritten)) {
    const seen = families.get(f.name);
    if (seen) seen.metrics.push(...f.metrics);
    else families.set(f.name, { ...f, metrics: [...f.metrics] });
  }
  for (const name of histograms) {
    const series = new Map<
      string,
      { labels: Record<string, string>; buckets: Record<string, string>; count?: string; sum?: string }
    >();
    const entry = (
      labels: Record<string, string> = {},
    ): { labels: Record<string, string>; buckets: Record<string, string>; count?: string; sum?: string } => {
      const { le: _le, ...rest } = labels;
      const key = JSON.stringify(Object.entries(rest).sort());
      let e = series.get(key);
      if (!e) series.set(key, (e = { labels: rest, buckets: {} }));
      return e;
    };
    for (const m of families.get(`${name}_bucket`)?.metrics ?? [])
      if (m.labels?.le !== undefined && m.value !== undefined) entry(m.labels).buckets[m.labels.le] = m.value;
    for (const m of families.get(`${name}_count`)?.metrics ?? []) entry(m.labels).count = m.value;
    for (const m of families.get(`${name}_sum`)?.metrics ?? []) entry(m.labels).sum = m.value;
    families.set(name, {
      name,
      help: families.get(name)?.help ?? '',
      type: 'HISTOGRAM',
      metrics: [...series.values()],
    });
  }
  return families;
}

/** Scrapes once and reads every mapped metric. */
export async function scrapeExposition(
  url: string,
  selectors: ReadonlyMap<string, SeriesSelector>,
  timeoutMs = 5000,
): Promise<Record<string, MetricReading>> {
  const out: Record<string, MetricReading> = {};
  let families: Map<string, ParsedFamily>;
  try {
    const res = await getText(url, timeoutMs, { accept: 'text/plain;version=0.0.4' });
    if (res.status < 200 || res.status > 299) throw new Error(`HTTP ${res.status} from the metrics endpoint`);
    families = parseExposition(res.body);
  } catch (error) {
    const reason =
      error instanceof Error && error.message.startsWith('HTTP ')
        ? error.message
        : `metrics scrape failed: ${describeFetchError(error, timeoutMs)}`;
    for (const metric of selectors.keys()) out[metric] = { type: 'error', error: reason };
    return out;
  }
  for (const [metric, selector] of selectors) out[metric] = readSeries(families, selector);
  return out;
}
