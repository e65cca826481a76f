// `guarded-rollout rollback`: verified, all-or-nothing restore of a backup into a target
// directory, then restart, 3 consecutive OK health checks and smoke. The doorway onto
// @guarded-rollout/archive's restoreBackup (the rollback action calls the same).
import type { Command } from 'commander';
import { CheckFailedError, ConfigError } from '@guarded-rollout/config';
import {
  DEFAULT_OUT_DIR,
  DEFAULT_PREFIX,
  assertEnvironmentName,
  restoreBackup,
  type RestoreOptions,
} from '@guarded-rollout/archive';
import type { CliContext } from '../context.js';
import { parseDurationFlag, parseIntegerFlag } from './backup.js';

interface RollbackFlags {
  env: string;
  backup?: string;
  latest?: boolean;
  out: string;
  prefix: string;
  target?: string;
  restartCommand?: string;
  restartTimeout: string;
  healthUrl?: string;
  healthChecks: string;
  healthInterval: string;
  healthTimeout: string;
  healthDeadline: string;
  smokeCommand?: string;
  smokeTimeout: string;
  maxEntries?: string;
  maxBytes?: string;
  maxRatio?: string;
  logDir: string;
  force?: boolean;
  dryRun?: boolean;
  json?: boolean;
}

/** Turns flags into the options object the rollback action builds from its inputs. */
export function rollbackOptionsFromFlags(flags: RollbackFlags, ctx: CliContext): RestoreOptions {
  const environment = assertEnvironmentName(flags.env, '--env');
  if (!flags.target)
    throw new ConfigError('--target: required (the live directory the backup replaces)', {
      field: '--target',
    });
  if (flags.backup && flags.latest)
    throw new ConfigError('give either --backup ZIP or --latest, not both', { field: '--backup' });
  if (!flags.backup && !flags.latest)
    throw new ConfigError('choose the backup: --backup ZIP or --latest', { field: '--backup' });
  if (flags.healthUrl) {
    let url: URL | undefined;
    try {
      url = new URL(flags.healthUrl);
    } catch {
      url = undefined;
    }
    if (!url || !/^https?:$/.test(url.protocol))
      throw new ConfigError(`--health-url: ${JSON.stringify(flags.healthUrl)} is not an http(s) URL`, {
        field: '--health-url',
      });
  }
  const caps = {
    ...(flags.maxEntries !== undefined
      ? { maxEntries: parseIntegerFlag('--max-entries', flags.maxEntries, 1, 100_000_000)! }
      : {}),
    ...(flags.maxBytes !== undefined
      ? { maxTotalBytes: parseIntegerFlag('--max-bytes', flags.maxBytes, 1, Number.MAX_SAFE_INTEGER)! }
      : {}),
    ...(flags.maxRatio !== undefined
      ? { maxRatio: parseIntegerFlag('--max-ratio', flags.maxRatio, 1, 100_000)! }
      : {}),
  };
  return {
    environment,
    ...(flags.backup ? { backupPath: flags.backup } : { latest: true }),
    backupDir: flags.out,
    prefix: flags.prefix,
    target: flags.target,
    force: !!flags.force,
    dryRun: !!flags.dryRun,
    cwd: ctx.cwd,
    logDir: flags.logDir,
    now: ctx.now,
    caps,
    ...(flags.restartCommand ? { restartCommand: flags.restartCommand } : {}),
    restartTimeoutMs: parseDurationFlag('--restart-timeout', flags.restartTimeout)!,
    ...(flags.healthUrl ? { healthUrl: flags.healthUrl } : {}),
    health: {
      required: parseIntegerFlag('--health-checks', flags.healthChecks, 1, 100)!,
      intervalMs: parseDurationFlag('--health-interval', flags.healthInterval)!,
      timeoutMs: parseDurationFlag('--health-timeout', flags.healthTimeout)!,
      deadlineMs: parseDurationFlag('--health-deadline', flags.healthDeadline)!,
    },
    ...(flags.smokeCommand ? { smokeCommand: flags.smokeCommand } : {}),
    smokeTimeoutMs: parseDurationFlag('--smoke-timeout', flags.smokeTimeout)!,
  };
}

export function registerRollback(program: Command, ctx: CliContext): void {
  program
    .command('rollback')
    .description(
      'verify a backup, restore it into --target atomically (previous tree kept), restart, require consecutive OK health checks',
    )
    .requiredOption('--env <env>', 'environment being restored (must match the backup unless --force)')
    .option('--backup <zip>', 'the backup to restore')
    .option('--latest', 'restore the newest complete backup of --env from --out')
    .option('--out <dir>', 'backup directory searched by --latest', DEFAULT_OUT_DIR)
    .option('--prefix <name>', 'backup file name prefix', DEFAULT_PREFIX)
    .option(
      '--target <dir>',
      'directory holding the backup\'s roots; only those are replaced (previous versions kept in <dir>/.guarded-rollout/pre-rollback/<UTC>)',
    )
    .option('--restart-command <cmd>', 'shell command run after the swap (restart the service)')
    .option('--restart-timeout <duration>', 'time limit of the restart command', '2m')
    .option('--health-url <url>', 'URL that must answer 2xx for --health-checks consecutive checks')
    .option('--health-checks <n>', 'consecutive OK checks required', '3')
    .option('--health-interval <duration>', 'pause between health checks', '5s')
    .option('--health-timeout <duration>', 'time limit of one health check (a timeout is a failure)', '5s')
    .option('--health-deadline <duration>', 'overall time limit for reaching the streak', '2m')
    .option('--smoke-command <cmd>', 'shell command run after the health checks pass')
    .option('--smoke-timeout <duration>', 'time limit of the smoke command', '5m')
    .option('--max-entries <n>', 'refuse archives with more entries (zip-bomb cap; default 1000000)')
    .option('--max-bytes <n>', 'refuse archives that expand to more bytes (default 256 GiB)')
    .option('--max-ratio <n>', 'refuse entries over 1 MiB that expand more than N:1 (default 200)')
    .option('--log-dir <dir>', 'where rollback.log / rollback-dryrun.log are written', '.')
    .option(
      '--force',
      'restore a backup of another environment (skips confirmations, never integrity checks)',
    )
    .option(
      '--dry-run',
      'verify the backup fully and write rollback-dryrun.log with the plan; change nothing',
    )
    .option('--json', 'print the result as JSON')
    .action(async (flags: RollbackFlags) => {
      const result = await restoreBackup(rollbackOptionsFromFlags(flags, ctx));
      if (flags.json) ctx.stdout(`${JSON.stringify(result, null, 2)}\n`);
      else {
        ctx.stdout(
          [
            `status: ${result.status}`,
            `restored-from: ${result.restoredFrom}`,
            `verified: ${result.verified}`,
            `health-checks-ok: ${result.healthChecksOk}`,
            ...(result.previousTree ? [`previous-tree: ${result.previousTree}`] : []),
            `log: ${result.logPath}`,
          ].join('\n') + '\n',
        );
      }
      if (result.status === 'refused' || result.status === 'failed')
        throw new CheckFailedError(`rollback ${result.status}: ${result.message}`);
    });
}
