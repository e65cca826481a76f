// Detection claims: simulated for every onset second through the loop's own schedule (polls,
// sentinels, suspicion polling, escalation marks) and the real evaluator with its fast-burn rules.
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { analyseDetection, checkSchedule, nextCheck, parseGatesConfig } from '../src/index.js';

const shipped = readFileSync(
  new URL('../../../action-templates/quality-gates-config.json', import.meta.url),
  'utf8',
);
const production = parseGatesConfig(shipped, 'production');
const byGate = (list: ReturnType<typeof analyseDetection>) =>
  Object.fromEntries(list.map((d) => [d.gate, d]));
const S = 1000;
const M = 60 * S;

describe('the loop schedule', () => {
  it('keeps the recorded poll cadence and puts a sentinel check every 15 s between polls', () => {
    const checks = checkSchedule(production.policy);
    const polls = checks.filter((c) => c.kind === 'poll').map((c) => c.at);
    expect(polls.slice(0, 12)).toEqual(
      [0, 30, 60, 90, 120, 150, 180, 210, 240, 270, 300, 420].map((s) => s * S),
    );
    expect(polls).toContain(15 * M); // escalation marks are polls
    expect(polls[polls.length - 1]).toBe(60 * M);
    const sentinels = checks.filter((c) => c.kind === 'sentinel').map((c) => c.at);
    expect(sentinels.slice(0, 3)).toEqual([15 * S, 45 * S, 75 * S]);
    expect(sentinels).toContain(5 * M + 15 * S);
    // No gap between checks is longer than the sentinel interval.
    for (let i = 1; i < checks.length; i++)
      expect(checks[i]!.at - checks[i - 1]!.at).toBeLessThanOrEqual(15 * S);
  });

  it('switches to suspicion polls while a gate looks unhealthy, and back', () => {
    expect(nextCheck(production.policy, 5 * M + 15 * S, 5 * M, true)).toEqual({
      at: 5 * M + 30 * S,
      kind: 'poll',
    });
    expect(nextCheck(production.policy, 5 * M + 30 * S, 5 * M + 30 * S, false)).toEqual({
      at: 5 * M + 45 * S,
      kind: 'sentinel',
    });
    expect(nextCheck(production.policy, 60 * M, 60 * M, false)).toBeUndefined();
    // Overtime: a suspected failure at T+60m is followed for at most one more minute.
    expect(nextCheck(production.policy, 60 * M, 60 * M, true)).toEqual({ at: 60 * M + 15 * S, kind: 'poll' });
    expect(nextCheck(production.policy, 61 * M, 61 * M, true)).toBeUndefined();
    expect(nextCheck(production.policy, 5 * M, 5 * M, false, { sentinels: false })).toEqual({
      at: 7 * M,
      kind: 'poll',
    });
  });
});

describe('detection claims (production defaults, every onset second)', () => {
  const live = byGate(analyseDetection(production));
  const pollsOnly = byGate(analyseDetection(production, { sentinels: false }));

  it('confirms every hard failure within 60 s at any onset (sentinels + fast burn)', () => {
    expect(live.health).toMatchObject({ failure: 'health endpoint down', worstCaseMs: 44 * S });
    expect(live.extraction_failure_rate).toMatchObject({
      failure: '50% of events failing',
      worstCaseMs: 46 * S,
    });
    expect(live.p95_hash_time).toMatchObject({
      failure: 'every request slower than 2000 ms',
      worstCaseMs: 45 * S,
    });
    expect(live.low_confidence_queue!.worstCaseMs).toBe(14 * S);
    for (const d of Object.values(live)) expect(d.worstCaseMs!).toBeLessThanOrEqual(60 * S);
    // Overtime: a failure still suspected at T+60m is followed for up to a minute, so health
    // and the queue are confirmed at any onset; only the last seconds escape the other two.
    expect(live.health!.undetectedFromMs).toBeNull();
    expect(live.low_confidence_queue!.undetectedFromMs).toBeNull();
    expect(live.extraction_failure_rate!.undetectedFromMs).toBe(59 * M + 53 * S);
    expect(live.p95_hash_time!.undetectedFromMs).toBe(59 * M + 57 * S);
  });

  it('the recorded cadence alone (suspicion polling but no sentinels) needs over 2 minutes', () => {
    expect(pollsOnly.health!.worstCaseMs).toBe(149 * S);
    expect(pollsOnly.extraction_failure_rate!.worstCaseMs).toBe(133 * S);
    expect(pollsOnly.p95_hash_time!.worstCaseMs).toBe(126 * S);
    expect(pollsOnly.low_confidence_queue!.worstCaseMs).toBe(119 * S);
  });

  it('reports the weakest failure each gate sees, how long it takes and when it is missed', () => {
    expect(live.extraction_failure_rate!.weak).toMatchObject({
      failure: '6% of events failing',
      worstCaseMs: 8 * M + 50 * S,
      undetectedFromMs: 51 * M + 25 * S,
    });
    expect(live.p95_hash_time!.weak).toMatchObject({
      failure: '6% of requests slower than 2000 ms',
      worstCaseMs: 13 * M,
      undetectedFromMs: 47 * M + 15 * S,
    });
    expect(live.extraction_failure_rate!.blindSpot).toBe(
      'a sustained failure rate at or below 5% never trips it',
    );
    expect(live.p95_hash_time!.blindSpot).toContain('no more than 5% of requests are slow');
    expect(live.health!.blindSpot).toContain('flapping');
  });
});

describe('detection follows the configuration', () => {
  it('respects min_events: with little traffic the ratio gate waits for enough events', () => {
    const quiet = parseGatesConfig(
      shipped.replace(
        '"environments": {',
        '"environments": {\n    "quiet": { "analysis": { "requests_per_second": 0.05 }, "cadence": { "sentinel_interval": "0s", "fast_burn_window": "0s" }, "gates": { "extraction_failure_rate": { "min_events": 20 } } },',
      ),
      'quiet',
    );
    // 0.05 req/s = 3 per minute: 20 events take more than 6 minutes to accumulate.
    const d = byGate(analyseDetection(quiet, { stepMs: 15 * S, weakStepMs: 60 * S }));
    expect(d.extraction_failure_rate!.worstCaseMs).toBeGreaterThan(6 * M);
  });
});
