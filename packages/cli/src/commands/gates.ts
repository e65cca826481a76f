// `guarded-rollout gates check`: validate a quality-gates config and show, per gate, its limit and
// the worst-case time to detect a hard failure — what an SRE needs to judge the thresholds.
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { formatDuration } from '@guarded-rollout/config';
import {
  analyseDetection,
  describeBaselineLimit,
  describeCadence,
  describeLimit,
  loadGatesConfig,
  planBaselineGate,
} from '@guarded-rollout/gates';
import { ConfigError } from '@guarded-rollout/config';
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
    .option(
      '--traffic-rate <rps>',
      'requests per second, for what baseline gates can detect (default: analysis.requests_per_second)',
    )
    .option('--baseline-rate <fraction>', 'assumed baseline failure ratio for baseline ratio gates', '0.01')
    .action(
      (options: {
        env: string;
        config: string;
        json?: boolean;
        trafficRate?: string;
        baselineRate: string;
      }) => {
        const file = resolve(ctx.cwd, options.config);
        const config = loadGatesConfig(file, options.env);
        const positive = (text: string, field: string, max = Infinity): number => {
          const value = Number(text);
          if (!Number.isFinite(value) || value <= 0 || value > max)
            throw new ConfigError(
              `${field}: ${JSON.stringify(text)} is not a number in (0, ${max === Infinity ? '∞' : max}]`,
              { field },
            );
          return value;
        };
        const rate =
          options.trafficRate === undefined
            ? config.policy.analysis.requestsPerSecond
            : positive(options.trafficRate, '--traffic-rate');
        const baselineRate = positive(options.baselineRate, '--baseline-rate', 1);
        const plans = (config.baselineGates ?? []).map((g) =>
          planBaselineGate(g, config.policy, { requestsPerSecond: rate, baselineRate }),
        );
        const plain = analyseDetection(config, { suspicion: false });
        const fast =
          config.policy.cadence.suspicionIntervalMs > 0
            ? analyseDetection(config, { suspicion: true })
            : undefined;
        if (options.json) {
          ctx.stdout(
            `${JSON.stringify({ environment: config.environment, policy: config.policy, gates: config.gates, detection: plain, detectionWithSuspicion: fast, ...(plans.length ? { baselineGates: config.baselineGates, baselinePlans: plans } : {}) }, null, 2)}\n`,
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
            [
              'gate',
              'kind',
              'trips when',
              'worst-case detection',
              ...(fast ? ['with suspicion polling'] : []),
            ],
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
        if (plans.length) {
          ctx.stdout(
            `\nBaseline gates at ${rate} requests/s (sequential test; false alarms ≤ α however often polled):\n`,
          );
          for (const [i, p] of plans.entries()) {
            ctx.stdout(
              `- ${p.gate}: ${describeBaselineLimit(config.baselineGates![i]!)}\n    ${p.summary}\n    assuming ${p.assumption}\n`,
            );
          }
        }
      },
    );
}
