// `guarded-rollout deploy` and `guarded-rollout migrate`: the operator's doorway onto runDeploy /
// runMigrate, with the environment's settings from the rollout config and flags on top. Also the
// shared plumbing of the rollout commands (config lookup, GitHub target, cancellation on signals).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { ConfigError } from '@guarded-rollout/config';
import {
  archiveBackupProvider,
  defaultRolloutEnvironment,
  deployOptionsFrom,
  DEFAULT_ROLLOUT_CONFIG,
  GitHubDeploymentRecorder,
  githubTargetFromEnv,
  loadRolloutConfig,
  runDeploy,
  runMigrate,
  type BackupProvider,
  type DeployOverrides,
  type DeployResult,
  type RolloutEnvironment,
} from '@guarded-rollout/deploy';
import { recordDeployedTree } from '@guarded-rollout/archive';
import type { CliContext } from '../context.js';
import { withCancellation } from '../cancel.js';
import { resolveSettings, rolloutConfigFile } from '../settings.js';

/** The environment's rollout config: --config if given (must exist), else $GUARDED_ROLLOUT_CONFIG, else the default file if present. */
export function rolloutEnvironment(
  ctx: CliContext,
  env: string,
  config: string | undefined,
): RolloutEnvironment {
  const file = rolloutConfigFile(ctx, config);
  if (file === undefined) return defaultRolloutEnvironment(env, ctx.cwd);
  return loadRolloutConfig(file, env);
}

/** The backup taken by --backup-first: the environment's `backup` settings through the archive package. */
export function backupProvider(
  ctx: CliContext,
  config: RolloutEnvironment,
  version: string | undefined,
  commit: string | undefined,
): BackupProvider {
  return archiveBackupProvider(config.environment, config.backup, { version, commit, now: ctx.now });
}

interface DeployFlags {
  env: string;
  config?: string;
  ref?: string;
  release?: string;
  type?: string;
  command?: string;
  migrateCommand?: string;
  timeout?: string;
  migrateTimeout?: string;
  killGrace?: string;
  backupFirst?: boolean;
  dryRun?: boolean;
  dryRunFlag?: string;
  workingDirectory?: string;
  migrationSafety?: string;
  logDir?: string;
  environmentUrl?: string;
  logUrl?: string;
  github?: boolean;
}

/** The commit checked out in `cwd`, so a laptop deploy records a ref GitHub knows. */
function gitHead(cwd: string): string | undefined {
  const git = spawnSync('git', ['rev-parse', 'HEAD'], { cwd, encoding: 'utf8', timeout: 5000 });
  return git.status === 0 ? git.stdout.trim() : undefined;
}

function overrides(flags: DeployFlags, ctx: CliContext): DeployOverrides {
  return {
    ref: flags.ref ?? ctx.env.GITHUB_SHA ?? gitHead(ctx.cwd),
    version: flags.release,
    type: flags.type,
    command: flags.command,
    migrateCommand: flags.migrateCommand,
    timeout: flags.timeout,
    migrateTimeout: flags.migrateTimeout,
    killGrace: flags.killGrace,
    dryRun: flags.dryRun ?? false,
    dryRunFlag: flags.dryRunFlag,
    workingDirectory: flags.workingDirectory,
    migrationSafety: flags.migrationSafety,
    backupFirst: flags.backupFirst,
    logDir: flags.logDir,
    environmentUrl: flags.environmentUrl,
    logUrl: flags.logUrl,
  };
}

const flagName = (field: string): string => `--${field}`;

/** Runs a deploy for the CLI (also used by quick-deploy) and prints its outcome. */
export async function deployFromCli(ctx: CliContext, flags: DeployFlags): Promise<DeployResult> {
  const config = rolloutEnvironment(ctx, flags.env, flags.config);
  const settings = deployOptionsFrom(config, overrides(flags, ctx), flagName, ctx.cwd);
  // The live tree a rollback will compare against (rollback.target of the same environment).
  const rollback = resolveSettings(ctx, 'rollback', flags.env, {}, flags.config).values;
  const target = flags.github === false ? undefined : githubTargetFromEnv(ctx.env);
  if (target && target.apiUrl && !/^https?:\/\//.test(target.apiUrl)) {
    throw new ConfigError(`GITHUB_API_URL: ${JSON.stringify(target.apiUrl)} is not an http(s) URL`, {
      field: 'GITHUB_API_URL',
    });
  }
  const result = await withCancellation(ctx, (signal) =>
    runDeploy({
      ...settings,
      baseEnv: ctx.env,
      recorder: target
        ? new GitHubDeploymentRecorder({ ...target, log: (m) => ctx.stderr(`${m}\n`) })
        : undefined,
      backup: backupProvider(ctx, config, settings.version, settings.ref),
      signal,
      now: ctx.now,
      onLine: (line) => ctx.stdout(`${line}\n`),
    }),
  );
  let treeRecord: string | undefined;
  if (
    result.status === 'succeeded' &&
    !result.dryRun &&
    typeof rollback.target === 'string' &&
    existsSync(rollback.target)
  ) {
    treeRecord = recordDeployedTree(rollback.target, {
      environment: config.environment,
      ...(settings.version ? { version: settings.version } : {}),
      ...(settings.ref ? { commit: settings.ref } : {}),
      ...(Array.isArray(rollback.releasePath) ? { paths: rollback.releasePath as string[] } : {}),
      now: ctx.now,
    });
  }
  ctx.stdout(
    [
      '',
      `deploy ${result.status}${result.dryRun ? ' (dry-run)' : ''}: ${result.summary}`,
      ...(treeRecord ? [`deployed-tree record: ${treeRecord}`] : []),
      `log: ${result.logPath}`,
      `migration-safety: ${result.migrationSafety}`,
      ...(result.deploymentId !== undefined ? [`github-deployment: ${result.deploymentId}`] : []),
      ...(result.backupPath ? [`backup: ${result.backupPath}`] : []),
      ...result.githubProblems.map((p) => `warning: ${p}`),
      '',
    ].join('\n'),
  );
  return result;
}

function commonOptions(command: Command): Command {
  return command
    .requiredOption('--env <env>', 'environment to deploy (a key of environments in the rollout config)')
    .option('--config <file>', `rollout config file (default: ${DEFAULT_ROLLOUT_CONFIG} when present)`)
    .option(
      '--timeout <duration>',
      'per-command timeout, e.g. 10m (then SIGTERM to the tree, SIGKILL after the grace)',
    )
    .option('--migrate-timeout <duration>', 'timeout of the migrate command (default: --timeout)')
    .option('--kill-grace <duration>', 'time between SIGTERM and SIGKILL (default 10s)')
    .option(
      '--dry-run',
      'pass the dry-run flag to the commands, write *-dryrun.log, record nothing on GitHub',
    )
    .option('--dry-run-flag <flag>', 'argument appended to the commands in dry-run (default --dry-run)')
    .option('--working-directory <dir>', 'directory the commands run in')
    .option('--migration-safety <kind>', 'reversible, expand-only or irreversible')
    .option('--log-dir <dir>', 'where the logs go (default: current directory)')
    .option(
      '--ref <ref>',
      'git ref recorded on the GitHub Deployment (default: $GITHUB_SHA, else the checked-out commit)',
    )
    .option(
      '--release <version>',
      "release version recorded in the deployment payload (--version is the CLI's own)",
    )
    .option('--type <type>', 'deployment type: standard, hotfix or rollback', 'standard');
}

export function registerDeploy(program: Command, ctx: CliContext): void {
  commonOptions(
    program
      .command('deploy')
      .description(
        'run the migrate and deploy commands with timeouts, write deploy.log, record a GitHub Deployment when GITHUB_TOKEN and GITHUB_REPOSITORY are set',
      ),
  )
    .option('--command <cmd>', 'deploy command (default: deploy.command of the environment)')
    .option('--migrate-command <cmd>', 'migrate command run first (default: deploy.migrate_command)')
    .option('--backup-first', 'take a verified backup before anything changes')
    .option('--environment-url <url>', 'URL of the deployed environment, shown on GitHub')
    .option('--log-url <url>', 'URL of this run, shown on GitHub')
    .option('--no-github', 'do not record a GitHub Deployment even when a token is set')
    .action(async (flags: DeployFlags) => {
      const result = await deployFromCli(ctx, flags);
      if (result.status !== 'succeeded') ctx.exitCode = 1;
    });

  commonOptions(
    program
      .command('migrate')
      .description(
        'run only the migrate command with its timeout; writes migrate.log (migrate-dryrun.log in dry-run)',
      ),
  )
    .option('--command <cmd>', 'migrate command (default: deploy.migrate_command of the environment)')
    .action(async (flags: DeployFlags) => {
      const config = rolloutEnvironment(ctx, flags.env, flags.config);
      const settings = deployOptionsFrom(
        config,
        { ...overrides(flags, ctx), command: undefined, migrateCommand: flags.command },
        flagName,
        ctx.cwd,
      );
      const result = await withCancellation(ctx, (signal) =>
        runMigrate({
          ...settings,
          baseEnv: ctx.env,
          signal,
          now: ctx.now,
          onLine: (line) => ctx.stdout(`${line}\n`),
        }),
      );
      ctx.stdout(
        `\nmigrate ${result.status}${result.dryRun ? ' (dry-run)' : ''}: ${result.summary}\nlog: ${result.logPath}\nmigration-safety: ${result.migrationSafety}\n`,
      );
      if (result.status !== 'succeeded' && result.status !== 'skipped') ctx.exitCode = 1;
    });
}
