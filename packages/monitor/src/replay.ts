// `gates replay`: re-evaluates a recorded monitor log against (possibly different) gates and says
// whether and when they would have tripped. The log's header carries the gates it ran with, so a
// replay without --config reproduces the original verdicts.
import { readFileSync } from 'node:fs';
import { ConfigError } from '@guarded-rollout/config';
import {
  evaluateBaselineGates,
  evaluateGates,
  pruneReadings,
  type EnvironmentGates,
  type GateResult,
  type MetricReading,
  type MonitorPolicy,
  type Reading,
} from '@guarded-rollout/gates';
import type { LogHeader, PollLine } from './recorder.js';

export interface ReplayedGate {
  gate: string;
  /** Virtual ms of the first poll at which the gate is violated under these gates, or null. */
  trippedMs: number | null;
  /** The same, as originally recorded (null when the gate was not in the log or never tripped). */
  recordedMs: number | null;
  valueAtTrip: number | null;
  last: GateResult | null;
  /** Checks at which the replayed status differs from the recorded one (0 when the thresholds
   *  are the recorded ones: the replay reproduces the live verdicts exactly). */
  differingChecks: number;
}

export interface ReplayResult {
  environment: string;
  polls: number;
  spanMs: number;
  gates: ReplayedGate[];
  trippedMs: number | null;
}

export interface MonitorLog {
  header: LogHeader;
  polls: PollLine[];
}

export function readMonitorLog(file: string): MonitorLog {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read the monitor log: ${(error as Error).message}`, { file });
  }
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  let header: LogHeader | undefined;
  const polls: PollLine[] = [];
  for (const [i, line] of lines.entries()) {
    let record: { record?: string };
    try {
      record = JSON.parse(line) as { record?: string };
    } catch {
      // A run killed mid-write can leave a torn last line; anything else is corruption.
      if (i === lines.length - 1) break;
      throw new ConfigError(`line ${i + 1} is not JSON; a monitor log has one JSON record per line`, {
        file,
      });
    }
    if (record.record === 'header') header = record as LogHeader;
    else if (record.record === 'poll') polls.push(record as PollLine);
  }
  if (!header)
    throw new ConfigError('no header record; is this a monitor_logs/<env>_<ts>.jsonl file?', { file });
  return { header, polls };
}

/** JSON has no Infinity: the +Inf bucket of a recorded histogram reads back as `le: null`. */
function revive(metrics: Record<string, MetricReading>): Record<string, MetricReading> {
  const out: Record<string, MetricReading> = {};
  for (const [name, m] of Object.entries(metrics)) {
    out[name] =
      m.type === 'histogram'
        ? {
            ...m,
            buckets: m.buckets.map((b) => ({
              le: b.le === null || b.le === undefined ? Number.POSITIVE_INFINITY : Number(b.le),
              count: b.count,
            })),
          }
        : m;
  }
  return out;
}

/** The policy a log was recorded with; logs from before sentinels and fast burn ran without them. */
function recordedPolicy(policy: MonitorPolicy): MonitorPolicy {
  return {
    ...policy,
    cadence: {
      ...policy.cadence,
      sentinelIntervalMs: policy.cadence.sentinelIntervalMs ?? 0,
      fastBurnWindowMs: policy.cadence.fastBurnWindowMs ?? 0,
    },
  };
}

export function replayLog(
  log: MonitorLog,
  gates?: Pick<EnvironmentGates, 'gates' | 'policy' | 'baselineGates'>,
): ReplayResult {
  const config = gates ?? {
    gates: log.header.gates,
    policy: recordedPolicy(log.header.policy),
    baselineGates: log.header.baselineGates,
  };
  // Baseline gates compare with the baseline recorded before that deploy (kept in the log header).
  const baselineGates = config.baselineGates ?? [];
  const watched: Reading[] = [];
  let readings: Reading[] = [];
  const tripped = new Map<string, { at: number; value: number | null }>();
  const recorded = new Map<string, number>();
  let last: GateResult[] = [];
  const differing = new Map<string, number>();
  for (const p of log.polls) {
    const metrics = revive(p.metrics);
    const reading: Reading = p.health
      ? { at: p.elapsed_ms, health: p.health, metrics }
      : { at: p.elapsed_ms, metrics };
    readings.push(reading);
    readings = pruneReadings(config, readings);
    if (baselineGates.length) watched.push(reading);
    last = [
      ...evaluateGates(config, readings),
      ...evaluateBaselineGates(baselineGates, log.header.baseline, watched),
    ];
    for (const r of last)
      if (r.status === 'violated' && !tripped.has(r.gate))
        tripped.set(r.gate, { at: p.elapsed_ms, value: r.value });
    for (const [name, g] of Object.entries(p.gates))
      if (g.status === 'violated' && !recorded.has(name)) recorded.set(name, p.elapsed_ms);
    for (const r of last)
      if (p.gates[r.gate] && p.gates[r.gate]!.status !== r.status)
        differing.set(r.gate, (differing.get(r.gate) ?? 0) + 1);
  }
  const out = [...config.gates, ...baselineGates].map((g) => ({
    gate: g.name,
    trippedMs: tripped.get(g.name)?.at ?? null,
    recordedMs: recorded.get(g.name) ?? null,
    valueAtTrip: tripped.get(g.name)?.value ?? null,
    last: last.find((r) => r.gate === g.name) ?? null,
    differingChecks: differing.get(g.name) ?? 0,
  }));
  const times = out.map((g) => g.trippedMs).filter((t): t is number => t !== null);
  return {
    environment: log.header.environment,
    polls: log.polls.length,
    spanMs: log.polls[log.polls.length - 1]?.elapsed_ms ?? 0,
    gates: out,
    trippedMs: times.length ? Math.min(...times) : null,
  };
}
