// The end-of-run summary (summary.json, job summary, reports, action outputs all read this one
// object), built from the loop's outcome plus what the rollout glue did about it.
import { formatDuration, TOOL_VERSION } from '@guarded-rollout/config';
import {
  describeBaselineLimit,
  describeLimit,
  formatGateValue,
  type BaselineGate,
  type Gate,
} from '@guarded-rollout/gates';
import type { LoopOutcome, MonitorResult, Violation } from './loop.js';

export interface RollbackOutcome {
  status: 'succeeded' | 'failed' | 'refused' | 'skipped';
  detail: string;
  restoredFrom?: string;
  healthChecksOk?: number;
}

export interface NotificationRecord {
  event: string;
  at: string;
  delivered: Record<string, boolean | 'skipped'>;
  fallbackPath?: string;
  error?: string;
}

export interface GateSummary {
  gate: string;
  kind: Gate['kind'] | 'baseline';
  limit: string;
  threshold: number;
  unit: string;
  status: string;
  value: number | null;
  valueText: string;
  worst: number | null;
  /** Virtual ms of the poll that confirmed a violation, or null. */
  detectedMs: number | null;
  reason: string;
  series: Array<[number, number | null]>;
}

export interface MonitorSummary {
  tool: string;
  version: string;
  environment: string;
  config: string;
  provider: string;
  result: MonitorResult;
  reason: string;
  rollbackRequired: boolean;
  startedAt: string;
  endedAt: string;
  elapsedMs: number;
  windowMs: number;
  timeScale: number;
  suspicion: boolean;
  polls: number;
  /** Sentinel checks between the recorded polls. */
  sentinels: number;
  violations: Violation[];
  gates: GateSummary[];
  escalations: Array<{ atMs: number; gates: string[] }>;
  rollback?: RollbackOutcome;
  migrationSafety: 'reversible' | 'irreversible';
  notifications: NotificationRecord[];
  log: string;
  reports: { summary: string; markdown: string; html: string };
}

export function buildSummary(
  outcome: LoopOutcome,
  context: {
    environment: string;
    config: string;
    provider: string;
    gates: readonly Gate[];
    baselineGates?: readonly BaselineGate[];
    escalations: MonitorSummary['escalations'];
    rollback?: RollbackOutcome;
    migrationSafety: MonitorSummary['migrationSafety'];
    notifications: NotificationRecord[];
    log: string;
    reports: MonitorSummary['reports'];
  },
): MonitorSummary {
  const gates: GateSummary[] = outcome.gates.map((t) => {
    const gate = context.gates.find((g) => g.name === t.gate);
    if (!gate) {
      // A baseline gate: its limit is relative to the pre-deploy baseline.
      const baselineGate = context.baselineGates?.find((g) => g.name === t.gate);
      return {
        gate: t.gate,
        kind: t.kind,
        limit: baselineGate ? describeBaselineLimit(baselineGate) : 'against the pre-deploy baseline',
        threshold: t.threshold,
        unit: t.unit,
        status: t.firstViolatedMs !== null ? 'violated' : (t.last?.status ?? 'not polled'),
        value: t.last?.value ?? null,
        valueText: formatGateValue({ kind: 'gauge', unit: t.unit }, t.last?.value ?? null),
        worst: t.worst,
        detectedMs: t.firstViolatedMs,
        reason: t.last?.warning ? `WARNING (warn only): ${t.last.reason}` : (t.last?.reason ?? 'not polled'),
        series: t.series,
      };
    }
    return {
      gate: t.gate,
      kind: t.kind,
      limit: describeLimit(gate),
      threshold: t.threshold,
      unit: t.unit,
      status: t.firstViolatedMs !== null ? 'violated' : (t.last?.status ?? 'not polled'),
      value: t.last?.value ?? null,
      valueText: formatGateValue(gate, t.last?.value ?? null),
      worst: t.worst,
      detectedMs: t.firstViolatedMs,
      reason: t.last?.reason ?? 'not polled',
      series: t.series,
    };
  });
  return {
    tool: 'guarded-rollout',
    version: TOOL_VERSION,
    environment: context.environment,
    config: context.config,
    provider: context.provider,
    result: outcome.result,
    reason: outcome.reason,
    rollbackRequired: outcome.result === 'violated',
    startedAt: outcome.startedAt,
    endedAt: outcome.endedAt,
    elapsedMs: outcome.elapsedMs,
    windowMs: outcome.policy.windowMs,
    timeScale: outcome.timeScale,
    suspicion: outcome.suspicion,
    polls: outcome.polls,
    sentinels: outcome.sentinels,
    violations: outcome.violations,
    gates,
    escalations: context.escalations,
    ...(context.rollback ? { rollback: context.rollback } : {}),
    migrationSafety: context.migrationSafety,
    notifications: context.notifications,
    log: context.log,
    reports: context.reports,
  };
}

export const tPlus = (ms: number | null): string => (ms === null ? '—' : `T+${formatDuration(ms)}`);
