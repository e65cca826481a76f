// `guarded-rollout guarded-deploy`: the whole guarded deploy from a terminal — the same
// runGuardedDeploy the guarded-deploy action calls, with local pieces of the world (state in
// memory, plain log sections, Ctrl-C as the cancel, GitHub Deployments only when GITHUB_TOKEN and
// GITHUB_REPOSITORY are set). Exit 0 succeeded or dry-run, 1 any other outcome, 2 bad usage.
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ConfigError, tryParseDuration } from '@guarded-rollout/config';
import { deployOptionsFrom, GitHubDeploymentRecorder, githubTargetFromEnv } from '@guarded-rollout/deploy';
import { checkTimeScale, systemClock } from '@guarded-rollout/monitor';
import {
  consoleLog,
  MemoryState,
  packageRolloutNotifier,
  runGuardedDeploy,
  type GuardedDeployResult,
} from '@guarded-rollout/rollout';
import type { CliContext } from '../context.js';
import { withCancellation } from '../cancel.js';
import { rolloutEnvironment } from './deploy.js';
import { rollbackOptionsFromFlags, type RollbackFlags } from './rollback.js';
import { resolveSettings } from '../settings.js';

export interface GuardedDeployFlags {
  env: string;
  release: string;
  ref?: string;
  config?: string;
  gatesConfig: string;
  command?: string;
  migrateCommand?: string;
  healthUrl?: string;
  metricsUrl?: string;
  prometheusUrl?: string;
  duration?: string;
  timeScale: string;
  backupPaths?: string;
  backupBaseDir?: string;
  backupDir?: string;
  target?: string;
  restartCommand?: string;
  keepPrevious?: string;
  autoRollback: boolean;
  skipBackup?: boolean;
  dryRun?: boolean;
  fallbackDir: string;
}

export async function guardedDeployFromCli(
  ctx: CliContext,
  flags: GuardedDeployFlags,
  signal: AbortSignal,
): Promise<GuardedDeployResult> {
  const at = (p: string): string => resolve(ctx.cwd, p);
  const config = rolloutEnvironment(ctx, flags.env, flags.config);
  const deploy = deployOptionsFrom(
    config,
    {
      version: flags.release,
      command: flags.command,
      migrateCommand: flags.migrateCommand,
      dryRun: flags.dryRun ?? false,
    },
    (field) => `--${field}`,
    ctx.cwd,
  );
  const durationMs = flags.duration === undefined ? undefined : tryParseDuration(flags.duration);
  if (flags.duration !== undefined && (durationMs === undefined || durationMs <= 0))
    throw new ConfigError(`--duration: ${JSON.stringify(flags.duration)} is not a duration such as 15m`, {
      field: 'duration',
    });
  // The automatic rollback is a rollback: the rollout config's rollback section (and its
  // GUARDED_ROLLOUT_ROLLBACK_* variables) sets its target, restart and smoke commands, health
  // checks, release paths and previous versions kept, as for `guarded-rollout rollback`; a flag
  // given here wins. (It was flags only: a restart_command set there was silently not run.)
  const rb = resolveSettings(ctx, 'rollback', flags.env, {}, flags.config).values as Partial<RollbackFlags>;
  const restore = rollbackOptionsFromFlags(
    {
      ...(rb as RollbackFlags),
      env: flags.env,
      latest: true,
      target: flags.target !== undefined ? at(flags.target) : (rb.target ?? at(config.backup.baseDir)),
      ...(flags.restartCommand !== undefined ? { restartCommand: flags.restartCommand } : {}),
      ...(flags.healthUrl !== undefined ? { healthUrl: flags.healthUrl } : {}),
      ...(flags.keepPrevious !== undefined ? { keepPrevious: flags.keepPrevious } : {}),
    },
    ctx,
  );
  const token = ctx.env.GITHUB_TOKEN;
  const target = token ? githubTargetFromEnv(ctx.env, token) : undefined;
  const log = consoleLog((line) => ctx.stdout(`${line}\n`));
  return runGuardedDeploy(
    {
      environment: config.environment,
      version: flags.release,
      ...(flags.ref ? { commit: flags.ref } : {}),
      type: 'standard',
      dryRun: flags.dryRun ?? false,
      skipBackup: flags.skipBackup ?? false,
      backup: {
        ...config.backup,
        ...(flags.backupPaths ? { paths: flags.backupPaths.split(',').map((p) => p.trim()) } : {}),
        ...(flags.backupBaseDir ? { baseDir: at(flags.backupBaseDir) } : {}),
        ...(flags.backupDir ? { outDir: at(flags.backupDir) } : {}),
      },
      deploy,
      smoke: { checks: config.smoke.checks, required: config.smoke.required, baseUrl: config.smoke.baseUrl },
      watch: {
        configFile: at(flags.gatesConfig),
        ...(flags.healthUrl ? { healthUrl: flags.healthUrl } : {}),
        ...(flags.metricsUrl ? { metricsUrl: flags.metricsUrl } : {}),
        ...(flags.prometheusUrl ? { prometheusUrl: flags.prometheusUrl } : {}),
        ...(durationMs !== undefined ? { durationMs } : {}),
        timeScale: checkTimeScale(flags.timeScale, '--time-scale'),
        outDir: at('monitor_logs'),
      },
      rollback: {
        auto: flags.autoRollback,
        target: restore.target,
        ...(restore.restartCommand ? { restartCommand: restore.restartCommand } : {}),
        ...(restore.restartTimeoutMs ? { restartTimeoutMs: restore.restartTimeoutMs } : {}),
        ...(restore.smokeCommand ? { smokeCommand: restore.smokeCommand } : {}),
        ...(restore.healthUrl ? { healthUrl: restore.healthUrl, health: restore.health! } : {}),
        ...(restore.keepPrevious ? { keepPrevious: restore.keepPrevious } : {}),
        ...(restore.releasePaths ? { releasePaths: restore.releasePaths } : {}),
      },
      ...(deploy.environmentUrl ? { environmentUrl: deploy.environmentUrl } : {}),
      cwd: ctx.cwd,
    },
    {
      state: new MemoryState(),
      ...(target ? { deployments: new GitHubDeploymentRecorder({ ...target, requestTimeoutMs: 5000 }) } : {}),
      notifier: packageRolloutNotifier({
        environment: config.environment,
        env: ctx.env,
        fallbackDir: at(flags.fallbackDir),
      }),
      signal,
      clock: systemClock,
      log,
    },
  );
}

export function registerGuardedDeploy(program: Command, ctx: CliContext): void {
  program
    .command('guarded-deploy')
    .description(
      'the whole guarded deploy (same function as the guarded-deploy action): backup, migrate, deploy, critical smoke, gated watch, automatic verified rollback, notifications',
    )
    .requiredOption('--env <env>', 'environment to deploy to')
    .requiredOption(
      '--release <version>',
      "release version: a tag or commit of the repository in the current directory (--version is the CLI's own)",
    )
    .option('--ref <sha>', 'the commit being deployed, when --version does not resolve to one')
    .option('--config <file>', 'rollout config file (default: guarded-rollout.config.json)')
    .option('--gates-config <file>', 'quality-gates config', 'quality-gates-config.json')
    .option('--command <command>', 'deploy command (default: deploy.command of the rollout config)')
    .option('--migrate-command <command>', 'migrate command (default: deploy.migrate_command)')
    .option(
      '--health-url <url>',
      'service health endpoint (watch and automatic rollback; the rollback falls back to rollback.health_url of the rollout config)',
    )
    .option('--metrics-url <url>', 'Prometheus exposition endpoint of the service')
    .option('--prometheus-url <url>', 'Prometheus server to query instead of --metrics-url')
    .option('--duration <duration>', 'watch this long instead of the configured window (e.g. 15m)')
    .option('--time-scale <n>', 'compress time (rehearsals only)', '1')
    .option(
      '--backup-paths <paths>',
      'comma-separated roots to back up (default: backup.paths of the rollout config)',
    )
    .option('--backup-base-dir <dir>', 'directory the backup paths are relative to')
    .option('--backup-dir <dir>', 'where backups are written')
    .option(
      '--target <dir>',
      'live directory the backup is restored into (default: rollback.target of the rollout config, else the backup base directory)',
    )
    .option(
      '--restart-command <command>',
      'restarts the service after a restore (default: rollback.restart_command of the rollout config; its restart_timeout, health_*, smoke_command and release_paths apply too)',
    )
    .option(
      '--keep-previous <n>',
      "automatic rollback: keep at most N previous versions of --target, the rollback's included (older ones deleted, oldest first); default rollback.keep_previous, else keep all",
    )
    .option('--no-auto-rollback', 'never restore automatically; escalate instead')
    .option('--skip-backup', 'deploy without a backup (refused for production)')
    .option('--dry-run', 'change nothing: dry-run every stage')
    .option(
      '--fallback-dir <dir>',
      'fallback file directory for undelivered notifications',
      'notify-fallback',
    )
    .action(async (flags: GuardedDeployFlags) => {
      // Ctrl-C (SIGINT) or SIGTERM cancels the running stage; the cancel is recorded like on a runner.
      const result = await withCancellation(
        ctx,
        (signal) => guardedDeployFromCli(ctx, flags, signal),
        'stopping the guarded deploy and recording the cancellation',
      );
      ctx.stdout(`\nguarded-deploy ${result.result} (stage ${result.stage}): ${result.message}\n`);
      for (const line of result.summary) ctx.stdout(`  - ${line}\n`);
      if (result.result === 'refused') ctx.exitCode = 2;
      else if (result.result !== 'succeeded' && result.result !== 'dry-run') ctx.exitCode = 1;
    });
}
