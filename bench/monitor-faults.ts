// The monitor's fault matrix against a separate fault-injecting target process (its own svc_*
// metric names, mapped by config) on a virtual clock: 4 hard fault kinds × onsets T+1m, 5m, 10m,
// 40m, 58m (each also +1 s) and T+59m45s, the weakest failures the ratio/percentile gates see, mapping
// mismatches, a metrics source that goes down/500/hang/garbage/vanishes, and 20 noisy healthy
// windows. Prints claimed (the detection analysis) vs measured; exits 1 if any measured exceeds
// its claim, any mismatch passes, or any healthy window violates.
import { analyseDetection } from '../packages/gates/src/index.js';
import { formatDuration } from '../packages/config/src/index.js';
import { gatesConfig, runCase, startTarget, type FaultCase } from './support/monitor-faults-driver.js';

const S = 1000;
const M = 60 * S;
// The acceptance onsets (each also +1 s), and one 15 s before the window closes (overtime).
const ONSETS = [...[1, 5, 10, 40, 58].flatMap((m) => [m * M, m * M + S]), 59 * M + 45 * S];
const fmt = (ms: number | null): string => (ms === null ? '—' : formatDuration(ms));

async function main(): Promise<void> {
  const started = Date.now();
  const config = gatesConfig();
  const claims = Object.fromEntries(analyseDetection(config).map((d) => [d.gate, d]));
  const target = await startTarget();
  let bad = 0;
  const rows: string[][] = [];
  try {
    const kinds: Array<{ label: string; gate: string; c: Omit<FaultCase, 'onsetMs'>; weak: boolean }> = [
      { label: 'health down', gate: 'health', c: { fault: 'health' }, weak: false },
      {
        label: '50% extractions failing',
        gate: 'extraction_failure_rate',
        c: { fault: 'ratio', share: 0.5 },
        weak: false,
      },
      { label: 'every request slow', gate: 'p95_hash_time', c: { fault: 'latency' }, weak: false },
      { label: 'queue over its limit', gate: 'low_confidence_queue', c: { fault: 'queue' }, weak: false },
      {
        label: '6% extractions failing',
        gate: 'extraction_failure_rate',
        c: { fault: 'ratio', share: 0.06 },
        weak: true,
      },
      { label: '6% requests slow', gate: 'p95_hash_time', c: { fault: 'latency', share: 0.06 }, weak: true },
    ];
    for (const k of kinds) {
      const claim = k.weak ? claims[k.gate]!.weak : claims[k.gate]!;
      const latencies: number[] = [];
      const misses: number[] = [];
      for (const onsetMs of ONSETS) {
        const r = await runCase(target, { ...k.c, onsetMs, noise: true, seed: onsetMs });
        const claimedMiss = claim.undetectedFromMs !== null && onsetMs >= claim.undetectedFromMs;
        if (r.result === 'violated' && r.gate === k.gate) {
          latencies.push(r.latencyMs!);
          if (claim.worstCaseMs === null || r.latencyMs! > claim.worstCaseMs) bad++;
        } else if (r.result === 'passed' && claimedMiss) {
          misses.push(onsetMs);
        } else {
          bad++;
          console.error(
            `UNEXPECTED ${k.label} at T+${fmt(onsetMs)}: ${r.result} ${r.gate ?? ''} ${r.reason}`,
          );
        }
      }
      const measured = latencies.length
        ? `${fmt(Math.min(...latencies))} – ${fmt(Math.max(...latencies))}`
        : '—';
      rows.push([
        k.label,
        k.gate,
        `${fmt(claim.worstCaseMs)}${claim.undetectedFromMs !== null ? ` (missed from T+${fmt(claim.undetectedFromMs)})` : ''}`,
        measured,
        `${latencies.length}/${ONSETS.length}${misses.length ? ` (missed as claimed: ${misses.map((m) => `T+${fmt(m)}`).join(', ')})` : ''}`,
        latencies.every((l) => claim.worstCaseMs !== null && l <= claim.worstCaseMs) ? 'yes' : 'NO',
      ]);
    }

    const sourceClaim =
      config.policy.cadence.sentinelIntervalMs * (config.policy.sourceErrors.maxConsecutive + 1);
    const sourceRows: string[][] = [];
    for (const fault of ['down', '500', 'hang', 'garbage', 'vanish'] as const) {
      const r = await runCase(target, { fault, onsetMs: 10 * M + 7 * S, noise: true });
      const ok = r.result === 'violated' && r.latencyMs! <= sourceClaim;
      if (!ok) bad++;
      sourceRows.push([
        `metrics ${fault} from T+10m7s`,
        `exit ${r.exitCode} ${r.result}`,
        `${fmt(r.latencyMs)} (claim ${fmt(sourceClaim)})`,
        r.reason.slice(0, 110),
      ]);
    }
    for (const mapping of ['label-value', 'metric-name', 'gauge-name'] as const) {
      const r = await runCase(target, { fault: 'ratio', onsetMs: 10 * M, mapping });
      if (r.exitCode !== 2) bad++;
      sourceRows.push([
        `mapping mismatch: ${mapping}`,
        `exit ${r.exitCode} ${r.result}`,
        'before the watch',
        r.reason.replace(/\s+/g, ' ').slice(0, 110),
      ]);
    }

    let falseViolations = 0;
    const healthyStarted = Date.now();
    for (let seed = 1; seed <= 20; seed++) {
      const blipAtMs = (5 + ((seed * 7919) % 50)) * M + ((seed * 131) % 60) * S;
      const r = await runCase(target, { fault: 'none', noise: true, seed, blipAtMs });
      if (r.result !== 'passed') {
        falseViolations++;
        console.error(`FALSE VIOLATION seed ${seed}: ${r.result} ${r.gate ?? ''} ${r.reason}`);
      }
    }
    if (falseViolations) bad++;

    console.log(
      '\nMonitor fault matrix — claimed (detection analysis) vs measured (real monitor vs separate target)\n',
    );
    console.log(
      '| failure | gate | claimed worst case | measured (min – max) | confirmed | measured ≤ claimed |',
    );
    console.log('|---|---|---|---|---|---|');
    for (const r of rows) console.log(`| ${r.join(' | ')} |`);
    console.log('\n| source fault / mismatch | outcome | detection | reason |');
    console.log('|---|---|---|---|');
    for (const r of sourceRows) console.log(`| ${r.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`);
    console.log(
      `\nHealthy noisy windows (jittered latency 20 ms–1.5 s, a single 5xx now and then — about 6 an hour, at least 2 min apart — and a 20 s restart blip that resets the counters): 20 × 60 min, false violations: ${falseViolations} (${((Date.now() - healthyStarted) / 1000).toFixed(1)} s)`,
    );
    console.log(
      `Reference: the recorded poll cadence with suspicion polling but no sentinel checks — ${Object.values(
        analyseDetection(config, { sentinels: false }),
      )
        .map((d) => `${d.gate} ${fmt(d.worstCaseMs)}`)
        .join(', ')}`,
    );
    console.log(
      `Total ${((Date.now() - started) / 1000).toFixed(1)} s; ${bad ? `${bad} FAILURES` : 'every claim held'}`,
    );
  } finally {
    await target.stop();
  }
  process.exitCode = bad ? 1 : 0;
}

await main();
