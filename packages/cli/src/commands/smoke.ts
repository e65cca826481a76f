// `guarded-rollout smoke --env ENV --tier critical|all`: the environment's smoke checks, written to
// postdeploy-smoketests.log; exit 1 when any check of the tier fails.
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ConfigError } from '@guarded-rollout/config';
import { runSmokeTests, SMOKE_RUN_TIERS, type SmokeReport, type SmokeTier } from '@guarded-rollout/deploy';
import { withCancellation } from '../cancel.js';
import type { CliContext } from '../context.js';
import { rolloutEnvironment } from './deploy.js';

export interface SmokeFlags {
  env: string;
  tier: string;
  config?: string;
  baseUrl?: string;
  logDir?: string;
}

export async function smokeFromCli(ctx: CliContext, flags: SmokeFlags): Promise<SmokeReport> {
  if (!(SMOKE_RUN_TIERS as readonly string[]).includes(flags.tier)) {
    throw new ConfigError(`--tier: ${JSON.stringify(flags.tier)} is not one of "critical", "all"`, {
      field: 'tier',
    });
  }
  const config = rolloutEnvironment(ctx, flags.env, flags.config);
  const report = await withCancellation(
    ctx,
    (signal) =>
      runSmokeTests({
        environment: config.environment,
        checks: config.smoke.checks,
        tier: flags.tier as SmokeTier,
        baseUrl: flags.baseUrl ?? config.smoke.baseUrl,
        logDir: resolve(ctx.cwd, flags.logDir ?? config.deploy.logDir ?? '.'),
        now: ctx.now,
        onLine: (line) => ctx.stdout(`${line}\n`),
        signal,
      }),
    'stopping the smoke checks and recording what ran',
  );
  const verdict = report.cancelled ? 'CANCELLED' : report.passed ? 'passed' : 'FAILED';
  ctx.stdout(`\nsmoke ${verdict}: ${report.summary}\nlog: ${report.logPath}\n`);
  return report;
}

export function registerSmoke(program: Command, ctx: CliContext): void {
  program
    .command('smoke')
    .description(
      'run the smoke checks of an environment (critical only, or all) and write postdeploy-smoketests.log',
    )
    .requiredOption('--env <env>', 'environment whose smoke checks to run')
    .requiredOption('--tier <tier>', 'critical (critical checks only) or all')
    .option('--config <file>', 'rollout config file (default: guarded-rollout.config.json)')
    .option('--base-url <url>', 'base URL for relative check URLs (default: smoke.base_url)')
    .option('--log-dir <dir>', 'where postdeploy-smoketests.log goes (default: current directory)')
    .action(async (flags: SmokeFlags) => {
      const report = await smokeFromCli(ctx, flags);
      if (!report.passed) ctx.exitCode = 1;
    });
}
