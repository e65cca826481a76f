// `guarded-rollout gates replay LOG.jsonl`: re-evaluates a recorded monitor run against other
// thresholds (or the recorded ones) and says whether and when they would have tripped.
// Exit 0 when nothing would trip, 1 when a gate would, 2 on bad input.
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { formatDuration } from '@guarded-rollout/config';
import { formatGateValue, loadGatesConfig } from '@guarded-rollout/gates';
import { readMonitorLog, replayLog } from '@guarded-rollout/monitor';
import type { CliContext } from '../context.js';
import { renderTable } from '../table.js';

export function registerGatesReplay(gates: Command, ctx: CliContext): void {
  gates
    .command('replay')
    .description('re-evaluate a recorded monitor log against a (different) gates config')
    .argument('<log>', 'monitor_logs/<env>_<ts>.jsonl')
    .option('--config <file>', 'quality-gates config to apply (default: the gates recorded in the log)')
    .option('--env <env>', "environment of --config to resolve (default: the log's environment)")
    .option('--json', 'print the replay as JSON')
    .action((logFile: string, options: { config?: string; env?: string; json?: boolean }) => {
      const log = readMonitorLog(resolve(ctx.cwd, logFile));
      const env = options.env ?? log.header.environment;
      const config = options.config ? loadGatesConfig(resolve(ctx.cwd, options.config), env) : undefined;
      const result = replayLog(log, config);
      ctx.exitCode = result.trippedMs === null ? 0 : 1;
      if (options.json) {
        ctx.stdout(`${JSON.stringify(result, null, 2)}\n`);
        return;
      }
      const when = (ms: number | null): string => (ms === null ? 'never' : `T+${formatDuration(ms)}`);
      const gateDefs = config?.gates ?? log.header.gates;
      ctx.stdout(
        `Replayed ${result.polls} checks (T+0 → T+${formatDuration(result.spanMs)}) of ${logFile} against ${options.config ? `${options.config} (${env})` : 'the recorded gates'}\n\n`,
      );
      ctx.stdout(
        renderTable(
          ['gate', 'would trip', 'value then', 'recorded run', 'checks judged differently', 'last verdict'],
          result.gates.map((g) => {
            // Baseline gates are not in the fixed-gate list; their values are shown in their unit.
            const def = gateDefs.find((d) => d.name === g.gate) ?? {
              kind: 'baseline' as const,
              unit: g.last?.unit ?? '',
            };
            return [
              g.gate,
              when(g.trippedMs),
              g.trippedMs === null ? '' : formatGateValue(def, g.valueAtTrip),
              when(g.recordedMs),
              String(g.differingChecks),
              g.last ? `${g.last.status}: ${g.last.reason}` : 'no data',
            ];
          }),
        ),
      );
      ctx.stdout(
        result.trippedMs === null
          ? '\nNo gate would have tripped.\n'
          : `\nFirst trip at T+${formatDuration(result.trippedMs)}.\n`,
      );
    });
}
