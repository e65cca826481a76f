// Benchmark of the monitor (run: node bench/monitor.mjs). Two questions:
//  1. Detection latency per fault kind and onset, with and without suspicion mode, against the
//     analytical minimum: the first instant the gate's condition truly holds, polled continuously
//     (health: three checks at the fastest cadence).
//  2. CPU and memory of full 60-minute simulated windows: the monitor (readings pruned to what the
//     gates need) against a reference loop that keeps every reading, as a naive monitor would.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatDuration } from '../packages/config/src/index.js';
import {
  evaluateGates,
  loadGatesConfig,
  nextPollAt,
  type EnvironmentGates,
  type Reading,
} from '../packages/gates/src/index.js';
import { FakeClock, MonitorRecorder, guardedMonitor, runMonitorLoop } from '../packages/monitor/src/index.js';
import { SimulatedService, type FaultKind } from '../packages/monitor/src/simulated-service.js';

const root = process.argv[2] ?? fileURLToPath(new URL('..', import.meta.url));
const production = loadGatesConfig(join(root, 'quality-gates-config.json'), 'production');
const S = 1000;
const M = 60 * S;
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

function table(headers: string[], rows: string[][]): string {
  const w = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (c: string[]): string => c.map((x, i) => x.padEnd(w[i]!)).join('  ');
  return [line(headers), line(w.map((n) => '-'.repeat(n))), ...rows.map(line)].join('\n');
}

/** The first instant (1 s resolution) the gate's condition holds on the true signal. */
function analyticalMinimum(fault: FaultKind, onset: number): number {
  const sim = new SimulatedService({ fault, onsetMs: onset });
  if (fault === 'dying-health') return onset + 2 * production.policy.cadence.suspicionIntervalMs;
  for (let t = onset; t <= 60 * M; t += S) {
    const w = fault === 'failing-extractions' ? 10 * M : 15 * M;
    const b = Math.max(0, t - w);
    const all = sim.total(t) - sim.total(b);
    if (fault === 'failing-extractions' && all >= 10 && (sim.failed(t) - sim.failed(b)) / all > 0.05)
      return t;
    if (fault === 'slow-hashing' && all >= 10 && (sim.slow(t) - sim.slow(b)) / all > 0.05) return t;
    if (fault === 'growing-queue' && sim.queue(t) > 1000) return t;
  }
  return Number.NaN;
}

async function detect(fault: FaultKind, onset: number, suspicion: boolean): Promise<number | null> {
  const sim = new SimulatedService({ fault, onsetMs: onset });
  const out = await runMonitorLoop({
    config: production,
    sample: sim.sample,
    clock: new FakeClock(),
    suspicion,
  });
  return out.violations[0]?.detectedMs ?? null;
}

async function latency(): Promise<void> {
  const rows: string[][] = [];
  for (const fault of [
    'dying-health',
    'failing-extractions',
    'slow-hashing',
    'growing-queue',
  ] as FaultKind[]) {
    for (const onset of [1 * M, 7 * M, 40 * M, 57 * M + 1]) {
      const min = analyticalMinimum(fault, onset);
      const on = await detect(fault, onset, true);
      const off = await detect(fault, onset, false);
      const fmt = (t: number | null): string => (t === null ? 'missed' : `+${formatDuration(t - onset)}`);
      const ratio = (t: number | null): string =>
        t === null || min === onset ? '' : `${((t - onset) / (min - onset)).toFixed(2)}×`;
      rows.push([
        fault,
        `T+${formatDuration(onset)}`,
        Number.isNaN(min) ? 'not in window' : `+${formatDuration(min - onset)}`,
        fmt(on),
        ratio(on),
        fmt(off),
        ratio(off),
      ]);
    }
  }
  console.log(
    '\nDetection latency after onset (production gates, 2 requests/s, 100 % failure for ratio/percentile, queue +2/s)\n',
  );
  console.log(
    table(['fault', 'onset', 'analytical min', 'suspicion on', 'vs min', 'suspicion off', 'vs min'], rows),
  );
}

interface Footprint {
  cpuMs: number;
  wallMs: number;
  heapMiB: number[];
  peakRssMiB: number;
  polls: number;
}

const mib = (b: number): number => Math.round((b / 1024 / 1024) * 10) / 10;

/** One-second polls for 60 virtual minutes (3601 polls), heap sampled after GC every 10 minutes. */
async function footprint(kind: 'monitor' | 'keep-everything'): Promise<Footprint> {
  const config: EnvironmentGates = {
    ...production,
    policy: {
      ...production.policy,
      cadence: {
        initialIntervalMs: S,
        initialPhaseMs: 0,
        intervalMs: S,
        suspicionIntervalMs: 0,
        sentinelIntervalMs: 0,
        fastBurnWindowMs: 60 * S,
      },
    },
  };
  const sim = new SimulatedService({ fault: 'healthy', onsetMs: 0, rps: 50 });
  const heap: number[] = [];
  let peak = 0;
  const sampleMemory = (at: number): void => {
    peak = Math.max(peak, process.memoryUsage().rss);
    if (at % (10 * M) === 0) {
      gc();
      heap.push(mib(process.memoryUsage().heapUsed));
    }
  };
  gc();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let polls = 0;
  if (kind === 'monitor') {
    const dir = mkdtempSync(join(tmpdir(), 'bench-monitor-'));
    await guardedMonitor({
      config,
      environment: 'bench',
      provider: 'simulated exposition',
      recorder: new MonitorRecorder(dir, 'bench', new Date()),
      sample: async (at) => {
        sampleMemory(at);
        polls++;
        return sim.sample(at);
      },
      clock: new FakeClock(),
    });
    rmSync(dir, { recursive: true, force: true });
  } else {
    // Reference: the same engine and sampler, every reading kept and re-evaluated each poll.
    const readings: Reading[] = [];
    for (let at: number | undefined = 0; at !== undefined; at = nextPollAt(config.policy, at)) {
      sampleMemory(at);
      polls++;
      readings.push(await sim.sample(at));
      evaluateGates(config, readings);
    }
  }
  const cpu = process.cpuUsage(cpu0);
  return {
    cpuMs: (cpu.user + cpu.system) / 1000,
    wallMs: performance.now() - t0,
    heapMiB: heap,
    peakRssMiB: mib(peak),
    polls,
  };
}

async function resources(): Promise<void> {
  const monitor = await footprint('monitor');
  const naive = await footprint('keep-everything');
  console.log(
    '\nOne 60-minute window polled every second (3601 polls, 50 requests/s simulated), fake clock\n',
  );
  const row = (name: string, f: Footprint): string[] => [
    name,
    `${f.polls}`,
    `${f.cpuMs.toFixed(0)} ms`,
    `${(f.cpuMs / f.polls).toFixed(3)} ms`,
    f.heapMiB.join(' → '),
    `${f.peakRssMiB} MiB`,
  ];
  console.log(
    table(
      ['loop', 'polls', 'CPU', 'CPU/poll', 'heap after GC every 10 min (MiB)', 'peak RSS'],
      [
        row('monitor (pruned readings, jsonl recorder, reports)', monitor),
        row('reference: keep every reading', naive),
      ],
    ),
  );
  console.log(
    `\nCPU ratio reference/monitor: ${(naive.cpuMs / monitor.cpuMs).toFixed(2)}×; heap growth T+10m→T+60m: monitor ${(monitor.heapMiB.at(-1)! - monitor.heapMiB[1]!).toFixed(1)} MiB, reference ${(naive.heapMiB.at(-1)! - naive.heapMiB[1]!).toFixed(1)} MiB`,
  );
  // The production cadence: what one real 60-minute watch costs.
  const sim = new SimulatedService({ fault: 'healthy', onsetMs: 0 });
  const cpu0 = process.cpuUsage();
  const out = await runMonitorLoop({ config: production, sample: sim.sample, clock: new FakeClock() });
  const cpu = process.cpuUsage(cpu0);
  console.log(
    `Production cadence (30 s → 2 m): ${out.polls} polls, ${((cpu.user + cpu.system) / 1000).toFixed(1)} ms CPU for the whole 60-minute window.`,
  );
}

await latency();
await resources();
