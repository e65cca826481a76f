// Where each logical metric of the gates engine comes from. The engine speaks of extractions_failed,
// hash_duration_ms, ...; a service exposes dhash_extractions_total{result="failed"} or a PromQL
// query. This module holds that mapping: defaults for the sample DHash service, overridable per
// metric from a sources file or a gate's `sources` field.
import { readFileSync } from 'node:fs';
import { ConfigError, formatDuration } from '@guarded-rollout/config';
import type { Gate } from '@guarded-rollout/gates';

/** A series selector of the exposition format: name, label matchers, and a unit factor. */
export interface SeriesSelector {
  name: string;
  labels: Record<string, string>;
  /** Multiplies values (and histogram bounds): seconds → ms is 1000. */
  scale: number;
}

/** The sources file (`--sources FILE`, input `sources`): every field optional. */
export interface MonitorSources {
  /** Logical metric → exposition selector text, e.g. `dhash_hash_duration_seconds{job="x"} * 1000`. */
  metrics?: Record<string, string>;
  /** Gate → PromQL for the gate's value over its window, and for the events behind it. */
  promql?: Record<string, { query: string; events?: string }>;
  /** Logical metric → dotted path into the JSON endpoint's document. */
  json?: Record<string, string>;
}

/** How the sample DHash service (examples/dhash-service) names its metrics. */
export const DHASH_METRICS: Readonly<Record<string, string>> = {
  extractions_failed: 'dhash_extractions_total{result="failed"}',
  extractions_total: 'dhash_extractions_total',
  hash_duration_ms: 'dhash_hash_duration_seconds * 1000',
  low_confidence_queue_length: 'dhash_low_confidence_queue_length',
};

const SELECTOR = /^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{([^}]*)\})?\s*(?:\*\s*([0-9.eE+-]+))?\s*$/;
const MATCHER = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*$/;

/** Parses `name{label="v",...} [* factor]`; only equality matchers (all an exposition needs). */
export function parseSelector(text: string, where: string): SeriesSelector {
  const m = SELECTOR.exec(text);
  const problem = (): ConfigError =>
    new ConfigError(
      `${where}: ${JSON.stringify(text)} is not a series selector; use e.g. dhash_extractions_total{result="failed"} or dhash_hash_duration_seconds * 1000`,
      { field: where },
    );
  if (!m) throw problem();
  const labels: Record<string, string> = {};
  if (m[2] && m[2].trim() !== '') {
    for (const part of m[2].split(',').filter((p) => p.trim() !== '')) {
      const lm = MATCHER.exec(part);
      if (!lm) throw problem();
      labels[lm[1]!] = lm[2]!.replace(/\\(.)/g, '$1');
    }
  }
  const scale = m[3] === undefined ? 1 : Number(m[3]);
  if (!Number.isFinite(scale) || scale <= 0) throw problem();
  return { name: m[1]!, labels, scale };
}

export function selectorText(s: SeriesSelector): string {
  const labels = Object.entries(s.labels).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return `${s.name}${labels.length ? `{${labels.join(',')}}` : ''}`;
}

/** The logical metrics a gate reads. */
export function metricsOfGate(gate: Gate): string[] {
  switch (gate.kind) {
    case 'consecutive_failures':
      return [];
    case 'ratio':
      return [gate.numerator, gate.denominator];
    case 'percentile':
    case 'gauge':
      return [gate.metric];
  }
}

/** Resolves the exposition selector of every metric the gates read: a gate's `sources[metric]`
 *  wins over the sources file, which wins over the DHash defaults. Unknown metrics are an error
 *  up front rather than a silent "no data" an hour later. */
export function resolveSelectors(
  gates: readonly Gate[],
  sources: MonitorSources = {},
): Map<string, SeriesSelector> {
  const out = new Map<string, SeriesSelector>();
  for (const gate of gates) {
    for (const metric of metricsOfGate(gate)) {
      const fromGate = gate.sources[metric];
      const text = fromGate ?? sources.metrics?.[metric] ?? DHASH_METRICS[metric];
      if (text === undefined) {
        throw new ConfigError(
          `gate ${gate.name}: no exposition series is mapped for metric ${JSON.stringify(metric)}; ` +
            `add "sources": {"${metric}": "<series selector>"} to the gate or "metrics" to the sources file`,
          { field: `gates.${gate.name}.sources` },
        );
      }
      out.set(
        metric,
        parseSelector(
          text,
          fromGate !== undefined ? `gates.${gate.name}.sources.${metric}` : `metrics.${metric}`,
        ),
      );
    }
  }
  return out;
}

/** A PromQL range of `ms` of virtual time, compressed by the time scale, never shorter than
 *  `minimumMs` (a range must span at least two scrapes to hold an increase). */
export function promRange(ms: number, timeScale: number, minimumMs: number): string {
  const real = Math.max(minimumMs, Math.round(ms / timeScale));
  return real % 1000 === 0 ? `${real / 1000}s` : `${real}ms`;
}

function labelMatchers(s: SeriesSelector, extra: Record<string, string> = {}): string {
  const all = { ...s.labels, ...extra };
  const parts = Object.entries(all).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

export interface GateQuery {
  gate: string;
  query: string;
  events?: string;
}

/** The PromQL that computes each metric gate's value over its window (fed to the engine as a
 *  `windowed` reading). Derived from the exposition mapping unless the gate's `sources.promql`
 *  or the sources file's `promql` says otherwise; `$window` in a custom query becomes the range. */
export function resolvePromQueries(
  gates: readonly Gate[],
  sources: MonitorSources = {},
  options: { timeScale?: number; minimumRangeMs?: number } = {},
): GateQuery[] {
  const scale = options.timeScale ?? 1;
  const minimum = options.minimumRangeMs ?? 2000;
  const selectors = resolveSelectors(gates, sources);
  const out: GateQuery[] = [];
  for (const gate of gates) {
    if (gate.kind === 'consecutive_failures') continue;
    const range = promRange('windowMs' in gate ? gate.windowMs : 0, scale, minimum);
    const custom = gate.sources.promql ?? sources.promql?.[gate.name]?.query;
    const customEvents = gate.sources.promql_events ?? sources.promql?.[gate.name]?.events;
    if (custom !== undefined) {
      out.push({
        gate: gate.name,
        query: custom.replaceAll('$window', range),
        events: customEvents?.replaceAll('$window', range),
      });
      continue;
    }
    switch (gate.kind) {
      case 'ratio': {
        const num = selectors.get(gate.numerator)!;
        const den = selectors.get(gate.denominator)!;
        const total = `sum(increase(${den.name}${labelMatchers(den)}[${range}]))`;
        // No `or vector(0)`: a failure selector that matches nothing is missing data (an error
        // reading, fail closed), never a 0 % failure rate. Services pre-initialise their labelled
        // counters (prom-client: counter.inc(labels, 0)) so a healthy one always has the series.
        out.push({
          gate: gate.name,
          query: `sum(increase(${num.name}${labelMatchers(num)}[${range}])) / ${total}`,
          events: total,
        });
        break;
      }
      case 'percentile': {
        const h = selectors.get(gate.metric)!;
        const factor = h.scale === 1 ? '' : ` * ${h.scale}`;
        out.push({
          gate: gate.name,
          query: `histogram_quantile(${gate.percentile / 100}, sum by (le) (increase(${h.name}_bucket${labelMatchers(h)}[${range}])))${factor}`,
          events: `sum(increase(${h.name}_count${labelMatchers(h)}[${range}]))`,
        });
        break;
      }
      case 'gauge': {
        const g = selectors.get(gate.metric)!;
        out.push({
          gate: gate.name,
          query: `max(${g.name}${labelMatchers(g)})${g.scale === 1 ? '' : ` * ${g.scale}`}`,
        });
        break;
      }
    }
  }
  return out;
}

/** Reads and checks a sources file. */
export function loadMonitorSources(file: string): MonitorSources {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(`cannot read the sources file: ${(error as Error).message}`, { file });
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError('must be a JSON object with optional "metrics", "promql" and "json" fields', {
      file,
    });
  }
  const known = new Set(['metrics', 'promql', 'json', '$schema', 'description']);
  for (const key of Object.keys(raw)) {
    if (!known.has(key))
      throw new ConfigError(`unknown field ${JSON.stringify(key)}; valid: metrics, promql, json`, {
        file,
        field: key,
      });
  }
  const s = raw as MonitorSources;
  for (const [k, v] of Object.entries(s.metrics ?? {})) parseSelector(String(v), `${file}: metrics.${k}`);
  return s;
}

export const describeRange = (ms: number): string => formatDuration(ms);
