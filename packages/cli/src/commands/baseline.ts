// `guarded-rollout baseline`: records the pre-deploy baseline of the environment's baseline gates
// (a Prometheus range query over the period just ended, or scrapes of the service's /metrics
// through the period) into a JSON file that `monitor --baseline FILE` compares the new release
// with. Run it just before the deploy. Exit 0 recorded, 2 on bad input or too little data.
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ConfigError, durationProblem, tryParseDuration } from '@guarded-rollout/config';
import { BaselineError } from '@guarded-rollout/gates';
import { checkTimeScale, loadGatesFrom, loadMonitorSources, recordBaseline } from '@guarded-rollout/monitor';
import type { CliContext } from '../context.js';
import { withCancellation } from '../cancel.js';
import { DEFAULT_GATES_CONFIG } from './gates.js';

export function registerBaseline(program: Command, ctx: CliContext): void {
  program
    .command('baseline')
    .description("record the pre-deploy baseline of the environment's baseline gates (run before deploying)")
    .requiredOption('--env <env>', 'environment whose baseline gates to record')
    .option('--config <file>', 'quality-gates config file', DEFAULT_GATES_CONFIG)
    .option('--sources <file>', 'JSON mapping of metrics to exposition series / PromQL')
    .option('--metrics-url <url>', 'Prometheus text exposition to scrape through the baseline period')
    .option('--prometheus-url <url>', 'Prometheus HTTP API: one range query over the period just ended')
    .option('--period <dur>', "baseline period (default: the gates' baseline_period, 15m)")
    .option('--interval <dur>', 'scrape interval for --metrics-url', '30s')
    .option('--time-scale <n>', 'virtual seconds per real second, for drills and the demo', '1')
    .option('--out <file>', 'where to write the baseline JSON', 'baseline.json')
    .action(
      async (flags: {
        env: string;
        config: string;
        sources?: string;
        metricsUrl?: string;
        prometheusUrl?: string;
        period?: string;
        interval: string;
        timeScale: string;
        out: string;
      }) => {
        const config = loadGatesFrom(resolve(ctx.cwd, flags.config), flags.env);
        const gates = config.baselineGates ?? [];
        if (!gates.length)
          throw new ConfigError(
            `environment ${flags.env} has no gates of kind "baseline"; nothing to record`,
            {
              file: flags.config,
            },
          );
        if (!flags.metricsUrl === !flags.prometheusUrl)
          throw new ConfigError('give exactly one of --metrics-url or --prometheus-url', {
            field: 'metrics-url',
          });
        const ms = (value: string | undefined, field: string): number | undefined => {
          if (value === undefined) return undefined;
          const parsed = tryParseDuration(value);
          if (parsed === undefined || parsed <= 0)
            throw new ConfigError(durationProblem(field, value), { field });
          return parsed;
        };
        try {
          const snapshot = await withCancellation(
            ctx,
            (signal) =>
              recordBaseline({
                gates,
                ...(flags.metricsUrl ? { metricsUrl: flags.metricsUrl } : {}),
                ...(flags.prometheusUrl ? { prometheusUrl: flags.prometheusUrl } : {}),
                ...(flags.sources ? { sources: loadMonitorSources(resolve(ctx.cwd, flags.sources)) } : {}),
                ...(flags.period ? { periodMs: ms(flags.period, '--period') } : {}),
                intervalMs: ms(flags.interval, '--interval')!,
                timeScale: checkTimeScale(flags.timeScale, '--time-scale'),
                outFile: resolve(ctx.cwd, flags.out),
                signal,
                log: (line) => ctx.stdout(`${line}\n`),
              }),
            'stopping the recording',
          );
          ctx.stdout(`baseline recorded (${snapshot.source}) → ${flags.out}\n`);
        } catch (error) {
          if (error instanceof BaselineError) throw new ConfigError(error.message, { field: 'baseline' });
          throw error;
        }
      },
    );
}
