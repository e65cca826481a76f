import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { analyseDetection, parseGatesConfig } from '../src/index.js';

const shipped = readFileSync(
  new URL('../../../action-templates/quality-gates-config.json', import.meta.url),
  'utf8',
);
const production = parseGatesConfig(shipped, 'production');
const byGate = (list: ReturnType<typeof analyseDetection>) =>
  Object.fromEntries(list.map((d) => [d.gate, d]));

describe('worst-case detection latency (production defaults)', () => {
  const plain = byGate(analyseDetection(production, { suspicion: false }));
  const fast = byGate(analyseDetection(production, { suspicion: true }));

  it('health down just after a 120 s poll needs three more polls: 6 minutes', () => {
    expect(plain.health).toMatchObject({ worstCaseMs: 360_000, worstOnsetMs: 300_000 });
  });

  it('suspicion polling confirms health down in 2m30s (one slow poll, then two at 15 s)', () => {
    expect(fast.health!.worstCaseMs).toBe(150_000);
  });

  it('a failure starting after T+57m is not confirmed within the window without suspicion polling', () => {
    expect(plain.health!.undetectedFromMs).toBe(3_420_000);
    expect(fast.health!.undetectedFromMs).toBe(3_540_000);
  });

  it.each(['extraction_failure_rate', 'p95_hash_time', 'low_confidence_queue'])(
    '%s trips at the first 120 s poll after a hard failure',
    (gate) => {
      expect(plain[gate]!.worstCaseMs).toBe(120_000);
      expect(plain[gate]!.undetectedFromMs).toBeNull();
    },
  );

  it('names the blind spot of each gate', () => {
    expect(plain.extraction_failure_rate!.blindSpot).toBe(
      'a sustained failure rate at or below 5% never trips it',
    );
    expect(plain.p95_hash_time!.blindSpot).toContain('no more than 5% of requests are slow');
    expect(plain.health!.blindSpot).toContain('flapping');
  });

  it('follows the configured cadence: 60 s polling halves the worst case', () => {
    const tuned = parseGatesConfig(
      shipped.replace(
        '"environments": {',
        '"environments": {\n    "fast": { "cadence": { "interval": "60s", "suspicion_interval": "0s" } },',
      ),
      'fast',
    );
    const d = byGate(analyseDetection(tuned));
    expect(d.health!.worstCaseMs).toBe(180_000);
    expect(d.extraction_failure_rate!.worstCaseMs).toBe(60_000);
  });

  it('respects min_events: with little traffic the ratio gate waits for enough events', () => {
    const quiet = parseGatesConfig(
      shipped.replace(
        '"environments": {',
        '"environments": {\n    "quiet": { "analysis": { "requests_per_second": 0.05 }, "gates": { "extraction_failure_rate": { "min_events": 20 } } },',
      ),
      'quiet',
    );
    // 0.05 req/s = 3 per minute: 20 events take more than 6 minutes to accumulate.
    expect(byGate(analyseDetection(quiet)).extraction_failure_rate!.worstCaseMs).toBeGreaterThan(360_000);
  });
});
