// One poll's observation: health check plus the metrics of whichever provider is configured,
// taken concurrently and assembled into the engine's Reading. Chooses and validates providers.
import { ConfigError } from '@guarded-rollout/config';
import type { Gate, MetricReading, Reading } from '@guarded-rollout/gates';
import { checkHealth } from './providers/health.js';
import { scrapeExposition } from './providers/exposition.js';
import { queryGates } from './providers/prometheus-api.js';
import { jsonKinds, readJsonEndpoint, type JsonMetricKind } from './providers/json-endpoint.js';
import { metricsOfGate, resolvePromQueries, resolveSelectors, type MonitorSources } from './sources.js';

export interface SamplerOptions {
  gates: readonly Gate[];
  healthUrl?: string;
  /** Prometheus text exposition, e.g. http://127.0.0.1:8080/metrics (the embedded default). */
  metricsUrl?: string;
  /** Base URL of a Prometheus-compatible HTTP API. */
  prometheusUrl?: string;
  /** A JSON document with one path per metric. */
  jsonUrl?: string;
  sources?: MonitorSources;
  timeScale?: number;
  /** Per-request timeout. */
  timeoutMs?: number;
}

export type Sampler = (at: number) => Promise<Reading>;

export type MetricsProvider = 'exposition' | 'prometheus' | 'json' | 'none';

function checkUrl(value: string | undefined, field: string): void {
  if (value === undefined) return;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(
      `${field}: ${JSON.stringify(value)} is not a URL; use e.g. http://127.0.0.1:8080/health`,
      { field },
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`${field}: ${JSON.stringify(value)} must be an http:// or https:// URL`, { field });
  }
}

export function metricsProviderOf(
  o: Pick<SamplerOptions, 'metricsUrl' | 'prometheusUrl' | 'jsonUrl'>,
): MetricsProvider {
  const given = [o.metricsUrl && 'exposition', o.prometheusUrl && 'prometheus', o.jsonUrl && 'json'].filter(
    Boolean,
  ) as MetricsProvider[];
  if (given.length > 1) {
    throw new ConfigError(
      `give one metrics source, not ${given.length}: metrics-url (exposition), prometheus-url or json-url`,
      { field: 'metrics-url' },
    );
  }
  return given[0] ?? 'none';
}

/** Validates the sources against the gates and returns the poll function. */
export function createSampler(options: SamplerOptions): {
  sample: Sampler;
  provider: MetricsProvider;
  describe: string[];
} {
  checkUrl(options.healthUrl, 'health-url');
  checkUrl(options.metricsUrl, 'metrics-url');
  checkUrl(options.prometheusUrl, 'prometheus-url');
  checkUrl(options.jsonUrl, 'json-url');
  const timeoutMs = options.timeoutMs ?? 5000;
  const provider = metricsProviderOf(options);
  const healthGates = options.gates.filter((g) => g.kind === 'consecutive_failures');
  const metricGates = options.gates.filter((g) => g.kind !== 'consecutive_failures');
  if (healthGates.length && !options.healthUrl) {
    throw new ConfigError(`gate ${healthGates[0]!.name} checks health, but no health-url was given`, {
      field: 'health-url',
    });
  }
  if (metricGates.length && provider === 'none') {
    throw new ConfigError(
      `gates ${metricGates.map((g) => g.name).join(', ')} read metrics, but no metrics source was given; use metrics-url, prometheus-url or json-url`,
      { field: 'metrics-url' },
    );
  }
  const describe: string[] = [];
  if (options.healthUrl) describe.push(`health: GET ${options.healthUrl}`);
  let metrics: () => Promise<Record<string, MetricReading>> = async () => ({});
  if (provider === 'exposition') {
    const selectors = resolveSelectors(metricGates, options.sources);
    describe.push(
      `metrics: scrape ${options.metricsUrl} (${[...selectors.entries()].map(([k, s]) => `${k} ← ${s.name}${Object.keys(s.labels).length ? JSON.stringify(s.labels) : ''}${s.scale !== 1 ? ` ×${s.scale}` : ''}`).join('; ')})`,
    );
    metrics = () => scrapeExposition(options.metricsUrl!, selectors, timeoutMs);
  } else if (provider === 'prometheus') {
    const queries = resolvePromQueries(metricGates, options.sources, { timeScale: options.timeScale ?? 1 });
    for (const q of queries) describe.push(`metrics: ${q.gate} ← PromQL ${q.query}`);
    metrics = async () => {
      const byGate = await queryGates(options.prometheusUrl!, queries, timeoutMs);
      // Work-around for the gates engine: it counts source errors (fail closed) only under a
      // gate's logical metrics, never under the gate's own name where `windowed` readings go, so
      // a Prometheus outage would stay "insufficient data" forever. Mirroring each gate's reading
      // under its metrics lets errors trip the gate after max_consecutive, and lets a successful
      // query end the error streak. A windowed reading under the gate's name always wins, so the
      // mirrored values are never used for arithmetic.
      const out: Record<string, MetricReading> = { ...byGate };
      for (const gate of metricGates) {
        const reading = byGate[gate.name];
        if (reading) for (const m of metricsOfGate(gate)) out[m] = reading;
      }
      return out;
    };
  } else if (provider === 'json') {
    const kinds = jsonKinds(metricGates);
    const paths = new Map<string, { path: string; kind: JsonMetricKind }>();
    for (const g of metricGates)
      for (const m of metricsOfGate(g))
        paths.set(m, { path: options.sources?.json?.[m] ?? m, kind: kinds.get(m)! });
    describe.push(
      `metrics: GET ${options.jsonUrl} (${[...paths.entries()].map(([k, p]) => `${k} ← ${p.path}`).join('; ')})`,
    );
    metrics = () => readJsonEndpoint(options.jsonUrl!, paths, timeoutMs);
  }
  const sample: Sampler = async (at) => {
    const [health, m] = await Promise.all([
      options.healthUrl ? checkHealth(options.healthUrl, timeoutMs) : Promise.resolve(undefined),
      metrics(),
    ]);
    return health ? { at, health, metrics: m } : { at, metrics: m };
  };
  return { sample, provider, describe };
}
