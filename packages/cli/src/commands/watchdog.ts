// `guarded-rollout watchdog`: the scheduled dead-man's switch for deploys. Marks deployments left
// in progress past the monitor window as `error` and exits 1 when it found any, so the scheduled
// workflow can notify. Token and API URL come from the environment, as on a runner.
import type { Command } from 'commander';
import { UsageError } from '@guarded-rollout/config';
import {
  DEFAULT_LOOKBACK,
  DEFAULT_STALE_AFTER,
  renderWatchdogReport,
  runWatchdog,
} from '@guarded-rollout/watchdog';
import type { CliContext } from '../context.js';

interface WatchdogFlags {
  repo?: string;
  env: string[];
  staleAfter: string;
  lookback: string;
  logUrl?: string;
  dryRun?: boolean;
  json?: boolean;
}

export function registerWatchdog(program: Command, ctx: CliContext): void {
  program
    .command('watchdog')
    .description(
      'mark GitHub deployments left in progress past the monitor window (runner lost, job killed) as error',
    )
    .option('--repo <owner/repo>', 'repository (default: $GITHUB_REPOSITORY)')
    .option(
      '--env <env>',
      'only this environment (repeatable; default: all)',
      (v: string, all: string[]) => [...all, v],
      [],
    )
    .option(
      '--stale-after <duration>',
      'silence after which a running deployment is abandoned',
      DEFAULT_STALE_AFTER,
    )
    .option('--lookback <duration>', 'how far back to look at deployments', DEFAULT_LOOKBACK)
    .option('--log-url <url>', 'link recorded on the error status (e.g. the watchdog run)')
    .option('--dry-run', 'report stuck deployments without marking them')
    .option('--json', 'print the report as JSON')
    .action(async (flags: WatchdogFlags) => {
      const repository = flags.repo ?? ctx.env.GITHUB_REPOSITORY;
      if (!repository) throw new UsageError('watchdog: give --repo OWNER/REPO (or set GITHUB_REPOSITORY)');
      const report = await runWatchdog({
        repository,
        token: ctx.env.GITHUB_TOKEN ?? ctx.env.GH_TOKEN ?? '',
        apiUrl: ctx.env.GITHUB_API_URL,
        environments: flags.env,
        staleAfter: flags.staleAfter,
        lookback: flags.lookback,
        logUrl: flags.logUrl,
        dryRun: flags.dryRun === true,
        now: ctx.now,
      });
      ctx.stdout(flags.json ? `${JSON.stringify(report, null, 2)}\n` : renderWatchdogReport(report));
      // 1 = the checked thing failed: a deploy was abandoned (or could not be marked).
      if (report.stale.length > 0) ctx.exitCode = 1;
    });
}
