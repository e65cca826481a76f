// The monitor's trail on disk: monitor_logs/<env>_<UTC ts>.jsonl with a header line (the resolved
// gates, so a replay needs nothing else) and one line per poll, appended as it happens so a
// killed run still leaves its record; and <env>_<ts>.summary.json at the end.
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatDuration, TOOL_VERSION } from '@guarded-rollout/config';
import type { BaselineSnapshot, EnvironmentGates } from '@guarded-rollout/gates';
import type { PollRecord } from './loop.js';

export function compactTimestamp(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
}

export interface LogHeader {
  record: 'header';
  tool: string;
  version: string;
  environment: string;
  config: string;
  started: string;
  timeScale: number;
  suspicion: boolean;
  provider: string;
  policy: EnvironmentGates['policy'];
  gates: EnvironmentGates['gates'];
  /** Baseline gates and the pre-deploy baseline they compared against, so a replay can re-run them. */
  baselineGates?: EnvironmentGates['baselineGates'];
  baseline?: BaselineSnapshot;
}

export interface PollLine {
  record: 'poll';
  time: string;
  elapsed_ms: number;
  elapsed: string;
  /** "poll" (the recorded cadence) or "sentinel" (a check between polls); absent in older logs. */
  check?: PollRecord['kind'];
  health: PollRecord['reading']['health'] | null;
  metrics: PollRecord['reading']['metrics'];
  gates: Record<
    string,
    { status: string; value: number | null; limit: number; suspicious: boolean; reason: string }
  >;
  suspicious: boolean;
}

export class MonitorRecorder {
  readonly logPath: string;
  readonly summaryPath: string;
  readonly base: string;

  constructor(
    readonly dir: string,
    environment: string,
    started: Date,
  ) {
    mkdirSync(dir, { recursive: true });
    this.base = join(dir, `${environment}_${compactTimestamp(started)}`);
    this.logPath = `${this.base}.jsonl`;
    this.summaryPath = `${this.base}.summary.json`;
  }

  header(header: Omit<LogHeader, 'record' | 'tool' | 'version'>): void {
    writeFileSync(
      this.logPath,
      `${JSON.stringify({ record: 'header', tool: 'guarded-rollout', version: TOOL_VERSION, ...header })}\n`,
    );
  }

  poll(poll: PollRecord): void {
    const line: PollLine = {
      record: 'poll',
      time: poll.time,
      elapsed_ms: poll.at,
      elapsed: `T+${formatDuration(poll.at)}`,
      check: poll.kind,
      health: poll.reading.health ?? null,
      metrics: poll.reading.metrics,
      gates: Object.fromEntries(
        poll.results.map((r) => [
          r.gate,
          {
            status: r.status,
            value: r.value,
            limit: r.threshold,
            suspicious: r.suspicious,
            reason: r.reason,
          },
        ]),
      ),
      suspicious: poll.suspicious,
    };
    appendFileSync(this.logPath, `${JSON.stringify(line)}\n`);
  }

  summary(summary: unknown): void {
    writeFileSync(this.summaryPath, `${JSON.stringify(summary, null, 2)}\n`);
  }
}
