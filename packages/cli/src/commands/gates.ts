// `guarded-rollout gates check`: validate a quality-gates config and show, per gate, its limit and
// the worst-case time to detect a hard failure — what an SRE needs to judge the thresholds.
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { formatDuration } from '@guarded-rollout/config';
import { analyseDetection, describeCadence, describeLimit, loadGatesConfig } from '@guarded-rollout/gates';
import type { CliContext } from '../context.js';
import { renderTable } from '../table.js';

export const DEFAULT_GATES_CONFIG = 'quality-gates-config.json';

export function registerGates(program: Command, ctx: CliContext): void {
  const gates = program.command('gates').description('validate and analyse quality-gate configuration');
  gates
    .command('check')
    .description(
      'validate a quality-gates config and print each gate, its limit and worst-case detection time',
    )
    .requiredOption('--env <env>', 'environment to resolve (e.g. production)')
    .option('--config <file>', 'quality-gates config file', DEFAULT_GATES_CONFIG)
    .option('--json', 'print the analysis as JSON')
    .action((options: { env: string; config: string; json?: boolean }) => {
      const file = resolve(ctx.cwd, options.config);
      const config = loadGatesConfig(file, options.env);
      const plain = analyseDetection(config, { suspicion: false });
      const fast =
        config.policy.cadence.suspicionIntervalMs > 0
          ? analyseDetection(config, { suspicion: true })
          : undefined;
      if (options.json) {
        ctx.stdout(
          `${JSON.stringify({ environment: config.environment, policy: config.policy, gates: config.gates, detection: plain, detectionWithSuspicion: fast }, null, 2)}\n`,
        );
        return;
      }
      const when = (ms: number | null): string => (ms === null ? 'never' : formatDuration(ms));
      ctx.stdout(`Quality gates for ${config.environment} (${options.config}): valid\n`);
      ctx.stdout(
        `Polling ${describeCadence(config.policy, formatDuration)}; escalations at ${config.policy.escalationsMs.map((m) => `T+${formatDuration(m)}`).join(', ') || 'none'}; final report at T+${formatDuration(config.policy.windowMs)}\n\n`,
      );
      const rows = config.gates.map((gate, i) => {
        const d = plain[i]!;
        const s = fast?.[i];
        return [
          gate.name,
          gate.kind,
          describeLimit(gate),
          `${when(d.worstCaseMs)}${d.worstOnsetMs !== null ? ` (onset just after T+${formatDuration(d.worstOnsetMs)})` : ''}`,
          ...(fast ? [when(s!.worstCaseMs)] : []),
        ];
      });
      ctx.stdout(
        renderTable(
          ['gate', 'kind', 'trips when', 'worst-case detection', ...(fast ? ['with suspicion polling'] : [])],
          rows,
        ),
      );
      ctx.stdout('\nHard failure simulated per gate, and what each gate can never catch:\n');
      for (const [i, d] of plain.entries()) {
        const fastMiss = fast?.[i]?.undetectedFromMs;
        const withSuspicion =
          fast === undefined || fastMiss === d.undetectedFromMs
            ? ''
            : fastMiss === null || fastMiss === undefined
              ? ' Suspicion polling catches it.'
              : ` With suspicion polling only a failure starting after T+${formatDuration(fastMiss)} is missed.`;
        const late =
          d.undetectedFromMs !== null
            ? ` A failure starting after T+${formatDuration(d.undetectedFromMs)} is not confirmed before the window closes.${withSuspicion}`
            : '';
        ctx.stdout(`- ${d.gate}: ${d.failure}. Blind spot: ${d.blindSpot}.${late}\n`);
      }
    });
}
