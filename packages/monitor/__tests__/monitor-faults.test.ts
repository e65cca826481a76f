// Fast subset of bench/monitor-faults.mjs: the real monitor against a separate fault-injecting
// target process with its own metric names (svc_*), mapped by config, on a virtual clock. Every
// mismatch ends as exit 2 or a fail-closed violation (never a pass), hard failures are confirmed
// within the claimed time (≤ 60 s), and a noisy healthy window with a restart blip passes.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { analyseDetection } from '@guarded-rollout/gates';
import { readMonitorLog, replayLog } from '../src/index.js';
import {
  gatesConfig,
  runCase,
  startTarget,
  type Target,
} from '../../../bench/support/monitor-faults-driver.js';

const S = 1000;
const M = 60 * S;
let target: Target;
const claims = Object.fromEntries(
  analyseDetection(gatesConfig(), { weakStepMs: 60 * M }).map((d) => [d.gate, d]),
);

beforeAll(async () => {
  target = await startTarget();
});
afterAll(async () => {
  await target.stop();
  expect(target.process.exitCode !== null || target.process.signalCode !== null).toBe(true);
});

describe('monitor against a separate fault target (virtual clock)', () => {
  it.each([
    [
      'label value ("failed" mapped, the service says "failure")',
      'label-value',
      /result|outcome="failed" is not among its values \("failure", "success"\)/,
    ],
    ['metric name', 'metric-name', /there is no metric svc_latency_secs; closest names: svc_latency_seconds/],
    ['gauge name', 'gauge-name', /there is no metric svc_review_queue; closest names: svc_review_backlog/],
  ] as const)(
    'a %s mismatch is exit 2 before the watch, even with 100%% failures from T+10m',
    async (_n, mapping, message) => {
      const r = await runCase(target, { fault: 'ratio', onsetMs: 10 * M, mapping });
      expect(r).toMatchObject({ exitCode: 2, result: 'configuration error' });
      expect(r.reason).toMatch(message);
    },
  );

  it.each([
    ['health', 'health', 10 * M + S],
    ['ratio', 'extraction_failure_rate', 40 * M],
    ['latency', 'p95_hash_time', 58 * M],
    ['queue', 'low_confidence_queue', 5 * M + S],
  ] as const)(
    'hard %s failure: violated on its gate within the claim (≤ 60 s)',
    async (fault, gate, onsetMs) => {
      const r = await runCase(target, { fault, onsetMs, share: fault === 'ratio' ? 0.5 : 1, noise: true });
      expect(r).toMatchObject({ exitCode: 1, result: 'violated', gate });
      expect(r.latencyMs!).toBeGreaterThanOrEqual(0);
      expect(r.latencyMs!).toBeLessThanOrEqual(claims[gate]!.worstCaseMs!);
      expect(r.latencyMs!).toBeLessThanOrEqual(60 * S);
    },
  );

  it.each([
    [
      'vanish',
      /matched no series of svc_requests_total: outcome="failure" is not among its values \("success"\)/,
    ],
    ['garbage', /did not answer a Prometheus text exposition \(content-type text\/html\)/],
    ['hang', /timed out after 300ms/],
  ] as const)('a metrics source that goes %s at T+10m fails closed', async (fault, reason) => {
    const r = await runCase(target, { fault, onsetMs: 10 * M });
    expect(r).toMatchObject({ exitCode: 1, result: 'violated' });
    expect(r.reason).toMatch(reason);
    expect(r.latencyMs!).toBeLessThanOrEqual(45 * S);
  });

  it('a health failure starting 10 s before the window closes is still confirmed (overtime)', async () => {
    const r = await runCase(target, { fault: 'health', onsetMs: 59 * M + 50 * S, noise: true });
    expect(r).toMatchObject({ exitCode: 1, result: 'violated', gate: 'health' });
    expect(r.detectedMs!).toBeGreaterThan(60 * M);
    expect(r.latencyMs!).toBeLessThanOrEqual(claims.health!.worstCaseMs!);
  });

  it('a noisy healthy window with a restart blip passes (no false violation)', async () => {
    const r = await runCase(target, { fault: 'none', noise: true, seed: 7, blipAtMs: 23 * M + 7 * S });
    expect(r).toMatchObject({ exitCode: 0, result: 'passed', gate: null });
  });

  it.each([
    ['health', 'health', 10 * M, 'health', 5],
    ['ratio', 'extraction_failure_rate', 20 * M, 'extraction_failure_rate', 0.5],
    ['latency', 'p95_hash_time', 30 * M, 'p95_hash_time', 20_000],
    ['queue', 'low_confidence_queue', 40 * M, 'low_confidence_queue', 5000],
  ] as const)(
    'gates replay of a recorded %s run reproduces every live verdict exactly, and changes with the thresholds',
    async (fault, gate, onsetMs, _name, looser) => {
      const r = await runCase(
        target,
        { fault, onsetMs, share: fault === 'ratio' ? 0.5 : 1, noise: true },
        { keepWatching: true, keepLog: true },
      );
      try {
        expect(r).toMatchObject({ result: 'violated', gate });
        const log = readMonitorLog(r.log!);
        if (fault === 'latency') {
          // The recorded histogram has its +Inf bucket (JSON null) and replay reads it back.
          const m = log.polls[5]!.metrics.hash_duration_ms as { buckets: Array<{ le: number | null }> };
          expect(m.buckets[m.buckets.length - 1]!.le).toBeNull();
        }
        const same = replayLog(log);
        for (const g of same.gates) {
          expect({ gate: g.gate, differing: g.differingChecks }).toEqual({ gate: g.gate, differing: 0 });
          expect(g.trippedMs).toBe(g.recordedMs);
        }
        expect(same.gates.find((g) => g.gate === gate)!.trippedMs).toBe(r.detectedMs);
        const config = { gates: log.header.gates, policy: log.header.policy };
        const loose = {
          ...config,
          gates: config.gates.map((g) =>
            g.name === gate
              ? g.kind === 'ratio'
                ? { ...g, threshold: 0.6 }
                : { ...g, threshold: looser }
              : g,
          ),
        };
        const replayed = replayLog(log, loose).gates.find((g) => g.gate === gate)!;
        // A looser limit trips later (health stays down) or never.
        if (fault === 'health') expect(replayed.trippedMs!).toBeGreaterThan(r.detectedMs!);
        else expect(replayed.trippedMs).toBeNull();
        expect(replayed.differingChecks).toBeGreaterThan(0);
      } finally {
        rmSync(dirname(r.log!), { recursive: true, force: true });
      }
    },
  );
});
