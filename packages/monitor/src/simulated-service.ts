// A deterministic model of the DHash service in virtual time, rendered as the Prometheus text
// exposition the real one serves, so scenario tests and the benchmark drive the real provider
// translation and the real engine under a fake clock.
import type { Reading } from '@guarded-rollout/gates';
import { parseExposition, readSeries } from './providers/exposition.js';
import { DHASH_METRICS, parseSelector } from './sources.js';

export type FaultKind =
  | 'healthy'
  | 'dying-health'
  | 'failing-extractions'
  | 'slow-hashing'
  | 'growing-queue'
  | 'flapping-health'
  | 'metrics-outage';

export interface SimOptions {
  fault: FaultKind;
  onsetMs: number;
  rps?: number;
  /** Share of extractions failing once the fault is on. */
  failFraction?: number;
  /** Queue items added per second once the fault is on. */
  queueGrowthPerSecond?: number;
}

const BOUNDS = [5, 10, 25, 50, 100, 250, 500, 1000, 2000, 2500, 5000, 10000];

export class SimulatedService {
  readonly rps: number;
  constructor(readonly o: SimOptions) {
    this.rps = o.rps ?? 2;
  }
  active(t: number): boolean {
    return this.o.fault !== 'healthy' && t >= this.o.onsetMs;
  }
  /** Requests completed in (0, t]. */
  total(t: number): number {
    return Math.floor((t / 1000) * this.rps);
  }
  /** Requests completed after the onset, up to t. */
  afterOnset(t: number): number {
    return this.active(t) ? this.total(t) - this.total(this.o.onsetMs) : 0;
  }
  failed(t: number): number {
    if (this.o.fault !== 'failing-extractions') return 0;
    return Math.floor(this.afterOnset(t) * (this.o.failFraction ?? 1));
  }
  slow(t: number): number {
    return this.o.fault === 'slow-hashing' ? this.afterOnset(t) : 0;
  }
  queue(t: number): number {
    if (this.o.fault !== 'growing-queue' || !this.active(t)) return 3;
    return 3 + Math.floor(((t - this.o.onsetMs) / 1000) * (this.o.queueGrowthPerSecond ?? 2));
  }
  healthOk(t: number): boolean {
    if (this.o.fault === 'dying-health') return !this.active(t);
    // Flapping: two failed checks, one good one, over and over — never three in a row.
    if (this.o.fault === 'flapping-health') return !this.active(t) || this.flap++ % 3 === 2;
    return true;
  }
  private flap = 0;

  exposition(t: number): string {
    const total = this.total(t);
    const failed = this.failed(t);
    const slow = this.slow(t);
    const fast = total - slow;
    const lines = [
      '# HELP dhash_extractions_total Hash extractions by result.',
      '# TYPE dhash_extractions_total counter',
      `dhash_extractions_total{result="ok"} ${total - failed}`,
      `dhash_extractions_total{result="failed"} ${failed}`,
      '# TYPE dhash_hash_duration_seconds histogram',
    ];
    // Fast requests take 4 ms, slow ones 2.6 s.
    for (const le of BOUNDS)
      lines.push(
        `dhash_hash_duration_seconds_bucket{le="${le / 1000}"} ${(le >= 4 ? fast : 0) + (le >= 2600 ? slow : 0)}`,
      );
    lines.push(`dhash_hash_duration_seconds_bucket{le="+Inf"} ${total}`);
    lines.push(`dhash_hash_duration_seconds_sum ${(fast * 0.004 + slow * 2.6).toFixed(3)}`);
    lines.push(`dhash_hash_duration_seconds_count ${total}`);
    lines.push(
      '# TYPE dhash_low_confidence_queue_length gauge',
      `dhash_low_confidence_queue_length ${this.queue(t)}`,
    );
    return `${lines.join('\n')}\n`;
  }

  /** The monitor's sampler for this service. */
  sample = async (at: number): Promise<Reading> => {
    const health = this.healthOk(at)
      ? { ok: true as const, detail: 'HTTP 200' }
      : { ok: false as const, detail: 'HTTP 503' };
    const selectors = Object.entries(DHASH_METRICS).map(([k, v]) => [k, parseSelector(v, k)] as const);
    if (this.o.fault === 'metrics-outage' && this.active(at)) {
      return {
        at,
        health,
        metrics: Object.fromEntries(
          selectors.map(([k]) => [
            k,
            { type: 'error' as const, error: 'metrics scrape failed: connection refused' },
          ]),
        ),
      };
    }
    const families = parseExposition(this.exposition(at));
    return {
      at,
      health,
      metrics: Object.fromEntries(selectors.map(([k, s]) => [k, readSeries(families, s)])),
    };
  };
}
