// A JSON endpoint with one dotted path per metric ("stats.extractions.failed"), for services that
// publish numbers but no Prometheus exposition. Numbers become counters (ratio inputs) or gauges;
// an array under a percentile metric is taken as the raw observations since the previous poll.
import type { Gate, MetricReading } from '@guarded-rollout/gates';
import { describeFetchError, getText } from './http.js';

export function valueAtPath(doc: unknown, path: string): unknown {
  let node: unknown = doc;
  for (const key of path.split('.').filter((k) => k !== '')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

export type JsonMetricKind = 'counter' | 'gauge' | 'samples';

/** Which kind of reading each metric needs, from the gates that read it. */
export function jsonKinds(gates: readonly Gate[]): Map<string, JsonMetricKind> {
  const out = new Map<string, JsonMetricKind>();
  for (const g of gates) {
    if (g.kind === 'ratio') {
      out.set(g.numerator, 'counter');
      out.set(g.denominator, 'counter');
    } else if (g.kind === 'percentile') out.set(g.metric, 'samples');
    else if (g.kind === 'gauge') out.set(g.metric, 'gauge');
  }
  return out;
}

export async function readJsonEndpoint(
  url: string,
  paths: ReadonlyMap<string, { path: string; kind: JsonMetricKind }>,
  timeoutMs = 5000,
): Promise<Record<string, MetricReading>> {
  const out: Record<string, MetricReading> = {};
  let doc: unknown;
  try {
    const res = await getText(url, timeoutMs, { accept: 'application/json' });
    if (res.status < 200 || res.status > 299)
      throw new Error(`HTTP ${res.status} from the JSON metrics endpoint`);
    doc = JSON.parse(res.body);
  } catch (error) {
    const reason =
      error instanceof SyntaxError
        ? 'JSON metrics endpoint answered invalid JSON'
        : error instanceof Error && error.message.startsWith('HTTP ')
          ? error.message
          : `JSON metrics fetch failed: ${describeFetchError(error, timeoutMs)}`;
    for (const metric of paths.keys()) out[metric] = { type: 'error', error: reason };
    return out;
  }
  for (const [metric, { path, kind }] of paths) {
    const value = valueAtPath(doc, path);
    if (kind === 'samples' && Array.isArray(value) && value.every((v) => typeof v === 'number')) {
      out[metric] = { type: 'samples', values: value as number[] };
    } else if (typeof value === 'number' && Number.isFinite(value)) {
      out[metric] =
        kind === 'gauge'
          ? { type: 'gauge', value }
          : kind === 'counter'
            ? { type: 'counter', value }
            : { type: 'samples', values: [value] };
    } else {
      out[metric] = {
        type: 'error',
        error: `${path}: ${value === undefined ? 'missing' : `not a ${kind === 'samples' ? 'number array' : 'number'}`} in the JSON document`,
      };
    }
  }
  return out;
}
