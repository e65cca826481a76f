// Scrapes a Prometheus text exposition (/metrics) and turns the mapped series into engine
// readings: counters and gauges summed over matching series, histograms as cumulative buckets
// (summed by `le`). The windowed ratios and percentiles are then computed by the engine from the
// deltas between polls. A failed scrape, a body that is not an exposition, or a selector that
// matches no series is an `error` reading (fail closed): missing is never zero.
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

/** Edit distance, for "did you mean" lists. */
export function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

/** The `count` candidates closest to `wanted` (shared prefix first, then edit distance). */
export function closest(wanted: string, candidates: Iterable<string>, count = 3): string[] {
  const prefix = (c: string): number => {
    let n = 0;
    while (n < c.length && n < wanted.length && c[n] === wanted[n]) n++;
    return n;
  };
  return [...new Set(candidates)]
    .map((c) => ({ c, d: editDistance(wanted, c) - prefix(c) / 2 }))
    .sort((x, y) => x.d - y.d || x.c.localeCompare(y.c))
    .slice(0, count)
    .map((x) => x.c);
}

/** Why a selector matched nothing, and what the endpoint has instead: the closest metric names,
 *  or, when the name exists, the label values each matcher could have meant. */
export function describeNoMatch(families: Map<string, ParsedFamily>, selector: SeriesSelector): string {
  const wanted = selectorText(selector);
  const family = findFamily(families, selector.name);
  if (!family) {
    const names = closest(
      selector.name,
      [...families.keys()].filter(
        (n) => !/_(bucket|count|sum)$/.test(n) || !families.has(n.replace(/_(bucket|count|sum)$/, '')),
      ),
    );
    return `selector ${wanted} matched no series: there is no metric ${selector.name}; closest names: ${names.length ? names.join(', ') : '(the exposition has no metrics)'}`;
  }
  const hints: string[] = [];
  for (const [label, value] of Object.entries(selector.labels)) {
    const values = new Set<string>();
    for (const m of family.metrics) if (m.labels?.[label] !== undefined) values.add(m.labels[label]!);
    if (!values.has(value))
      hints.push(
        values.size
          ? `${label}=${JSON.stringify(value)} is not among its values (${closest(value, values, 5)
              .map((v) => JSON.stringify(v))
              .join(', ')})`
          : `it has no label ${label}`,
      );
  }
  return `selector ${wanted} matched no series of ${family.name}${hints.length ? `: ${hints.join('; ')}` : ''}`;
}

/** One metric's reading from a parsed exposition. A selector that matches no series is an error
 *  reading (missing data, fail closed), never zero. */
export function readSeries(families: Map<string, ParsedFamily>, selector: SeriesSelector): MetricReading {
  const family = findFamily(families, selector.name);
  if (!family) return { type: 'error', error: describeNoMatch(families, selector) };
  const samples = family.metrics.filter((m) => matches(m.labels, selector.labels));
  if (samples.length === 0) return { type: 'error', error: describeNoMatch(families, selector) };
  if (family.type === 'HISTOGRAM') {
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
    if (!buckets.some((b) => b.le === Number.POSITIVE_INFINITY))
      return { type: 'error', error: `${family.name} has no +Inf bucket; not a complete histogram` };
    return { type: 'histogram', buckets, count, sum: sum * selector.scale };
  }
  if (family.type === 'SUMMARY')
    return { type: 'error', error: `${family.name} is a summary; map a histogram, counter or gauge` };
  const total = samples.reduce((acc, s) => acc + Number(s.value), 0) * selector.scale;
  if (!Number.isFinite(total)) return { type: 'error', error: `${selectorText(selector)} is not a number` };
  return family.type === 'GAUGE' ? { type: 'gauge', value: total } : { type: 'counter', value: total };
}

const SAMPLE_LINE = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})?[ \t]+[^ \t]+([ \t]+-?[0-9]+)?[ \t]*$/;

/** Refuses a body that is not a text exposition (an HTML error page, JSON, binary), naming the
 *  first offending line, instead of reading it as "no series". */
export function checkExposition(text: string, contentType = ''): void {
  const lines = text.split('\n');
  let samples = 0;
  for (const [i, raw] of lines.entries()) {
    const line = raw.replace(/\r$/, '').trim();
    if (line === '' || line.startsWith('#')) continue;
    if (!SAMPLE_LINE.test(line)) {
      const shown = line.length > 60 ? `${line.slice(0, 60)}…` : line;
      throw new ExpositionError(
        `the metrics endpoint did not answer a Prometheus text exposition${contentType ? ` (content-type ${contentType})` : ''}: line ${i + 1} is ${JSON.stringify(shown)}`,
      );
    }
    samples++;
  }
  if (samples === 0)
    throw new ExpositionError(
      `the metrics endpoint answered an exposition without a single sample${contentType ? ` (content-type ${contentType})` : ''}`,
    );
}

export class ExpositionError extends Error {}

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

/** Scrapes once and parses; throws an Error whose message is the one-line reason. */
export async function fetchExposition(url: string, timeoutMs = 5000): Promise<Map<string, ParsedFamily>> {
  let res;
  try {
    res = await getText(url, timeoutMs, { accept: 'text/plain;version=0.0.4' });
  } catch (error) {
    throw new ExpositionError(`metrics scrape failed: ${describeFetchError(error, timeoutMs)}`);
  }
  if (res.status < 200 || res.status > 299)
    throw new ExpositionError(`HTTP ${res.status} from the metrics endpoint`);
  checkExposition(res.body, res.contentType);
  try {
    return parseExposition(res.body);
  } catch (error) {
    throw new ExpositionError(
      `the metrics endpoint answered an exposition that does not parse: ${(error as Error).message}`,
    );
  }
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
    families = await fetchExposition(url, timeoutMs);
  } catch (error) {
    for (const metric of selectors.keys()) out[metric] = { type: 'error', error: (error as Error).message };
    return out;
  }
  for (const [metric, selector] of selectors) out[metric] = readSeries(families, selector);
  return out;
}
