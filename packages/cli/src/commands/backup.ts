// `guarded-rollout backup` and `guarded-rollout latest-backup`: the operator's doorway onto
// @guarded-rollout/archive's createBackup / findLatestBackup (the backup action calls the same).
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { ConfigError, durationProblem, tryParseDuration } from '@guarded-rollout/config';
import {
  BackupIntegrityError,
  assertEnvironmentName,
  assertKeep,
  checksumName,
  createBackup,
  findLatestBackup,
  formatBytes,
  noBackupMessage,
} from '@guarded-rollout/archive';
import type { CliContext } from '../context.js';
import { withCancellation } from '../cancel.js';
import { explicitFlags, renderSettings, resolveSettings, withDefault } from '../settings.js';

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function parseDurationFlag(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = tryParseDuration(value);
  if (ms === undefined) throw new ConfigError(durationProblem(flag, value), { field: flag });
  return ms;
}

export function parseIntegerFlag(
  flag: string,
  value: string | undefined,
  min: number,
  max: number,
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`${flag}: ${JSON.stringify(value)} is not a whole number from ${min} to ${max}`, {
      field: flag,
    });
  }
  return n;
}

interface BackupFlags {
  env: string;
  config?: string;
  path: string[];
  baseDir?: string;
  out: string;
  prefix: string;
  dumpCommand?: string;
  dumpTimeout?: string;
  keep?: string;
  releaseVersion?: string;
  commit?: string;
  compressionLevel?: string;
  dryRun?: boolean;
  json?: boolean;
  printConfig?: boolean;
}

const CONFIG_HELP =
  'rollout config whose environments.<env>.backup section supplies every option not given as a flag (default: $GUARDED_ROLLOUT_CONFIG, else guarded-rollout.config.json when present)';

export function registerBackup(program: Command, ctx: CliContext): void {
  program
    .command('backup')
    .description(
      'write backups/<prefix>_<env>_<UTC>.zip with a manifest, then its .sha256 (streamed, verified, atomic)',
    )
    .requiredOption('--env <env>', 'environment the backup belongs to (e.g. production)')
    .option('--config <file>', CONFIG_HELP)
    .option(
      '--path <path>',
      'file, directory or glob to include, relative to --base-dir (repeatable; default: backup.paths of the rollout config)',
      collect,
      [],
    )
    .option(
      '--base-dir <dir>',
      "archive paths are stored relative to this directory (default: backup.base_dir, else the rollout config's directory)",
    )
    .option('--out <dir>', withDefault('backup', 'out', 'output directory'))
    .option('--prefix <name>', withDefault('backup', 'prefix', 'backup file name prefix'))
    .option(
      '--dump-command <cmd>',
      'shell command run first; files it writes into $GUARDED_ROLLOUT_DUMP_DIR are included under _dump/',
    )
    .option(
      '--dump-timeout <duration>',
      withDefault('backup', 'dumpTimeout', 'time limit of the dump command'),
    )
    .option('--keep <n>', 'keep the newest N backups of this environment; delete older ones')
    .option('--release-version <version>', 'release version recorded in the manifest')
    .option('--commit <sha>', 'commit recorded in the manifest (default: $GITHUB_SHA)')
    .option(
      '--compression-level <0-9>',
      withDefault(
        'backup',
        'compressionLevel',
        '0 stores everything; 1-9 deflates compressible files (random-looking data is always stored)',
      ),
    )
    .option(
      '--dry-run',
      'write backup-dryrun.log (what would be included, sizes, free disk) and change nothing',
    )
    .option('--json', 'print the result as JSON')
    .option('--print-config', 'print the resolved settings and where each came from; back up nothing')
    .action(async (given: BackupFlags, command: Command) => {
      const environment = assertEnvironmentName(given.env, '--env');
      const resolved = resolveSettings(ctx, 'backup', environment, explicitFlags(command), given.config);
      if (given.printConfig) {
        ctx.stdout(renderSettings('backup', resolved));
        return;
      }
      const flags = { ...given, ...resolved.values } as BackupFlags;
      const fromFile = resolved.settings.find((s) => s.key === 'paths')?.source === 'file';
      const paths = flags.path?.length ? flags.path : flags.baseDir ? ['.'] : [];
      if (paths.length === 0)
        throw new ConfigError(
          `--path: nothing to back up; give --path (repeatable) or --base-dir, or set environments.${environment}.backup.paths in ${resolved.file ?? 'guarded-rollout.config.json'}`,
          { field: '--path' },
        );
      // Paths from the config file are relative to its directory unless base_dir says otherwise.
      if (fromFile && !flags.baseDir && resolved.file) flags.baseDir = dirname(resolved.file);
      // Ctrl-C or SIGTERM stops it at the next file or 1 MiB piece: no partial archive is left.
      const result = await withCancellation(
        ctx,
        (signal) =>
          createBackup({
            signal,
            environment,
            paths,
            cwd: ctx.cwd,
            outDir: flags.out,
            prefix: flags.prefix,
            ...(flags.baseDir ? { baseDir: flags.baseDir } : {}),
            ...(flags.dumpCommand
              ? {
                  dumpCommand: flags.dumpCommand,
                  dumpTimeoutMs: parseDurationFlag('--dump-timeout', flags.dumpTimeout)!,
                }
              : {}),
            ...(flags.keep !== undefined ? { keep: assertKeep(flags.keep, '--keep') } : {}),
            ...(flags.releaseVersion ? { version: flags.releaseVersion } : {}),
            ...((flags.commit ?? ctx.env.GITHUB_SHA) ? { commit: flags.commit ?? ctx.env.GITHUB_SHA! } : {}),
            compressionLevel: parseIntegerFlag('--compression-level', flags.compressionLevel, 0, 9)!,
            dryRun: !!flags.dryRun,
            now: ctx.now,
          }),
        'stopping the backup',
      );
      // Leftovers of interrupted runs that were swept or repaired first: one line each.
      for (const note of result.notes) ctx.stderr(`note: ${note}\n`);
      if (flags.json) {
        ctx.stdout(`${JSON.stringify(result, null, 2)}\n`);
      } else if (result.dryRun) {
        ctx.stdout(
          `dry-run: would write ${result.backupPath} (${result.fileCount} files, ${formatBytes(result.totalBytes)}); see ${result.logPath}\n`,
        );
      } else {
        ctx.stdout(
          [
            `backup-path: ${result.backupPath}`,
            `sha256: ${result.sha256}`,
            `sha256-path: ${result.sha256Path}`,
            `size-bytes: ${result.sizeBytes}`,
            `file-count: ${result.fileCount}`,
            ...result.deleted.map((d) => `deleted (retention): ${d}`),
          ].join('\n') + '\n',
        );
      }
      if (result.dryRun && result.dryRunStatus !== 'pass') ctx.exitCode = 1;
    });

  program
    .command('latest-backup')
    .description('print the newest complete backup (zip with its .sha256) of one environment')
    .requiredOption('--env <env>', 'environment (e.g. production)')
    .option('--config <file>', CONFIG_HELP)
    .option('--out <dir>', withDefault('latest-backup', 'out', 'backup directory'))
    .option('--prefix <name>', withDefault('latest-backup', 'prefix', 'backup file name prefix'))
    .action((given: { env: string; config?: string }, command: Command) => {
      const environment = assertEnvironmentName(given.env, '--env');
      const resolved = resolveSettings(
        ctx,
        'latest-backup',
        environment,
        explicitFlags(command),
        given.config,
      );
      const flags = resolved.values as { out: string; prefix: string };
      const dir = resolve(ctx.cwd, flags.out);
      const latest = findLatestBackup(dir, environment, flags.prefix);
      if (!latest) throw new BackupIntegrityError(noBackupMessage(dir, environment, flags.prefix));
      // Relative to the current directory when inside it, like the seed's `ls backups/...`.
      ctx.stdout(`${checksumName(latest, ctx.cwd)}\n`);
    });
}
