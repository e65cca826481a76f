// Scenario tests of the poll loop under a fake clock: each fault kind at several onsets is
// detected exactly at the poll the gate arithmetic predicts, healthy runs pass the full window,
// flapping health never trips, and a metrics outage trips after the configured error budget.
import { describe, expect, it } from '@jest/globals';
import { fileURLToPath } from 'node:url';
import { loadGatesConfig, type EnvironmentGates } from '@guarded-rollout/gates';
import { FakeClock, runMonitorLoop, type PollRecord } from '../src/index.js';
import { SimulatedService, type FaultKind } from '../src/simulated-service.js';

const configFile = fileURLToPath(new URL('../../../quality-gates-config.json', import.meta.url));
// The hand arithmetic below is that of the recorded poll cadence, so sentinel checks and the
// fast-burn rules are off here; they are covered by the detection claims and the fault bench
// (packages/monitor/__tests__/monitor-faults.test.ts, bench/monitor-faults.mjs).
const shipped: EnvironmentGates = loadGatesConfig(configFile, 'production');
const production: EnvironmentGates = {
  ...shipped,
  policy: {
    ...shipped.policy,
    cadence: { ...shipped.policy.cadence, sentinelIntervalMs: 0, fastBurnWindowMs: 0 },
  },
};
const S = 1000;
const M = 60 * S;

/** The uneventful poll schedule written out by hand from the contract: every 30 s for 5 minutes,
 *  then every 2 minutes, plus polls at the T+15m and T+30m escalations, ending at T+60m. */
function regularSchedule(): number[] {
  const times: number[] = [];
  for (let t = 0; t < 5 * M; t += 30 * S) times.push(t);
  let t = 5 * M;
  while (t < 60 * M) {
    times.push(t);
    const next = t + 2 * M;
    const mark = [15 * M, 30 * M].find((m) => m > t && m < next);
    t = Math.min(mark ?? next, 60 * M);
  }
  times.push(60 * M);
  return times;
}

/** First poll at or after `from` where `holds(p, baseline)`; baseline = latest poll ≤ p - window. */
function firstPoll(
  schedule: number[],
  from: number,
  windowMs: number,
  holds: (p: number, baseline: number) => boolean,
): number {
  for (const p of schedule) {
    if (p < from) continue;
    const baseline = [...schedule].reverse().find((b) => b <= p - windowMs) ?? 0;
    if (holds(p, baseline)) return p;
  }
  throw new Error('never detected');
}

/** Where the arithmetic of each gate says the fault must be confirmed. */
function predicted(fault: FaultKind, onset: number, suspicion: boolean): { gate: string; at: number } {
  const sim = new SimulatedService({ fault, onsetMs: onset });
  const schedule = regularSchedule();
  switch (fault) {
    case 'dying-health': {
      // Three consecutive failed checks: the first failing regular poll, then two more — 15 s
      // apart in suspicion mode, at the regular cadence otherwise.
      const first = schedule.find((p) => p >= onset)!;
      if (suspicion) return { gate: 'health', at: first + 30 * S };
      return { gate: 'health', at: schedule[schedule.indexOf(first) + 2]! };
    }
    case 'failing-extractions':
      return {
        gate: 'extraction_failure_rate',
        at: firstPoll(schedule, onset, 10 * M, (p, b) => {
          const all = sim.total(p) - sim.total(b);
          return all >= 10 && (sim.failed(p) - sim.failed(b)) / all > 0.05;
        }),
      };
    case 'slow-hashing':
      // p95 > 2000 ms exactly when more than 5 % of the window's requests are slow.
      return {
        gate: 'p95_hash_time',
        at: firstPoll(schedule, onset, 15 * M, (p, b) => {
          const all = sim.total(p) - sim.total(b);
          return all >= 10 && (sim.slow(p) - sim.slow(b)) / all > 0.05;
        }),
      };
    case 'growing-queue':
      return { gate: 'low_confidence_queue', at: firstPoll(schedule, onset, 0, (p) => sim.queue(p) > 1000) };
    default:
      throw new Error(`no prediction for ${fault}`);
  }
}

async function run(
  fault: FaultKind,
  onsetMs: number,
  options: { suspicion?: boolean; config?: EnvironmentGates } = {},
) {
  const sim = new SimulatedService({ fault, onsetMs });
  const polls: PollRecord[] = [];
  const outcome = await runMonitorLoop({
    config: options.config ?? production,
    sample: sim.sample,
    clock: new FakeClock(),
    suspicion: options.suspicion ?? true,
    onPoll: (p) => void polls.push(p),
  });
  return { outcome, polls };
}

describe('fault detection at the predicted poll', () => {
  const faults: FaultKind[] = ['dying-health', 'failing-extractions', 'slow-hashing', 'growing-queue'];
  const onsets = [1 * M, 7 * M, 40 * M];
  for (const fault of faults) {
    for (const onset of onsets) {
      for (const suspicion of [true, false]) {
        it(`${fault} starting at T+${onset / M}m is confirmed at the predicted poll (suspicion ${suspicion ? 'on' : 'off'})`, async () => {
          const expected = predicted(fault, onset, suspicion);
          const { outcome } = await run(fault, onset, { suspicion });
          expect(outcome.result).toBe('violated');
          expect(outcome.violations.map((v) => v.gate)).toEqual([expected.gate]);
          expect(outcome.violations[0]!.detectedMs).toBe(expected.at);
          expect(outcome.violations[0]!.firstSeenMs).toBeGreaterThanOrEqual(onset);
          expect(outcome.violations[0]!.firstSeenMs).toBeLessThanOrEqual(expected.at);
        });
      }
    }
  }
});

describe('runs that must not trip', () => {
  it('a healthy release passes the full 60-minute window on the contract cadence', async () => {
    const { outcome, polls } = await run('healthy', 0);
    expect(outcome.result).toBe('passed');
    expect(outcome.elapsedMs).toBe(60 * M);
    expect(polls.map((p) => p.at)).toEqual(regularSchedule());
    expect(polls.every((p) => p.results.every((r) => r.status === 'ok' || p.at === 0))).toBe(true);
  });

  it('flapping health (two failures, one success, repeated) resets the streak and never trips', async () => {
    const { outcome, polls } = await run('flapping-health', 5 * M);
    expect(outcome.result).toBe('passed');
    const worst = Math.max(...polls.map((p) => p.results.find((r) => r.gate === 'health')!.value ?? 0));
    expect(worst).toBe(2);
    // Suspicion mode polls fast while a failure is unconfirmed.
    expect(polls.some((p, i) => i > 0 && p.at - polls[i - 1]!.at === 15 * S)).toBe(true);
  });

  it('a low failure rate at the limit (5 %, not above) never trips', async () => {
    const sim = new SimulatedService({
      fault: 'failing-extractions',
      onsetMs: 0,
      failFraction: 0.05,
      rps: 20,
    });
    const outcome = await runMonitorLoop({ config: production, sample: sim.sample, clock: new FakeClock() });
    expect(outcome.result).toBe('passed');
  });
});

describe('fail closed', () => {
  it('a metrics outage trips the metric gates after more than max_consecutive (2) failed scrapes', async () => {
    const { outcome, polls } = await run('metrics-outage', 11 * M);
    expect(outcome.result).toBe('violated');
    // First failed scrape at the T+11m poll, then suspicion polls every 15 s: the third confirms.
    expect(outcome.violations[0]!.detectedMs).toBe(11 * M + 30 * S);
    expect(polls.filter((p) => p.at >= 11 * M)).toHaveLength(3);
    expect(outcome.violations[0]!.reason).toMatch(/metrics source failed 3 consecutive polls/);
  });

  it('without suspicion mode the outage is confirmed at the third regular poll', async () => {
    const { outcome } = await run('metrics-outage', 11 * M, { suspicion: false });
    expect(outcome.violations[0]!.detectedMs).toBe(15 * M);
  });
});

describe('window, milestones, deadline and cancellation', () => {
  it('escalates at T+15m and T+30m while a gate is unhealthy, and keeps watching when asked', async () => {
    const sim = new SimulatedService({ fault: 'dying-health', onsetMs: 10 * M });
    const marks: number[] = [];
    const outcome = await runMonitorLoop({
      config: production,
      sample: sim.sample,
      clock: new FakeClock(),
      stopOnViolation: false,
      onMilestone: (e) => void marks.push(e.milestone.atMs),
    });
    expect(outcome.result).toBe('violated');
    expect(outcome.elapsedMs).toBe(60 * M);
    expect(marks).toEqual([15 * M, 30 * M, 60 * M]);
  });

  it('stops with an error at its own deadline rather than overrunning the job', async () => {
    const sim = new SimulatedService({ fault: 'healthy', onsetMs: 0 });
    const outcome = await runMonitorLoop({
      config: production,
      sample: sim.sample,
      clock: new FakeClock(),
      deadlineMs: 10 * M,
    });
    expect(outcome.result).toBe('error');
    expect(outcome.reason).toMatch(/deadline/);
    expect(outcome.elapsedMs).toBeLessThanOrEqual(10 * M);
  });

  it('reports cancelled when its signal aborts mid-window', async () => {
    const sim = new SimulatedService({ fault: 'healthy', onsetMs: 0 });
    const abort = new AbortController();
    const outcome = await runMonitorLoop({
      config: production,
      sample: sim.sample,
      clock: new FakeClock(),
      signal: abort.signal,
      onPoll: (p) => void (p.at >= 20 * M && abort.abort()),
    });
    expect(outcome.result).toBe('cancelled');
    expect(outcome.elapsedMs).toBe(21 * M);
  });

  it('time-scale compresses real sleeping: a 60-minute window at 60× sleeps 60 real seconds', async () => {
    const clock = new FakeClock();
    const start = clock.now();
    const sim = new SimulatedService({ fault: 'healthy', onsetMs: 0 });
    const outcome = await runMonitorLoop({ config: production, sample: sim.sample, clock, timeScale: 60 });
    expect(outcome.result).toBe('passed');
    expect(clock.now() - start).toBe(60 * S);
  });
});
