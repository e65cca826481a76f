// Pre-flight: before a watch (and as `guarded-rollout monitor --check`, the monitor-gates action's
// dry run and the guarded deploy's plan stage), load the gates, scrape each source once and check
// that every selector matches a series of the right type. A mapping that matches nothing is a
// configuration error (exit 2) found before the deploy — never a rollback of a healthy release,
// and never a 0 % failure rate.
import { ConfigError, GuardedRolloutError } from '@guarded-rollout/config';
import type { Gate, MetricReading } from '@guarded-rollout/gates';
import { checkHealth } from './providers/health.js';
import { closest, fetchExposition, readSeries } from './providers/exposition.js';
import { instantQuery } from './providers/prometheus-api.js';
import { describeFetchError, getText } from './providers/http.js';
import { metricsOfGate, resolvePromQueries, resolveSelectors, selectorText } from './sources.js';
import { prepareWatch, type WatchOptions } from './watch.js';
import type { RollbackCheck } from './guarded.js';

export interface PreflightOptions extends Pick<
  WatchOptions,
  | 'environment'
  | 'configFile'
  | 'gates'
  | 'sourcesFile'
  | 'sources'
  | 'healthUrl'
  | 'metricsUrl'
  | 'prometheusUrl'
  | 'jsonUrl'
  | 'durationMs'
  | 'timeScale'
  | 'requestTimeoutMs'
  | 'autoRollback'
  | 'migrationSafety'
  | 'autoRollbackName'
> {
  /** Whether a rollback target (backup + target, or a rollback command) is configured. */
  rollbackConfigured?: boolean;
  /** The configured rollback's dry run (Rollback.check), run when the rollback is automatic: a
   *  rollback that would fail now (no backup, a corrupt one, a root that is a mount point, no
   *  room) is a problem found before the watch, not at the violation. */
  rollbackCheck?: () => Promise<RollbackCheck>;
  /** An unreachable or broken source is a problem (default true: `--check`, dry run, plan stage).
   *  The watch itself passes false: right after a deploy a source that is down is the gates' job
   *  (fail closed), while a selector that matches nothing is still a configuration error. */
  requireReachable?: boolean;
}

export interface PreflightResult {
  ok: boolean;
  /** Each a one-line reason; any problem means exit 2. */
  problems: string[];
  /** Worth reading, not blocking (e.g. health answered 503 before the deploy). */
  warnings: string[];
  /** What was checked, one line each. */
  lines: string[];
  /** The automatic rollback's dry run, one line (absent when none ran). */
  rollback?: string;
}

/** Thrown by assertPreflight: a configuration error (exit 2) carrying every problem. */
export class PreflightError extends ConfigError {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`pre-flight failed:\n  - ${problems.join('\n  - ')}`, { field: 'pre-flight' });
    this.problems = problems;
  }
}

export function assertPreflight(result: PreflightResult): void {
  if (!result.ok) throw new PreflightError(result.problems);
}

const WANTED_TYPE: Record<Gate['kind'], ReadonlyArray<MetricReading['type']>> = {
  consecutive_failures: [],
  ratio: ['counter'],
  percentile: ['histogram'],
  gauge: ['gauge', 'counter'],
};

interface PromListAnswer {
  status?: string;
  data?: unknown;
}

async function promList(base: string, path: string, timeoutMs: number): Promise<unknown> {
  const url = new URL(path, base.endsWith('/') ? base : `${base}/`);
  const res = await getText(url.toString(), timeoutMs);
  const answer = JSON.parse(res.body) as PromListAnswer;
  if (answer.status !== 'success') throw new Error(`HTTP ${res.status}`);
  return answer.data;
}

/** Why a Prometheus selector matched nothing: the closest metric names, or the label values. */
async function promNoMatch(
  base: string,
  name: string,
  labels: Record<string, string>,
  timeoutMs: number,
): Promise<string> {
  const wanted = selectorText({ name, labels, scale: 1 });
  try {
    const names = (await promList(base, 'api/v1/label/__name__/values', timeoutMs)) as string[];
    if (!names.includes(name))
      return `selector ${wanted} matched no series: there is no metric ${name}; closest names: ${closest(name, names).join(', ') || '(Prometheus has no metrics)'}`;
    const series = (await promList(
      base,
      `api/v1/series?match[]=${encodeURIComponent(name)}`,
      timeoutMs,
    )) as Array<Record<string, string>>;
    const hints = Object.entries(labels)
      .map(([label, value]) => {
        const values = new Set(series.map((s) => s[label]).filter((v): v is string => v !== undefined));
        if (values.has(value)) return '';
        return values.size
          ? `${label}=${JSON.stringify(value)} is not among its values (${closest(value, values, 5)
              .map((v) => JSON.stringify(v))
              .join(', ')})`
          : `it has no label ${label}`;
      })
      .filter(Boolean);
    return `selector ${wanted} matched no series of ${name}${hints.length ? `: ${hints.join('; ')}` : ''}`;
  } catch (error) {
    return `selector ${wanted} matched no series (${describeFetchError(error, timeoutMs)} while listing the names Prometheus has)`;
  }
}

/** Loads the gates, checks URLs, mapping and rollback target, and reads every source once. */
export async function preflight(options: PreflightOptions): Promise<PreflightResult> {
  const problems: string[] = [];
  const warnings: string[] = [];
  const lines: string[] = [];
  const requireReachable = options.requireReachable ?? true;
  let prepared: ReturnType<typeof prepareWatch>;
  try {
    prepared = prepareWatch(options);
  } catch (error) {
    if (error instanceof GuardedRolloutError)
      return { ok: false, problems: [error.message], warnings, lines };
    throw error;
  }
  const { config } = prepared;
  lines.push(...prepared.lines);
  const timeoutMs = options.requestTimeoutMs ?? 5000;
  if (
    options.autoRollback &&
    !options.rollbackConfigured &&
    (options.migrationSafety ?? 'reversible') === 'reversible'
  ) {
    problems.push(
      `${options.autoRollbackName ?? '--auto-rollback'} is on but no rollback target is configured: ` +
        'give a target directory (--target / input "target", with a backup) or a rollback command (--rollback-command / input "rollback-command")',
    );
  }
  let rollback: string | undefined;
  if (
    options.autoRollback &&
    options.rollbackCheck &&
    (options.migrationSafety ?? 'reversible') === 'reversible'
  ) {
    const check = await options.rollbackCheck();
    rollback = check.ok
      ? `pre-flight: the automatic rollback's dry run passed: ${check.detail}`
      : `the automatic rollback would fail now (its dry run): ${check.detail}`;
    if (check.ok) lines.push(rollback);
    else problems.push(rollback);
  }
  const unreachable = (what: string): void => {
    if (requireReachable) problems.push(what);
    else warnings.push(what);
  };

  if (options.healthUrl) {
    const health = await checkHealth(options.healthUrl, timeoutMs);
    if (health.ok) lines.push(`pre-flight: health ${options.healthUrl} OK (${health.detail ?? ''})`);
    else if (!health.ok && health.error) unreachable(`health-url ${options.healthUrl}: ${health.detail}`);
    else warnings.push(`health-url ${options.healthUrl} answered but is not OK: ${health.detail}`);
  }

  const metricGates = config.gates.filter((g) => g.kind !== 'consecutive_failures');
  if (options.metricsUrl && metricGates.length) {
    const selectors = resolveSelectors(metricGates, prepared.sources);
    try {
      const families = await fetchExposition(options.metricsUrl, timeoutMs);
      for (const gate of metricGates) {
        for (const metric of metricsOfGate(gate)) {
          const selector = selectors.get(metric)!;
          const reading = readSeries(families, selector);
          const text = `gate ${gate.name}: ${metric} ← ${selectorText(selector)}`;
          if (reading.type === 'error') problems.push(`${text}: ${reading.error}`);
          else if (!WANTED_TYPE[gate.kind].includes(reading.type))
            problems.push(
              `${text}: is a ${reading.type}; a ${gate.kind} gate needs a ${WANTED_TYPE[gate.kind].join(' or ')}`,
            );
          else lines.push(`pre-flight: ${text} matched (${reading.type})`);
        }
      }
    } catch (error) {
      unreachable(`metrics-url ${options.metricsUrl}: ${(error as Error).message}`);
    }
  } else if (options.prometheusUrl && metricGates.length) {
    const base = options.prometheusUrl;
    const queries = resolvePromQueries(metricGates, prepared.sources, { timeScale: prepared.timeScale });
    let selectors: ReturnType<typeof resolveSelectors> | undefined;
    try {
      selectors = resolveSelectors(metricGates, prepared.sources);
    } catch {
      selectors = undefined; // custom PromQL only
    }
    let reachable = true;
    for (const gate of metricGates) {
      const custom = queries.find((q) => q.gate === gate.name);
      const derived =
        gate.sources.promql === undefined && prepared.sources?.promql?.[gate.name] === undefined;
      if (derived && selectors) {
        for (const metric of metricsOfGate(gate)) {
          const s = selectors.get(metric)!;
          const name = gate.kind === 'percentile' ? `${s.name}_bucket` : s.name;
          const answer = await instantQuery(
            base,
            `count(${selectorText({ name, labels: s.labels, scale: 1 })})`,
            timeoutMs,
          );
          const text = `gate ${gate.name}: ${metric} ← ${selectorText({ ...s, name })}`;
          if (typeof answer !== 'number') {
            if (/matched no series/.test(answer.error))
              problems.push(`${text}: ${await promNoMatch(base, name, s.labels, timeoutMs)}`);
            else {
              reachable = false;
              unreachable(`prometheus-url ${base}: ${answer.error}`);
              break;
            }
          } else lines.push(`pre-flight: ${text} matched ${answer} series`);
        }
      } else if (custom) {
        const answer = await instantQuery(base, custom.query, timeoutMs);
        if (typeof answer !== 'number')
          problems.push(`gate ${gate.name}: PromQL ${custom.query}: ${answer.error}`);
        else lines.push(`pre-flight: gate ${gate.name}: PromQL answered ${answer}`);
      }
      if (!reachable) break;
    }
  } else if (options.jsonUrl && metricGates.length) {
    const reading = await prepared.sampler.sample(0);
    for (const [metric, m] of Object.entries(reading.metrics))
      if (m.type === 'error') problems.push(`${options.jsonUrl}: ${metric}: ${m.error}`);
      else lines.push(`pre-flight: ${metric} read (${m.type})`);
  }
  return { ok: problems.length === 0, problems, warnings, lines, ...(rollback ? { rollback } : {}) };
}
