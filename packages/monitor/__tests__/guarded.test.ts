// The rollout glue with injected rollback and notifier, under a fake clock: what is recorded,
// reported, rolled back and announced — including the refusals and failures.
import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadGatesConfig } from '@guarded-rollout/gates';
import {
  FakeClock,
  MonitorRecorder,
  guardedMonitor,
  readMonitorLog,
  replayLog,
  type NotifyEvent,
  type RollbackOutcome,
} from '../src/index.js';
import { SimulatedService, type FaultKind } from '../src/simulated-service.js';

const configFile = fileURLToPath(new URL('../../../quality-gates-config.json', import.meta.url));
const production = loadGatesConfig(configFile, 'production');
const M = 60_000;

async function watch(
  fault: FaultKind,
  onsetMs: number,
  options: {
    autoRollback?: boolean;
    migrationSafety?: 'reversible' | 'irreversible';
    rollback?: () => Promise<RollbackOutcome>;
    failingNotifier?: boolean;
    keepWatching?: boolean;
    abortAtMs?: number;
  } = {},
) {
  const dir = mkdtempSync(join(tmpdir(), 'guarded-'));
  const events: Array<{ event: NotifyEvent; details: Record<string, unknown> }> = [];
  const order: string[] = [];
  const sim = new SimulatedService({ fault, onsetMs });
  const abort = new AbortController();
  const outcome = await guardedMonitor({
    config: production,
    environment: 'production',
    provider: 'exposition',
    recorder: new MonitorRecorder(dir, 'production', new Date('2026-11-23T12:00:00Z')),
    sample: async (at) => {
      if (options.abortAtMs !== undefined && at >= options.abortAtMs) abort.abort();
      return sim.sample(at);
    },
    clock: new FakeClock(),
    signal: abort.signal,
    stopOnViolation: !options.keepWatching,
    autoRollback: options.autoRollback ?? false,
    migrationSafety: options.migrationSafety ?? 'reversible',
    ...(options.rollback ? { rollback: async () => (order.push('rollback'), options.rollback!()) } : {}),
    notify: async (event, details) => {
      order.push(event);
      events.push({ event, details });
      if (options.failingNotifier) throw new Error('channel down');
      return { event, at: '', delivered: { slack: true } };
    },
  });
  return { ...outcome, events, order, dir };
}

describe('on a violation', () => {
  it('rolls back automatically, announces each step, and reports it', async () => {
    const r = await watch('dying-health', 7 * M, {
      autoRollback: true,
      rollback: async () => ({ status: 'succeeded', detail: 'restored', healthChecksOk: 3 }),
    });
    expect(r.summary.result).toBe('violated');
    expect(r.summary.rollbackRequired).toBe(true);
    expect(r.summary.rollback).toEqual({ status: 'succeeded', detail: 'restored', healthChecksOk: 3 });
    expect(r.events.map((e) => e.event)).toEqual([
      'gate-violation',
      'rollback-started',
      'rollback-succeeded',
      'monitoring-complete',
    ]);
    const violation = r.events[0]!.details.violations as Array<Record<string, unknown>>;
    expect(violation[0]).toMatchObject({ gate: 'health', value: 3, limit: 2, window: null });
    // The rollback is not held back by the notifications before it.
    expect(r.order.indexOf('rollback')).toBeLessThan(r.order.indexOf('rollback-succeeded'));
  });

  it('an irreversible migration is never restored automatically: it escalates instead', async () => {
    let rolledBack = false;
    const r = await watch('failing-extractions', 1 * M, {
      autoRollback: true,
      migrationSafety: 'irreversible',
      rollback: async () => ((rolledBack = true), { status: 'succeeded', detail: '' }),
    });
    expect(rolledBack).toBe(false);
    expect(r.summary.rollback?.status).toBe('refused');
    expect(r.events.map((e) => e.event)).toEqual(['gate-violation', 'escalation', 'monitoring-complete']);
  });

  it('without auto-rollback it only reports that a rollback is required', async () => {
    const r = await watch('slow-hashing', 1 * M);
    expect(r.summary.rollbackRequired).toBe(true);
    expect(r.summary.rollback).toBeUndefined();
    expect(r.markdown).toContain('Rollback required; automatic rollback was not enabled');
  });

  it('a failed rollback is reported as failed and announced', async () => {
    const r = await watch('dying-health', 1 * M, {
      autoRollback: true,
      rollback: async () => {
        throw new Error('restore target is read-only');
      },
    });
    expect(r.summary.rollback).toEqual({ status: 'failed', detail: 'restore target is read-only' });
    expect(r.events.map((e) => e.event)).toContain('rollback-failed');
  });

  it('notification failures never stop the rollback and are kept in the summary', async () => {
    const r = await watch('dying-health', 1 * M, {
      autoRollback: true,
      failingNotifier: true,
      rollback: async () => ({ status: 'succeeded', detail: 'ok' }),
    });
    expect(r.summary.rollback?.status).toBe('succeeded');
    expect(r.summary.notifications.every((n) => n.error === 'channel down')).toBe(true);
  });
});

describe('escalations and the final report', () => {
  it('escalates at T+15m and T+30m while a gate is unhealthy and ends with monitoring-complete', async () => {
    const r = await watch('dying-health', 10 * M, { keepWatching: true });
    expect(r.summary.escalations.map((e) => e.atMs)).toEqual([15 * M, 30 * M]);
    expect(r.events.filter((e) => e.event === 'escalation').map((e) => e.details.stage)).toEqual([
      'T+15m',
      'T+30m',
    ]);
    expect(r.events.at(-1)!.event).toBe('monitoring-complete');
    expect(r.summary.elapsedMs).toBe(60 * M);
    // The violation was announced when it was confirmed, before the escalations.
    expect(r.events.map((e) => e.event).slice(0, 3)).toEqual(['gate-violation', 'escalation', 'escalation']);
  });

  it('a healthy window sends only monitoring-complete, with the report', async () => {
    const r = await watch('healthy', 0);
    expect(r.events.map((e) => e.event)).toEqual(['monitoring-complete']);
    expect(r.events[0]!.details).toMatchObject({
      result: 'passed',
      report: expect.stringMatching(/\.html$/),
    });
  });
});

describe('trail on disk', () => {
  it('writes a jsonl log (header + one record per poll), summary JSON, markdown with charts and HTML', async () => {
    const r = await watch('failing-extractions', 7 * M);
    const lines = readFileSync(r.summary.log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(r.summary.log).toMatch(/production_20261123T120000Z\.jsonl$/);
    expect(lines[0]!.record).toBe('header');
    expect(lines.slice(1)).toHaveLength(r.summary.polls + r.summary.sentinels);
    expect(lines.filter((l) => l.check === 'poll')).toHaveLength(r.summary.polls);
    expect(lines[1]).toMatchObject({ record: 'poll', elapsed_ms: 0, elapsed: 'T+0ms', health: { ok: true } });
    expect(Object.keys(lines[1]!.gates as object)).toEqual([
      'health',
      'extraction_failure_rate',
      'p95_hash_time',
      'low_confidence_queue',
    ]);
    const summary = JSON.parse(readFileSync(r.summary.reports.summary, 'utf8')) as {
      result: string;
      violations: Array<{ gate: string; detectedMs: number }>;
    };
    expect(summary.result).toBe('violated');
    // Fast burn at a sentinel check: 30 s after the onset instead of the 10-minute window's 2 m.
    expect(summary.violations[0]).toMatchObject({ gate: 'extraction_failure_rate', detectedMs: 7.5 * M });
    const md = readFileSync(r.summary.reports.markdown, 'utf8');
    expect(md).toContain('| extraction_failure_rate | extractions_failed/extractions_total > 5% over 10m |');
    expect(md.match(/```mermaid\nxychart-beta/g)).toHaveLength(4);
    const html = readFileSync(r.summary.reports.html, 'utf8');
    expect(html).toContain('<svg');
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
  });

  it('cancellation writes the partial summary and reports cancelled', async () => {
    const r = await watch('healthy', 0, { abortAtMs: 20 * M });
    expect(r.summary.result).toBe('cancelled');
    expect(JSON.parse(readFileSync(r.summary.reports.summary, 'utf8')).result).toBe('cancelled');
  });

  it('replay of the log reproduces the recorded trip; looser thresholds would not have tripped', async () => {
    const r = await watch('failing-extractions', 7 * M, { keepWatching: true });
    const log = readMonitorLog(r.summary.log);
    const same = replayLog(log);
    expect(same.gates.find((g) => g.gate === 'extraction_failure_rate')).toMatchObject({
      trippedMs: 7.5 * M,
      recordedMs: 7.5 * M,
    });
    const loose = {
      ...production,
      gates: production.gates.map((g) => (g.kind === 'ratio' ? { ...g, threshold: 1 } : g)),
    };
    expect(replayLog(log, loose).trippedMs).toBeNull();
  });
});
