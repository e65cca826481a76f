// Notifications never delay a rollback: the monitor's automatic rollback path with the real
// notifier (packages/notify) pointed at a webhook that accepts and never answers and an SMTP
// server that never greets. The time from the confirmed violation to the start of the rollback
// is measured in real time, and the hung channels still end within their budget, journalled.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from '@jest/globals';
import { loadGatesConfig } from '@guarded-rollout/gates';
import { readUndelivered } from '@guarded-rollout/notify';
import { FakeClock, MonitorRecorder, guardedMonitor, packageNotifier } from '../src/index.js';
import { SimulatedService } from '../src/simulated-service.js';
import { httpFaults, smtpFaults, type Receiver } from '../../notify/__tests__/faults.js';

const production = loadGatesConfig(
  fileURLToPath(new URL('../../../quality-gates-config.json', import.meta.url)),
  'production',
);
const M = 60_000;
const receivers: Receiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

describe('automatic rollback with hung notification channels', () => {
  it('starts the rollback within 1 s of the violation; the channels end within budget, journalled', async () => {
    const hung = await httpFaults.hang();
    const mail = await smtpFaults.neverGreets();
    receivers.push(hung, mail);
    const dir = mkdtempSync(join(tmpdir(), 'notify-rollback-'));
    const fallbackDir = join(dir, 'fallback');
    const budgetMs = 2000;
    const marks: Record<string, number> = {};
    const stepLate: number[] = [];
    const sim = new SimulatedService({ fault: 'dying-health', onsetMs: 3 * M });
    // How long each notify call holds its caller (the synchronous part: render + pending line).
    const held: Record<string, number> = {};
    const timed =
      (inner: ReturnType<typeof packageNotifier>): ReturnType<typeof packageNotifier> =>
      (event, details) => {
        const t = performance.now();
        const sent = inner(event, details);
        held[event] = performance.now() - t;
        return sent;
      };
    const started = performance.now();
    const outcome = await guardedMonitor({
      config: production,
      environment: 'production',
      provider: 'exposition',
      recorder: new MonitorRecorder(dir, 'production', new Date('2026-11-23T12:00:00Z')),
      sample: async (at) => sim.sample(at),
      clock: new FakeClock(),
      autoRollback: true,
      log: (line) => {
        if (line.startsWith('gate violation:')) marks.violation ??= performance.now();
        if (line.startsWith('automatic rollback started')) marks.rollbackLogged ??= performance.now();
      },
      rollback: async () => {
        marks.rollbackStart = performance.now();
        // Five steps of 100 ms each (restore, restart, three health checks) while the hung sends
        // are in flight: each may be late only by what the notifications cost the event loop.
        for (let step = 0; step < 5; step++) {
          const t = performance.now();
          await new Promise((resolve) => setTimeout(resolve, 100));
          stepLate.push(performance.now() - t - 100);
        }
        return { status: 'succeeded', detail: 'restored', healthChecksOk: 3 };
      },
      notify: timed(
        packageNotifier({
          environment: 'production',
          env: {
            NOTIFY_WEBHOOK_URL: `${hung.url}/hooks/rollbackTOKEN777`,
            SMTP_URL: `smtp://mailer:pw-rollback-9@127.0.0.1:${mail.port}`,
            NOTIFY_EMAIL_TO: 'oncall@example.test',
            NOTIFY_EMAIL_FROM: 'rollout@example.test',
          },
          fallbackDir,
          budgetMs,
          attemptTimeoutMs: 1000,
        }),
      ),
      notifyTimeoutMs: budgetMs + 1000,
    });
    const total = performance.now() - started;
    const delay = marks.rollbackStart! - marks.violation!;
    process.stdout.write(
      `violation → rollback start: ${delay.toFixed(1)} ms (logged → started ${(marks.rollbackStart! - marks.rollbackLogged!).toFixed(1)} ms); notify held its caller ${JSON.stringify(held)}; whole watch incl. notifications: ${total.toFixed(0)} ms\n`,
    );
    expect(outcome.summary.rollback).toMatchObject({ status: 'succeeded' });
    expect(delay).toBeLessThan(1000);
    process.stdout.write(`rollback steps late by ${stepLate.map((l) => l.toFixed(1)).join(', ')} ms\n`);
    expect(Math.max(...stepLate)).toBeLessThan(1000);
    // The hung sends were already under way: the gate-violation and rollback-started requests.
    expect(hung.connections).toBeGreaterThan(0);
    expect(mail.connections).toBeGreaterThan(0);
    // Every notification ended within its budget and is journalled as undelivered.
    expect(total).toBeLessThan(budgetMs + 1000 + 2000);
    const undelivered = readUndelivered(join(fallbackDir, 'notifications.jsonl'));
    const events = new Set(undelivered.map((e) => e.event));
    for (const e of ['gate-violation', 'rollback-started', 'rollback-succeeded', 'monitoring-complete'])
      expect(events.has(e)).toBe(true);
    expect(undelivered.every((e) => e.status === 'failed')).toBe(true);
    expect(readFileSync(join(fallbackDir, 'notifications.jsonl'), 'utf8')).not.toContain('rollbackTOKEN777');
    expect(outcome.summary.notifications.map((n) => n.event)).toEqual(
      expect.arrayContaining([
        'gate-violation',
        'rollback-started',
        'rollback-succeeded',
        'monitoring-complete',
      ]),
    );
  });
});
