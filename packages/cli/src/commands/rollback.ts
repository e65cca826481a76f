// `guarded-rollout rollback`: verified, all-or-nothing restore of a backup into a target
// directory, then restart, 3 consecutive OK health checks and smoke. The doorway onto
// @guarded-rollout/archive's restoreBackup (the rollback action calls the same).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { CheckFailedError, ConfigError, releasePathProblem } from '@guarded-rollout/config';

import {
  assertEnvironmentName,
  holdYoungGeneration,
  KEEP_PREVIOUS_MAX,
  runRollback,
  type RollbackOptions,
} from '@guarded-rollout/archive';
import type { CliContext } from '../context.js';
import { withCancellation } from '../cancel.js';
import { explicitFlags, renderSettings, resolveSettings, withDefault } from '../settings.js';
import { parseDurationFlag, parseIntegerFlag } from './backup.js';

export interface RollbackFlags {
  env: string;
  config?: string;
  allowUnverified?: boolean;
  releasePath?: string[];
  printConfig?: boolean;
  backup?: string;
  latest?: boolean;
  backupRunId?: string;
  latestArtifact?: boolean;
  repo?: string;
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
  keepPrevious?: string;
  force?: boolean;
  dryRun?: boolean;
  json?: boolean;
}

/** --keep-previous of every restore doorway (rollback, guarded-deploy, monitor): a flag, an env
 *  var or the config's keep_previous (a number then). */
export function keepPreviousOf(value: string | number | undefined): { keepPrevious?: number } {
  return value === undefined
    ? {}
    : { keepPrevious: parseIntegerFlag('--keep-previous', String(value), 1, KEEP_PREVIOUS_MAX)! };
}

/** Turns flags into the options object the rollback action builds from its inputs. */
export function rollbackOptionsFromFlags(flags: RollbackFlags, ctx: CliContext): RollbackOptions {
  const environment = assertEnvironmentName(flags.env, '--env');
  if (!flags.target)
    throw new ConfigError(
      `--target: required (the live directory the backup replaces); give --target DIR or set environments.${environment}.rollback.target in guarded-rollout.config.json`,
      { field: '--target' },
    );
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
  for (const path of flags.releasePath ?? []) {
    const problem = releasePathProblem(path);
    if (problem)
      throw new ConfigError(`--release-path: ${JSON.stringify(path)} ${problem}`, {
        field: '--release-path',
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
    ...keepPreviousOf(flags.keepPrevious),
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
    allowUnverified: !!flags.allowUnverified,
    ...(flags.releasePath?.length ? { releasePaths: flags.releasePath } : {}),
  };
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function registerRollback(program: Command, ctx: CliContext): void {
  program
    .command('rollback')
    .description(
      'verify a backup, restore it into --target atomically (previous tree kept), restart, require consecutive OK health checks',
    )
    .requiredOption('--env <env>', 'environment being restored (must match the backup unless --force)')
    .option(
      '--config <file>',
      'rollout config whose environments.<env>.rollback section supplies every option not given as a flag (default: $GUARDED_ROLLOUT_CONFIG, else guarded-rollout.config.json when present)',
    )
    .option('--backup <zip>', 'the backup to restore')
    .option('--latest', 'restore the newest complete backup of --env from --out')
    .option('--out <dir>', withDefault('rollback', 'out', 'backup directory searched by --latest'))
    .option('--prefix <name>', withDefault('rollback', 'prefix', 'backup file name prefix'))
    .option(
      '--target <dir>',
      "directory holding the backup's roots; only those are replaced (previous versions kept in <dir>/.guarded-rollout/pre-rollback/<UTC>); default: rollback.target",
    )
    .option('--restart-command <cmd>', 'shell command run after the swap (restart the service)')
    .option(
      '--restart-timeout <duration>',
      withDefault('rollback', 'restartTimeout', 'time limit of the restart command'),
    )
    .option(
      '--health-url <url>',
      'URL that must answer 2xx for --health-checks consecutive checks; without it the outcome is restored-unverified',
    )
    .option('--health-checks <n>', withDefault('rollback', 'healthChecks', 'consecutive OK checks required'))
    .option(
      '--health-interval <duration>',
      withDefault('rollback', 'healthInterval', 'pause between health checks'),
    )
    .option(
      '--health-timeout <duration>',
      withDefault('rollback', 'healthTimeout', 'time limit of one health check (a timeout is a failure)'),
    )
    .option(
      '--health-deadline <duration>',
      withDefault('rollback', 'healthDeadline', 'overall time limit for reaching the streak'),
    )
    .option('--smoke-command <cmd>', 'shell command run after the health checks pass')
    .option(
      '--smoke-timeout <duration>',
      withDefault('rollback', 'smokeTimeout', 'time limit of the smoke command'),
    )
    .option('--max-entries <n>', 'refuse archives with more entries (default 10000000)')
    .option(
      '--max-bytes <n>',
      'refuse archives that expand to more bytes (default: no cap beyond the free disk)',
    )
    .option(
      '--max-ratio <n>',
      'ignored (no ratio cap: sizes come from the verified manifest); kept for old scripts',
    )
    .option(
      '--log-dir <dir>',
      withDefault('rollback', 'logDir', 'where rollback.log / rollback-dryrun.log are written'),
    )
    .option(
      '--keep-previous <n>',
      "keep at most N previous versions of the target, this rollback's included: older ones in <target>/.guarded-rollout/pre-rollback/ are deleted, oldest first, once the swap is done (before staging only when the free space is short, so their space counts; never for a rollback that fails); default rollback.keep_previous, else keep all",
    )
    .option(
      '--release-path <path>',
      'what the live-tree check compares, relative to --target (repeatable; default: rollback.release_paths, else the whole target)',
      collect,
    )
    .option(
      '--allow-unverified',
      'accept restored-unverified (no health check ran) as success in production (elsewhere it already exits 0)',
    )
    .option(
      '--force',
      'restore even when the live tree changed since the last deploy (files modified or added by hand are replaced; previous versions are kept) or the backup belongs to another environment; never skips an integrity check',
    )
    .option(
      '--dry-run',
      'verify the backup fully and write rollback-dryrun.log with the plan; change nothing',
    )
    .option(
      '--backup-run-id <id>',
      'restore the backup artifact uploaded by this workflow run (guarded-rollout-backup-<env>-run<id>-attempt<n>); needs GITHUB_TOKEN with actions:read',
    )
    .option('--latest-artifact', 'restore the newest backup artifact of --env in --repo')
    .option('--repo <owner/name>', 'repository holding the backup artifacts (default: GITHUB_REPOSITORY)')
    .option('--json', 'print the result as JSON')
    .option('--print-config', 'print the resolved settings and where each came from; restore nothing')
    .action(async (given: RollbackFlags, command: Command) => {
      holdYoungGeneration(); // this process reads a backup's tables: ~30 MiB less at peak
      const environment = assertEnvironmentName(given.env, '--env');
      const resolved = resolveSettings(ctx, 'rollback', environment, explicitFlags(command), given.config);
      if (given.printConfig) {
        ctx.stdout(renderSettings('rollback', resolved));
        return;
      }
      const flags = { ...given, ...resolved.values } as RollbackFlags;
      // Ctrl-C or SIGTERM: while the artifact is fetched, or before the swap, nothing changes;
      // after it, the restart, health checks and smoke stop (status failed, with how to undo); the
      // swap itself always completes.
      const result = await withCancellation(
        ctx,
        async (signal) => {
          if (flags.backupRunId !== undefined || flags.latestArtifact) {
            // The backup of a workflow run, or the newest of the environment, from GitHub's artifacts:
            // downloaded and verified, then restored like a local backup.
            if (flags.backup || flags.latest)
              throw new ConfigError('give --backup/--latest or --backup-run-id/--latest-artifact, not both', {
                field: '--backup-run-id',
              });
            if (flags.backupRunId !== undefined && !/^[1-9]\d{0,15}$/.test(flags.backupRunId))
              throw new ConfigError(
                `--backup-run-id: ${JSON.stringify(flags.backupRunId)} is not a workflow run id`,
                {
                  field: '--backup-run-id',
                },
              );
            const { BackupFetchCancelledError, fetchBackup, githubAccessFromEnv } =
              await import('@guarded-rollout/backup-store');
            const access = githubAccessFromEnv(ctx.env.GITHUB_TOKEN, {
              ...ctx.env,
              ...(flags.repo ? { GITHUB_REPOSITORY: flags.repo } : {}),
            });
            const destDir = mkdtempSync(join(tmpdir(), 'guarded-rollout-backup-'));
            const fetched = await fetchBackup({
              environment,
              ...(flags.backupRunId ? { runId: Number(flags.backupRunId) } : {}),
              github: access,
              destDir,
              signal,
            }).catch((error: unknown) => {
              if (error instanceof BackupFetchCancelledError) {
                // The abandoned download's partial files: nothing reads them (the process exits).
                rmSync(destDir, { recursive: true, force: true });
                throw new CheckFailedError(`rollback refused: ${error.message}`);
              }
              throw error;
            });
            ctx.stderr(`downloaded and verified ${fetched.artifact.name} (id ${fetched.artifact.id})\n`);
            flags.backup = fetched.backupPath;
          }
          return runRollback({
            ...rollbackOptionsFromFlags(flags, ctx),
            signal,
            onProgress: (line) => ctx.stderr(`${line}\n`),
          });
        },
        'stopping the rollback (a swap already begun is finished first)',
      );
      if (flags.json) {
        // The restored tree's table is the record's input, not output: its roots are shown.
        const { restored, ...shown } = result;
        ctx.stdout(
          `${JSON.stringify({ ...shown, ...(restored ? { restoredRoots: restored.roots } : {}) }, null, 2)}\n`,
        );
      } else {
        ctx.stdout(
          [
            `status: ${result.status}`,
            `restored-from: ${result.restoredFrom}`,
            `verified: ${result.verified}`,
            `health-checks-ok: ${result.healthChecksOk}`,
            `summary: ${result.message}`,
            ...(result.previousTree ? [`previous-tree: ${result.previousTree}`] : []),
            `log: ${result.logPath}`,
          ].join('\n') + '\n',
        );
      }
      if (result.status === 'refused' || result.status === 'failed')
        throw new CheckFailedError(`rollback ${result.status}: ${result.message}`);
      if (result.failed)
        throw new CheckFailedError(
          `rollback restored-unverified in ${environment}: no health check ran, so nothing shows the service works; give --health-url (or rollback.health_url in the rollout config), or --allow-unverified to accept it`,
        );
      if (result.status === 'restored-unverified')
        ctx.stderr('warning: restored-unverified: no health check ran (give --health-url)\n');
    });
}
