// Loading quality-gates-config.json: schema validation, deep-merge of an environment's overrides
// onto the defaults, and resolution of durations into milliseconds.
import {
  ConfigError,
  SchemaValidator,
  readTextFile,
  parseJsonText,
  tryParseDuration,
  durationProblem,
} from '@guarded-rollout/config';
import { qualityGatesSchema } from './schema.js';
import {
  assertFiniteNumbers,
  assertNoDuplicateKeys,
  assertNoPrototypeNames,
  isPrototypeName,
} from './config-checks.js';
import { resolveBaselineGate, type BaselineGate } from './baseline/gate.js';

export type GateKind = 'consecutive_failures' | 'ratio' | 'percentile' | 'gauge';

interface GateBase {
  name: string;
  kind: GateKind;
  threshold: number;
  description?: string;
  sources: Record<string, string>;
}
export interface ConsecutiveFailuresGate extends GateBase {
  kind: 'consecutive_failures';
  source: 'health';
}
export interface RatioGate extends GateBase {
  kind: 'ratio';
  numerator: string;
  denominator: string;
  windowMs: number;
  minEvents: number;
}
export interface PercentileGate extends GateBase {
  kind: 'percentile';
  metric: string;
  percentile: number;
  windowMs: number;
  unit: string;
  minSamples: number;
}
export interface GaugeGate extends GateBase {
  kind: 'gauge';
  metric: string;
  unit: string;
}
export type Gate = ConsecutiveFailuresGate | RatioGate | PercentileGate | GaugeGate;

export interface Cadence {
  initialIntervalMs: number;
  initialPhaseMs: number;
  intervalMs: number;
  /** 0 disables suspicion polling. */
  suspicionIntervalMs: number;
  /** Cheap checks (health + one scrape) between scheduled polls; 0 disables them. */
  sentinelIntervalMs: number;
  /** Short window of the fast-burn rules that confirm a hard failure within a minute; 0 disables. */
  fastBurnWindowMs: number;
}

export interface MonitorPolicy {
  windowMs: number;
  cadence: Cadence;
  escalationsMs: number[];
  sourceErrors: { failClosed: boolean; maxConsecutive: number };
  analysis: { requestsPerSecond: number };
}

/** Everything the monitor needs for one environment, durations in milliseconds. */
export interface EnvironmentGates {
  environment: string;
  source: string;
  policy: MonitorPolicy;
  gates: Gate[];
  /** `kind: "baseline"` gates, kept apart so the fixed gates' engine is untouched (see ./baseline/). */
  baselineGates?: BaselineGate[];
}

export const DEFAULT_POLICY: MonitorPolicy = {
  windowMs: 60 * 60_000,
  cadence: {
    initialIntervalMs: 30_000,
    initialPhaseMs: 5 * 60_000,
    intervalMs: 120_000,
    suspicionIntervalMs: 15_000,
    sentinelIntervalMs: 15_000,
    fastBurnWindowMs: 60_000,
  },
  escalationsMs: [15 * 60_000, 30 * 60_000],
  sourceErrors: { failClosed: true, maxConsecutive: 2 },
  analysis: { requestsPerSecond: 1 },
};

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Deep-merges `override` onto `base`: objects merge key by key, everything else replaces. */
export function deepMerge(base: unknown, override: unknown): unknown {
  if (!isObject(base) || !isObject(override)) return override === undefined ? base : override;
  const out: Json = { ...base };
  for (const [key, value] of Object.entries(override)) out[key] = deepMerge(base[key], value);
  return out;
}

const validator = new SchemaValidator<Json>(qualityGatesSchema);

function durationAt(value: unknown, path: string, file: string, fallback: number, positive = true): number {
  if (value === undefined) return fallback;
  const ms = typeof value === 'string' ? tryParseDuration(value) : undefined;
  if (ms === undefined) throw new ConfigError(durationProblem(path, value), { file, field: path });
  if (positive && ms <= 0)
    throw new ConfigError(
      `${path}: ${JSON.stringify(value)} is not a valid duration here; it must be longer than 0s (e.g. "30s", "10m")`,
      { file, field: path },
    );
  return ms;
}

/** The names of the environments a config defines. */
export function environmentsOf(raw: unknown): string[] {
  return isObject(raw) && isObject(raw.environments)
    ? Object.keys(raw.environments).filter((name) => !isPrototypeName(name))
    : [];
}

/** Validates a parsed config and resolves one environment. `file` is used in error messages. */
export function resolveEnvironment(raw: unknown, environment: string, file: string): EnvironmentGates {
  assertFiniteNumbers(raw, file);
  assertNoPrototypeNames(raw, file);
  validator.assert(raw, file);
  const config = raw as { defaults: Json; environments: Record<string, Json> };
  const known = Object.keys(config.environments);
  // Own names only: `--env __proto__` or `--env constructor` must not resolve to a built-in.
  const override = Object.hasOwn(config.environments, environment)
    ? config.environments[environment]
    : undefined;
  if (override === undefined || isPrototypeName(environment)) {
    throw new ConfigError(
      `unknown environment ${JSON.stringify(environment)}; this file defines: ${known.join(', ')}`,
      { file, field: 'environments' },
    );
  }
  const envPath = `environments.${environment}`;
  const defaultGates = (config.defaults.gates ?? {}) as Record<string, Json>;
  for (const name of Object.keys((override.gates ?? {}) as Json)) {
    const gate = (override.gates as Record<string, Json>)[name]!;
    if (!(name in defaultGates) && gate.kind === undefined) {
      throw new ConfigError(
        `${envPath}.gates.${name}: unknown gate; it is not in defaults.gates (${Object.keys(defaultGates).join(', ')}) ` +
          'and has no "kind" to define a new one',
        { file, field: `${envPath}.gates.${name}` },
      );
    }
  }
  const merged = deepMerge(config.defaults, override) as Json;
  // A gate first defined in an environment must be complete; check it against the full gate schema.
  const fullCheck = validator.problems({
    defaults: { gates: merged.gates },
    environments: { [environment]: {} },
  });
  if (fullCheck.length) {
    // Name the place the user wrote the offending value: the override when it set it, else defaults.
    const located = fullCheck.map((problem) => {
      const match = /^defaults\.gates\.([^.:]+)(?:\.([^.:]+))?/.exec(problem);
      const overridden = match && ((override.gates as Record<string, Json> | undefined)?.[match[1]!] ?? {});
      if (overridden && (match[2] === undefined || match[2] in overridden))
        return problem.replace(/^defaults\./, `${envPath}.`);
      return problem;
    });
    throw new ConfigError(located.join('; '), { file });
  }

  const cadence = (merged.cadence ?? {}) as Json;
  const policy: MonitorPolicy = {
    windowMs: durationAt(merged.window, `${envPath}.window`, file, DEFAULT_POLICY.windowMs),
    cadence: {
      initialIntervalMs: durationAt(
        cadence.initial_interval,
        `${envPath}.cadence.initial_interval`,
        file,
        DEFAULT_POLICY.cadence.initialIntervalMs,
      ),
      initialPhaseMs: durationAt(
        cadence.initial_phase,
        `${envPath}.cadence.initial_phase`,
        file,
        DEFAULT_POLICY.cadence.initialPhaseMs,
        false,
      ),
      intervalMs: durationAt(
        cadence.interval,
        `${envPath}.cadence.interval`,
        file,
        DEFAULT_POLICY.cadence.intervalMs,
      ),
      suspicionIntervalMs: durationAt(
        cadence.suspicion_interval,
        `${envPath}.cadence.suspicion_interval`,
        file,
        DEFAULT_POLICY.cadence.suspicionIntervalMs,
        false,
      ),
      sentinelIntervalMs: durationAt(
        cadence.sentinel_interval,
        `${envPath}.cadence.sentinel_interval`,
        file,
        DEFAULT_POLICY.cadence.sentinelIntervalMs,
        false,
      ),
      fastBurnWindowMs: durationAt(
        cadence.fast_burn_window,
        `${envPath}.cadence.fast_burn_window`,
        file,
        DEFAULT_POLICY.cadence.fastBurnWindowMs,
        false,
      ),
    },
    escalationsMs: Array.isArray(merged.escalations)
      ? (merged.escalations as unknown[]).map((e, i) =>
          durationAt(e, `${envPath}.escalations[${i}]`, file, 0),
        )
      : DEFAULT_POLICY.escalationsMs,
    sourceErrors: {
      failClosed: ((merged.source_errors as Json | undefined)?.fail_closed as boolean | undefined) ?? true,
      maxConsecutive:
        ((merged.source_errors as Json | undefined)?.max_consecutive as number | undefined) ?? 2,
    },
    analysis: {
      requestsPerSecond:
        ((merged.analysis as Json | undefined)?.requests_per_second as number | undefined) ?? 1,
    },
  };
  if (policy.cadence.initialIntervalMs <= 0 || policy.cadence.intervalMs <= 0) {
    throw new ConfigError(`${envPath}.cadence: poll intervals must be longer than 0s`, { file });
  }
  const beyond = policy.escalationsMs.find((e) => e > policy.windowMs);
  if (beyond !== undefined) {
    throw new ConfigError(
      `${envPath}.escalations: an escalation after the ${policy.windowMs / 60_000}m window can never fire`,
      {
        file,
      },
    );
  }

  const gates: Gate[] = [];
  const baselineGates: BaselineGate[] = [];
  for (const [name, g] of Object.entries((merged.gates ?? {}) as Record<string, Json>)) {
    if (g.enabled === false) continue;
    const path = `${envPath}.gates.${name}`;
    if (g.kind === 'baseline') {
      baselineGates.push(resolveBaselineGate(name, g, path, file));
      continue;
    }
    const base = {
      name,
      threshold: g.threshold as number,
      sources: (g.sources as Record<string, string> | undefined) ?? {},
      ...(typeof g.description === 'string' ? { description: g.description } : {}),
    };
    switch (g.kind as GateKind) {
      case 'consecutive_failures':
        gates.push({ ...base, kind: 'consecutive_failures', source: 'health' });
        break;
      case 'ratio':
        gates.push({
          ...base,
          kind: 'ratio',
          numerator: g.numerator as string,
          denominator: g.denominator as string,
          windowMs: durationAt(g.window, `${path}.window`, file, 0),
          minEvents: (g.min_events as number | undefined) ?? 10,
        });
        break;
      case 'percentile':
        gates.push({
          ...base,
          kind: 'percentile',
          metric: g.metric as string,
          percentile: g.percentile as number,
          windowMs: durationAt(g.window, `${path}.window`, file, 0),
          unit: (g.unit as string | undefined) ?? 'ms',
          minSamples: (g.min_samples as number | undefined) ?? 10,
        });
        break;
      case 'gauge':
        if (base.threshold < 0)
          throw new ConfigError(
            `${path}.threshold: ${base.threshold} is negative; a gauge limit such as a queue length must be 0 or more`,
            { file, field: `${path}.threshold` },
          );
        gates.push({
          ...base,
          kind: 'gauge',
          metric: g.metric as string,
          unit: (g.unit as string | undefined) ?? '',
        });
        break;
    }
  }
  if (gates.length + baselineGates.length === 0) {
    throw new ConfigError(`${envPath}: every gate is disabled; a deploy watched by no gate is not guarded`, {
      file,
    });
  }
  return { environment, source: file, policy, gates, ...(baselineGates.length ? { baselineGates } : {}) };
}

/** Reads a config file and resolves one environment. */
export function loadGatesConfig(file: string, environment: string): EnvironmentGates {
  return parseGatesConfig(readTextFile(file), environment, file);
}

/** Same, from text already in memory (action input, tests). */
export function parseGatesConfig(
  text: string,
  environment: string,
  name = 'quality-gates-config.json',
): EnvironmentGates {
  const raw = parseJsonText(text, name);
  assertNoDuplicateKeys(text, name);
  return resolveEnvironment(raw, environment, name);
}
