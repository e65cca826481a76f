// `guarded-rollout quick-deploy ENV [--skip-backup]`: the runbook's one-liner — a backup-first
// deploy, then the critical smoke tests. Skipping the backup in production needs --force.
import type { Command } from 'commander';
import { UsageError } from '@guarded-rollout/config';
import type { CliContext } from '../context.js';
import { deployFromCli } from './deploy.js';
import { smokeFromCli } from './smoke.js';

interface QuickDeployFlags {
  skipBackup?: boolean;
  force?: boolean;
  dryRun?: boolean;
  config?: string;
  release?: string;
  ref?: string;
  logDir?: string;
}

export function registerQuickDeploy(program: Command, ctx: CliContext): void {
  program
    .command('quick-deploy')
    .description('backup-first deploy of an environment, then its critical smoke tests')
    .argument('<env>', 'environment to deploy')
    .option('--skip-backup', 'deploy without a backup first (refused for production unless --force)')
    .option('--force', 'allow --skip-backup in production')
    .option(
      '--dry-run',
      'dry-run the deploy (no backup, no GitHub writes), then run the critical smoke tests',
    )
    .option('--config <file>', 'rollout config file (default: guarded-rollout.config.json)')
    .option(
      '--release <version>',
      "release version recorded in the deployment payload (--version is the CLI's own)",
    )
    .option('--ref <ref>', 'git ref recorded on the GitHub Deployment')
    .option('--log-dir <dir>', 'where the logs go (default: current directory)')
    .action(async (env: string, flags: QuickDeployFlags) => {
      if (flags.skipBackup && env === 'production' && !flags.force) {
        throw new UsageError(
          'quick-deploy: --skip-backup is refused for production; add --force if you really mean to deploy without a backup',
        );
      }
      const deploy = await deployFromCli(ctx, {
        env,
        config: flags.config,
        release: flags.release,
        ref: flags.ref,
        logDir: flags.logDir,
        dryRun: flags.dryRun,
        backupFirst: !flags.skipBackup,
      });
      if (deploy.status !== 'succeeded') {
        ctx.stderr(`quick-deploy: deploy ${deploy.status}; smoke tests not run\n`);
        ctx.exitCode = 1;
        return;
      }
      const smoke = await smokeFromCli(ctx, {
        env,
        tier: 'critical',
        config: flags.config,
        logDir: flags.logDir,
      });
      if (!smoke.passed) {
        ctx.stderr(
          'quick-deploy: critical smoke tests failed — consider `guarded-rollout rollback --env ' +
            env +
            ' --latest`\n',
        );
        ctx.exitCode = 1;
      }
    });
}
