// The Prometheus HTTP API provider (Prometheus, Thanos, Mimir: anything serving /api/v1/query).
// Each metric gate has one PromQL query computing its value over its window, plus optionally one
// for the number of events behind it; results reach the engine as `windowed` readings under the
// gate's name. An error, a non-success answer or an empty result is an `error` reading (fail
// closed); NaN (no events in the window) is a reading with zero events, i.e. insufficient data.
import type { MetricReading } from '@guarded-rollout/gates';
import type { GateQuery } from '../sources.js';
import { describeFetchError, getText } from './http.js';

interface QueryAnswer {
  status: 'success' | 'error';
  error?: string;
  data?: { resultType: string; result: Array<{ value?: [number, string] }> | [number, string] };
}

/** Runs one instant query; the scalar value, NaN for NaN, or an error message. */
export async function instantQuery(
  baseUrl: string,
  query: string,
  timeoutMs = 5000,
  headers: Record<string, string> = {},
): Promise<number | { error: string }> {
  const url = new URL('api/v1/query', baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  url.searchParams.set('query', query);
  let answer: QueryAnswer;
  try {
    const res = await getText(url.toString(), timeoutMs, headers);
    try {
      answer = JSON.parse(res.body) as QueryAnswer;
    } catch {
      return { error: `Prometheus answered HTTP ${res.status} without JSON` };
    }
    if (answer.status !== 'success')
      return { error: `PromQL error: ${answer.error ?? `HTTP ${res.status}`}` };
  } catch (error) {
    return { error: `Prometheus query failed: ${describeFetchError(error, timeoutMs)}` };
  }
  const data = answer.data;
  if (!data) return { error: 'Prometheus answer has no data' };
  if (data.resultType === 'scalar') return Number((data.result as [number, string])[1]);
  const vector = data.result as Array<{ value?: [number, string] }>;
  if (vector.length === 0) return { error: `query matched no series (missing data, never zero): ${query}` };
  if (vector.length > 1)
    return {
      error: `query returned ${vector.length} series; aggregate it to one (e.g. sum(...) or max(...))`,
    };
  return Number(vector[0]!.value?.[1]);
}

export async function queryGates(
  baseUrl: string,
  queries: readonly GateQuery[],
  timeoutMs = 5000,
): Promise<Record<string, MetricReading>> {
  const out: Record<string, MetricReading> = {};
  await Promise.all(
    queries.map(async (q) => {
      const [value, events] = await Promise.all([
        instantQuery(baseUrl, q.query, timeoutMs),
        q.events ? instantQuery(baseUrl, q.events, timeoutMs) : Promise.resolve(undefined),
      ]);
      if (typeof value !== 'number') return void (out[q.gate] = { type: 'error', error: value.error });
      if (events !== undefined && typeof events !== 'number')
        return void (out[q.gate] = { type: 'error', error: events.error });
      if (Number.isNaN(value)) return void (out[q.gate] = { type: 'windowed', value: 0, events: 0 });
      // increase() extrapolates; events are whole requests.
      out[q.gate] =
        events === undefined
          ? { type: 'windowed', value }
          : { type: 'windowed', value, events: Math.round(Number.isNaN(events) ? 0 : events) };
    }),
  );
  return out;
}
