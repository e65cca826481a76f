// `guarded-rollout gates check`: validate a quality-gates config and show, per gate, its limit and
// how long it takes to confirm a hard failure and the weakest failure it can see — what an SRE needs
// to judge the thresholds.
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
        // What the monitor does (polls, sentinels, suspicion polling, fast burn), and for
        // comparison the recorded poll cadence alone.
        const live = analyseDetection(config);
        const pollsOnly = analyseDetection(config, { sentinels: false });
        if (options.json) {
          ctx.stdout(
            `${JSON.stringify({ environment: config.environment, policy: config.policy, gates: config.gates, detection: live, detectionPollsOnly: pollsOnly, ...(plans.length ? { baselineGates: config.baselineGates, baselinePlans: plans } : {}) }, null, 2)}\n`,
          );
          return;
        }
        const when = (ms: number | null): string => (ms === null ? 'never' : formatDuration(ms));
        const missed = (ms: number | null): string =>
          ms === null ? '' : `; missed from T+${formatDuration(ms)}`;
        ctx.stdout(`Quality gates for ${config.environment} (${options.config}): valid\n`);
        ctx.stdout(
          `Polling ${describeCadence(config.policy, formatDuration)}; escalations at ${config.policy.escalationsMs.map((m) => `T+${formatDuration(m)}`).join(', ') || 'none'}; final report at T+${formatDuration(config.policy.windowMs)}\n`,
        );
        ctx.stdout(
          "Detection simulated for every onset second through the monitor's own schedule (the weak failure every 5 s):\n\n",
        );
        const rows = config.gates.map((gate, i) => {
          const d = live[i]!;
          const p = pollsOnly[i]!;
          return [
            gate.name,
            describeLimit(gate),
            d.failure,
            `${when(d.worstCaseMs)}${d.worstOnsetMs !== null ? ` (onset T+${formatDuration(d.worstOnsetMs)})` : ''}`,
            when(p.worstCaseMs),
            d.weak.failure,
            `${when(d.weak.worstCaseMs)}${missed(d.weak.undetectedFromMs)}`,
          ];
        });
        ctx.stdout(
          renderTable(
            [
              'gate',
              'trips when',
              'hard failure',
              'confirmed within',
              'polls only',
              'weakest failure it sees',
              'confirmed within',
            ],
            rows,
          ),
        );
        ctx.stdout('\nWhat each gate can never catch, and late onsets:\n');
        for (const d of live) {
          const late =
            d.undetectedFromMs !== null
              ? ` A hard failure starting after T+${formatDuration(d.undetectedFromMs)} is not confirmed before the window closes.`
              : '';
          ctx.stdout(`- ${d.gate}: ${d.blindSpot}.${late}\n`);
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
