// The rollout glue around the poll loop: record every poll, escalate at T+15/T+30 while a gate is
// unhealthy, and on a violation run the injected rollback and announce each step. Rollback and
// notification are interfaces: the rollback action's code, packages/notify, or the local
// adapters in ./adapters plug in here. Notifications fail open: they are started, never awaited
// before the rollback, and their failures are recorded rather than thrown.
import { writeFileSync } from 'node:fs';
import { formatDuration } from '@guarded-rollout/config';
import {
  describeLimit,
  describeBaselineLimit,
  formatGateValue,
  type EnvironmentGates,
  type Gate,
  type GateResult,
} from '@guarded-rollout/gates';
import {
  runMonitorLoop,
  type LoopOptions,
  type LoopOutcome,
  type PollRecord,
  type Violation,
} from './loop.js';
import type { MonitorRecorder } from './recorder.js';
import { renderHtml, renderMarkdown } from './report.js';
import {
  buildSummary,
  tPlus,
  type MonitorSummary,
  type NotificationRecord,
  type RollbackOutcome,
} from './summary.js';

export type NotifyEvent =
  | 'deploy-started'
  | 'deploy-succeeded'
  | 'deploy-failed'
  | 'gate-violation'
  | 'rollback-started'
  | 'rollback-succeeded'
  | 'rollback-failed'
  | 'escalation'
  | 'monitoring-complete';

/** Sends one event to every configured channel; resolves with what was delivered. */
export type Notifier = (
  event: NotifyEvent,
  details: Record<string, unknown>,
) => Promise<NotificationRecord | void>;
/** Restores the previous release and verifies it (e.g. 3 consecutive OK health checks).
 *  `check`, when the rollback can be tried without changing anything (a restore's dry run):
 *  whether it would work now, with the one line that says why or what it verified. The
 *  pre-flight runs it before a watch with automatic rollback, so a rollback that cannot work is
 *  found at deploy time, not at the violation. */
export type Rollback = (() => Promise<RollbackOutcome>) & { check?: () => Promise<RollbackCheck> };

export interface RollbackCheck {
  ok: boolean;
  /** One line: what would stop the rollback, or what the dry run verified. */
  detail: string;
}

export type MigrationSafety = 'reversible' | 'irreversible';

export interface GuardedMonitorOptions extends Omit<LoopOptions, 'onPoll' | 'onMilestone' | 'config'> {
  config: EnvironmentGates;
  environment: string;
  provider: string;
  recorder: MonitorRecorder;
  autoRollback?: boolean;
  /** `irreversible` (the deploy ran a migration that cannot be undone): never restore
   *  automatically; escalate to a person instead. */
  migrationSafety?: MigrationSafety;
  rollback?: Rollback;
  notify?: Notifier;
  /** Progress lines for a terminal or the job log. */
  log?: (line: string) => void;
  /** Bound on waiting for notifications at the end (they never hold the rollback). */
  notifyTimeoutMs?: number;
  /** Aborted when that bound is hit; pass its signal to the notifier. */
  notifyAbort?: AbortController;
}

export interface GuardedOutcome {
  summary: MonitorSummary;
  markdown: string;
  loop: LoopOutcome;
}

/** One short line per poll: "T+2m30s health ok · extraction_failure_rate 0% ok · ...". */
export function describePoll(poll: PollRecord, config: EnvironmentGates): string {
  const parts = poll.results.map((r) => {
    const gate = config.gates.find((g) => g.name === r.gate) ?? { kind: 'gauge' as const, unit: r.unit };
    const mark =
      r.status === 'violated' ? 'VIOLATED' : r.suspicious ? 'suspect' : r.status === 'ok' ? 'ok' : 'no data';
    return `${r.gate} ${formatGateValue(gate, r.value)} ${mark}`;
  });
  return `T+${formatDuration(poll.at).padEnd(6)} ${parts.join(' · ')}${poll.suspicious ? '  (suspicion polling)' : ''}`;
}

/** The violation as notifications and the action output carry it. */
export function violationDetails(v: Violation): Record<string, unknown> {
  return {
    gate: v.gate,
    value: v.value,
    limit: v.limit,
    window: v.windowMs === null ? null : formatDuration(v.windowMs),
    firstSeen: v.firstSeen,
    detected: v.detected,
    reason: v.reason,
  };
}

export async function guardedMonitor(options: GuardedMonitorOptions): Promise<GuardedOutcome> {
  const gateOf = (name: string): Gate | undefined => options.config.gates.find((g) => g.name === name);
  // Baseline gates (not in config.gates) are described by their own module.
  const baselineOf = (name: string) => options.config.baselineGates?.find((g) => g.name === name);
  const valueText = (name: string, value: number | null, unit: string): string => {
    const gate = gateOf(name);
    return formatGateValue(gate ?? { kind: 'baseline', unit }, value);
  };
  const limitText = (name: string): string => {
    const gate = gateOf(name);
    if (gate) return describeLimit(gate);
    const baseline = baselineOf(name);
    return baseline ? describeBaselineLimit(baseline) : name;
  };
  // Gate lines in the notification vocabulary: value in the gate's unit, limit in words.
  const resultLine = (r: GateResult): Record<string, string> => ({
    gate: r.gate,
    status: r.status,
    value: valueText(r.gate, r.value, r.unit),
    limit: limitText(r.gate),
    reason: r.reason,
  });
  const violationLine = (v: Violation): Record<string, string> => ({
    gate: v.gate,
    status: 'violated',
    value: valueText(v.gate, v.value, v.unit),
    limit: limitText(v.gate),
    reason: `${v.reason}; first seen ${tPlus(v.firstSeenMs)}, confirmed ${tPlus(v.detectedMs)}`,
  });
  const log = options.log ?? (() => {});
  const { config, recorder } = options;
  const migrationSafety = options.migrationSafety ?? 'reversible';
  const notifications: NotificationRecord[] = [];
  const inFlight: Array<Promise<void>> = [];
  const escalations: MonitorSummary['escalations'] = [];

  const announce = (event: NotifyEvent, details: Record<string, unknown>): Promise<void> => {
    if (!options.notify) return Promise.resolve();
    const sent = options
      .notify(event, { environment: options.environment, ...details })
      .then((record) => {
        notifications.push(record ?? { event, at: new Date().toISOString(), delivered: {} });
      })
      .catch((error: unknown) => {
        // Fail open: the failure is kept in the summary, the rollout goes on.
        notifications.push({
          event,
          at: new Date().toISOString(),
          delivered: {},
          error: (error as Error).message,
        });
        log(`notification ${event} failed: ${(error as Error).message}`);
      });
    inFlight.push(sent);
    return sent;
  };

  recorder.header({
    environment: options.environment,
    config: config.source,
    started: new Date(options.clock.now()).toISOString(),
    timeScale: options.timeScale ?? 1,
    suspicion: options.suspicion ?? true,
    provider: options.provider,
    policy: config.policy,
    gates: config.gates,
    ...(config.baselineGates ? { baselineGates: config.baselineGates } : {}),
    ...(options.baseline ? { baseline: options.baseline } : {}),
  });

  const loop = await runMonitorLoop({
    ...options,
    onPoll: (poll) => {
      recorder.poll(poll);
      log(describePoll(poll, config));
      // Announced the moment a gate is confirmed, also when the watch goes on (keep-watching).
      if (poll.violations.length) {
        log(
          `gate violation: ${poll.violations.map((v) => `${v.gate} — ${v.reason} (first seen ${tPlus(v.firstSeenMs)}, confirmed ${tPlus(v.detectedMs)})`).join('; ')}`,
        );
        void announce('gate-violation', {
          violatedGates: poll.violations.map(violationLine),
          elapsed: `T+${formatDuration(poll.at)}`,
          autoRollback: options.autoRollback ?? false,
          violations: poll.violations.map(violationDetails),
          rollbackRequired: true,
        });
      }
    },
    onMilestone: ({ milestone, unhealthy }) => {
      if (milestone.kind !== 'escalation') return;
      escalations.push({ atMs: milestone.atMs, gates: unhealthy.map((r) => r.gate) });
      log(
        `escalation at T+${formatDuration(milestone.atMs)}: ${unhealthy.map((r) => `${r.gate} (${r.reason})`).join('; ')}`,
      );
      void announce('escalation', {
        stage: `T+${formatDuration(milestone.atMs)}`,
        elapsed: `T+${formatDuration(milestone.atMs)}`,
        gates: unhealthy.map(resultLine),
      });
    },
  });

  let rollback: RollbackOutcome | undefined;
  if (loop.result === 'violated') {
    const violated = loop.violations.map(violationDetails);
    if (options.autoRollback) {
      if (migrationSafety === 'irreversible') {
        rollback = {
          status: 'refused',
          detail:
            'the deploy ran an irreversible migration: no automatic restore; escalated for a manual decision',
        };
        log(`automatic rollback refused: ${rollback.detail}`);
        void announce('escalation', {
          stage: 'automatic rollback refused',
          message: rollback.detail,
          gates: loop.violations.map(violationLine),
          violations: violated,
        });
      } else if (!options.rollback) {
        rollback = {
          status: 'failed',
          detail: 'auto-rollback was requested but no rollback target was configured',
        };
        log(rollback.detail);
        void announce('rollback-failed', { reason: rollback.detail });
      } else {
        log('automatic rollback started');
        void announce('rollback-started', {
          reason: `quality gate violated: ${loop.violations.map((v) => v.gate).join(', ')}`,
          violatedGates: loop.violations.map(violationLine),
          violations: violated,
        });
        try {
          rollback = await options.rollback();
        } catch (error) {
          rollback = { status: 'failed', detail: (error as Error).message };
        }
        log(`rollback ${rollback.status}: ${rollback.detail}`);
        void announce(
          rollback.status === 'succeeded' ? 'rollback-succeeded' : 'rollback-failed',
          rollback.status === 'succeeded'
            ? {
                message: rollback.detail,
                healthChecksOk:
                  rollback.healthChecksOk !== undefined ? String(rollback.healthChecksOk) : null,
                backup: rollback.restoredFrom ?? null,
              }
            : { reason: rollback.detail, backup: rollback.restoredFrom ?? null },
        );
      }
    }
  }

  const paths = {
    summary: recorder.summaryPath,
    markdown: `${recorder.base}.md`,
    html: `${recorder.base}.html`,
  };
  const finalSummary = (): MonitorSummary =>
    buildSummary(loop, {
      environment: options.environment,
      config: config.source,
      provider: options.provider,
      gates: config.gates,
      ...(config.baselineGates ? { baselineGates: config.baselineGates } : {}),
      escalations,
      ...(rollback ? { rollback } : {}),
      migrationSafety,
      notifications: [...notifications],
      log: recorder.logPath,
      reports: paths,
    });
  void announce('monitoring-complete', {
    result: loop.result,
    message: loop.reason,
    duration: `T+${formatDuration(loop.elapsedMs)} of ${formatDuration(loop.policy.windowMs)}`,
    gates: loop.gates
      .filter((t) => t.last)
      .map((t) => resultLine(t.firstViolatedMs !== null ? { ...t.last!, status: 'violated' } : t.last!)),
    violations: loop.violations.map((v) => v.gate),
    ...(rollback ? { rollback: rollback.status } : {}),
    report: paths.html,
  });
  // Notifications are bounded: a hung channel cannot hold the job past its grace period. Real
  // time on purpose: deliveries are real I/O even when the poll clock is simulated. A cancelled
  // job has ~10 s of grace on the runner, so the trail gets at most 5 of them. When the bound is
  // hit, `notifyAbort` ends the sends so the notifier can still write them to its fallback file.
  const notifyBudget = options.notifyTimeoutMs ?? 20_000;
  const settled = Promise.all(inFlight);
  const within = (ms: number): Promise<boolean> => {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      settled.then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
    ]).finally(() => clearTimeout(timer));
  };
  if (!(await within(loop.result === 'cancelled' ? Math.min(notifyBudget, 5000) : notifyBudget))) {
    options.notifyAbort?.abort();
    await within(2000);
  }
  const summary = finalSummary();
  const markdown = renderMarkdown(summary);
  recorder.summary(summary);
  writeFileSync(paths.markdown, markdown);
  writeFileSync(paths.html, renderHtml(summary));
  return { summary, markdown, loop };
}
