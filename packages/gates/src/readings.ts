// What one poll observed. Providers (health endpoint, /metrics exposition, Prometheus API, JSON)
// translate their sources into this shape; the engine never sees HTTP.
import type { Bucket } from './percentile.js';

export type HealthReading = { ok: true; detail?: string } | { ok: false; detail: string; error?: boolean };

export type MetricReading =
  /** A cumulative counter (resets are handled the way Prometheus' increase() does). */
  | { type: 'counter'; value: number }
  | { type: 'gauge'; value: number }
  /** A cumulative histogram. */
  | { type: 'histogram'; buckets: Bucket[]; count: number; sum?: number }
  /** Raw observations made since the previous reading. */
  | { type: 'samples'; values: number[] }
  /** A value the source already computed over the gate's window (e.g. a PromQL query), with the
   *  number of events behind it when known. */
  | { type: 'windowed'; value: number; events?: number }
  /** The source failed for this metric: fail-closed accounting applies. */
  | { type: 'error'; error: string };

export interface Reading {
  /** Milliseconds since monitoring started. */
  at: number;
  health?: HealthReading;
  /** By metric name; a gate of kind ratio/percentile/gauge may also be fed under its own name
   *  with a `windowed` reading. */
  metrics: Record<string, MetricReading>;
}
