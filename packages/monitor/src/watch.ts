// watchDeployment: the one entry both doorways call (the monitor-gates action and
// `guarded-rollout monitor`) with the same options object: load and resolve the gates, choose the
// providers, open the recorder, run the guarded loop.
import { ConfigError, formatDuration } from '@guarded-rollout/config';
import {
  analyseDetection,
  describeCadence,
  describeLimit,
  loadGatesConfig,
  parseGatesConfig,
  BASELINE_METRIC_PREFIX,
  describeBaselineLimit,
  type BaselineSnapshot,
  type EnvironmentGates,
} from '@guarded-rollout/gates';
import { createBaselineSampler } from './baseline.js';
import { systemClock, type Clock } from './clock.js';
import {
  guardedMonitor,
  type GuardedOutcome,
  type MigrationSafety,
  type Notifier,
  type Rollback,
} from './guarded.js';
import { withWindow } from './loop.js';
import { MonitorRecorder } from './recorder.js';
import { createSampler } from './sampler.js';
import { loadMonitorSources, type MonitorSources } from './sources.js';
import { assertPreflight, preflight } from './preflight.js';

export interface WatchOptions {
  environment: string;
  /** quality-gates-config.json */
  configFile: string;
  /** Already-resolved gates (tests, replays); wins over configFile. */
  gates?: EnvironmentGates;
  sourcesFile?: string;
  sources?: MonitorSources;
  healthUrl?: string;
  metricsUrl?: string;
  prometheusUrl?: string;
  jsonUrl?: string;
  /** The baseline recorded before the deploy (recordBaseline); required when the environment has
   *  baseline gates. */
  baseline?: BaselineSnapshot;
  /** Overrides the configured window. */
  durationMs?: number;
  timeScale?: number;
  suspicion?: boolean;
  keepWatching?: boolean;
  autoRollback?: boolean;
  /** How the auto-rollback option is spelled in this doorway, for the pre-flight message. */
  autoRollbackName?: string;
  migrationSafety?: MigrationSafety;
  rollback?: Rollback;
  notify?: Notifier;
  /** Aborted when notifications outlive their bound at the end; give its signal to the notifier. */
  notifyAbort?: AbortController;
  /** Where monitor_logs go (default monitor_logs). */
  outDir?: string;
  deadlineMs?: number;
  requestTimeoutMs?: number;
  signal?: AbortSignal;
  clock?: Clock;
  log?: (line: string) => void;
}

/** Accepts the text of a flag or input ("60") or a number; refuses anything outside (0, 10000]. */
export function checkTimeScale(raw: number | string, field = 'time-scale'): number {
  const value = typeof raw === 'number' ? raw : raw.trim() === '' ? Number.NaN : Number(raw);
  if (!Number.isFinite(value) || value <= 0 || value > 10_000) {
    throw new ConfigError(
      `${field}: ${JSON.stringify(raw)} is not a number in (0, 10000]; 60 runs one virtual minute per real second`,
      { field },
    );
  }
  return value;
}

/** Per-request timeout: 5 s of service time, compressed by the time scale (a hung poll must not
 *  cost five virtual minutes in a 60× drill), never under a 1 s floor. */
export function requestTimeoutFor(timeScale: number, requestedMs?: number): number {
  return requestedMs ?? Math.max(1000, Math.round(5000 / timeScale));
}

/** Loads a gates config from a file path, or from inline JSON when the value is a JSON object
 *  (handy for an action input). */
export function loadGatesFrom(configFile: string, environment: string): EnvironmentGates {
  return configFile.trim().startsWith('{')
    ? parseGatesConfig(configFile, environment, 'input "config"')
    : loadGatesConfig(configFile, environment);
}

interface PreparedWatch {
  config: EnvironmentGates;
  sampler: ReturnType<typeof createSampler>;
  timeScale: number;
  sources: MonitorSources;
  lines: string[];
}

/** Validates every option (config, URLs, mapping, time scale) without polling anything. */
export function prepareWatch(options: WatchOptions): PreparedWatch {
  const timeScale = checkTimeScale(options.timeScale ?? 1);
  const loaded = options.gates ?? loadGatesFrom(options.configFile, options.environment);
  if (options.durationMs !== undefined && options.durationMs <= 0) {
    throw new ConfigError(`duration: must be longer than 0s`, { field: 'duration' });
  }
  const config: EnvironmentGates = { ...loaded, policy: withWindow(loaded.policy, options.durationMs) };
  const sources = options.sources ?? (options.sourcesFile ? loadMonitorSources(options.sourcesFile) : {});
  const sampler = createSampler({
    gates: config.gates,
    healthUrl: options.healthUrl,
    metricsUrl: options.metricsUrl,
    prometheusUrl: options.prometheusUrl,
    jsonUrl: options.jsonUrl,
    sources,
    timeScale,
    timeoutMs: requestTimeoutFor(timeScale, options.requestTimeoutMs),
  });
  const baselineGates = config.baselineGates ?? [];
  if (baselineGates.length) {
    // Baseline gates read raw cumulative series from the same source; merge them into each poll.
    const fixedSample = sampler.sample;
    const baselineSample = createBaselineSampler({
      gates: baselineGates,
      ...(options.metricsUrl ? { metricsUrl: options.metricsUrl } : {}),
      ...(options.prometheusUrl ? { prometheusUrl: options.prometheusUrl } : {}),
      sources,
      timeoutMs: requestTimeoutFor(timeScale, options.requestTimeoutMs),
    });
    // Exposition: the fixed gates read the same raw series, so one copy under the logical names.
    // Prometheus: the fixed gates' windowed values hold those names; raw series go beside them.
    const prefix = sampler.provider === 'prometheus' ? BASELINE_METRIC_PREFIX : '';
    sampler.sample = async (at) => {
      const [reading, extra] = await Promise.all([fixedSample(at), baselineSample(at)]);
      const raw = Object.fromEntries(Object.entries(extra).map(([m, v]) => [`${prefix}${m}`, v]));
      return { ...reading, metrics: { ...raw, ...reading.metrics } };
    };
  }
  const lines = [
    `monitoring ${options.environment} with ${config.gates.length} gates from ${config.source}`,
    ...baselineGates.map((g) => `baseline gate ${g.name}: ${describeBaselineLimit(g)}`),
    `polling ${describeCadence(config.policy, formatDuration)}${timeScale !== 1 ? `; time compressed ${timeScale}× (${formatDuration(config.policy.windowMs / timeScale)} real)` : ''}`,
    ...sampler.describe,
  ];
  return { config, sampler, timeScale, sources, lines };
}

/** A dry run: what would be watched, how, and how fast each gate catches a hard failure. */
export function planWatch(options: WatchOptions): { lines: string[]; markdown: string } {
  const { config, lines } = prepareWatch(options);
  const detection = analyseDetection(config, {
    suspicion: (options.suspicion ?? true) && config.policy.cadence.suspicionIntervalMs > 0,
  });
  const when = (ms: number | null): string => (ms === null ? 'never' : formatDuration(ms));
  const rows = config.gates.map((g, i) => {
    const d = detection[i]!;
    const weak = `${d.weak.failure}: ${when(d.weak.worstCaseMs)}${d.weak.undetectedFromMs !== null ? ` (missed from T+${formatDuration(d.weak.undetectedFromMs)})` : ''}`;
    return `| ${g.name} | ${describeLimit(g).replace(/\|/g, '\\|')} | ${d.failure}: ${when(d.worstCaseMs)} | ${weak} |`;
  });
  const markdown = [
    `## Monitor gates (dry run): ${options.environment}`,
    '',
    ...lines.map((l) => `- ${l}`),
    '',
    '| gate | trips when | hard failure: confirmed within | weakest failure it sees |',
    '|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
  return { lines, markdown };
}

export async function watchDeployment(options: WatchOptions): Promise<GuardedOutcome> {
  const clock = options.clock ?? systemClock;
  const log = options.log ?? (() => {});
  const { config, sampler, timeScale, lines } = prepareWatch(options);
  const missing = (config.baselineGates ?? []).filter((g) => !options.baseline?.gates[g.name]);
  if (missing.length) {
    throw new ConfigError(
      `baseline gates ${missing.map((g) => g.name).join(', ')} need a baseline recorded before the deploy; ` +
        'record one with `guarded-rollout baseline` (or recordBaseline) and pass it as --baseline FILE',
      { field: 'baseline' },
    );
  }
  // Pre-flight: a selector that matches nothing, or auto-rollback with nowhere to roll back to, is
  // a configuration error (exit 2) before the watch. A source that is down right now is not: that
  // is what the gates judge, fail closed.
  const checked = await preflight({
    ...options,
    requestTimeoutMs: requestTimeoutFor(timeScale, options.requestTimeoutMs),
    rollbackConfigured: options.rollback !== undefined,
    ...(options.rollback?.check ? { rollbackCheck: options.rollback.check } : {}),
    requireReachable: false,
  });
  for (const warning of checked.warnings) log(`pre-flight warning: ${warning}`);
  if (checked.ok && checked.rollback) log(checked.rollback);
  assertPreflight(checked);
  const recorder = new MonitorRecorder(
    options.outDir ?? 'monitor_logs',
    options.environment,
    new Date(clock.now()),
  );
  for (const line of lines) log(line);
  log(`recording to ${recorder.logPath}`);
  return guardedMonitor({
    config,
    environment: options.environment,
    provider: sampler.provider === 'none' ? 'health only' : sampler.provider,
    recorder,
    sample: sampler.sample,
    ...(options.baseline ? { baseline: options.baseline } : {}),
    clock,
    timeScale,
    ...(options.suspicion !== undefined ? { suspicion: options.suspicion } : {}),
    stopOnViolation: !options.keepWatching,
    ...(options.deadlineMs !== undefined ? { deadlineMs: options.deadlineMs } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    autoRollback: options.autoRollback ?? false,
    migrationSafety: options.migrationSafety ?? 'reversible',
    ...(options.rollback ? { rollback: options.rollback } : {}),
    ...(options.notify ? { notify: options.notify } : {}),
    ...(options.notifyAbort ? { notifyAbort: options.notifyAbort } : {}),
    log,
  });
}
