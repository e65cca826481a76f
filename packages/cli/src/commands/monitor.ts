// `guarded-rollout monitor`: the post-deploy watch from a terminal. Same options object and same
// function (watchDeployment) as the monitor-gates action. Exit 0 passed, 1 violated/cancelled/
// error, 2 bad usage or configuration.
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ConfigError, durationProblem, formatDuration, tryParseDuration } from '@guarded-rollout/config';
import {
  assertPreflight,
  checkTimeScale,
  loadMonitorSources,
  preflight,
  chooseRollback,
  packageNotifier,
  loadBaselineFile,
  watchDeployment,
  type MigrationSafety,
} from '@guarded-rollout/monitor';
import type { CliContext } from '../context.js';
import { withCancellation } from '../cancel.js';
import { explicitFlags, renderSettings, resolveSettings, withDefault } from '../settings.js';
import { keepPreviousOf } from './rollback.js';

interface MonitorFlags {
  env: string;
  rolloutConfig?: string;
  printConfig?: boolean;
  config: string;
  sources?: string;
  healthUrl?: string;
  metricsUrl?: string;
  prometheusUrl?: string;
  jsonUrl?: string;
  baseline?: string;
  duration?: string;
  timeScale: string;
  autoRollback?: boolean;
  rollbackCommand?: string;
  backup?: string;
  backupDir: string;
  target?: string;
  restartCommand?: string;
  keepPrevious?: string;
  migrationSafety: string;
  suspicion: boolean;
  keepWatching?: boolean;
  out: string;
  fallbackDir: string;
  notify: boolean;
  deadline?: string;
  json?: boolean;
  check?: boolean;
}

function duration(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = tryParseDuration(value);
  if (ms === undefined) throw new ConfigError(durationProblem(flag, value), { field: flag });
  return ms;
}

export function registerMonitor(program: Command, ctx: CliContext): void {
  program
    .command('monitor')
    .description(
      'watch a deploy: poll health and metrics, evaluate the quality gates, roll back on violation',
    )
    .requiredOption('--env <env>', 'environment whose gates apply (e.g. production)')
    .option(
      '--config <file>',
      withDefault(
        'monitor',
        'config',
        'quality-gates config file (rollout config key: monitor.gates_config)',
      ),
    )
    .option(
      '--rollout-config <file>',
      'rollout config whose environments.<env>.monitor section supplies every option not given as a flag (default: $GUARDED_ROLLOUT_CONFIG, else guarded-rollout.config.json when present)',
    )
    .option('--sources <file>', 'JSON mapping of metrics to exposition series / PromQL / JSON paths')
    .option('--health-url <url>', 'health endpoint (HTTP GET; 2xx and JSON status ok)')
    .option('--metrics-url <url>', 'Prometheus text exposition to scrape (e.g. http://host/metrics)')
    .option('--prometheus-url <url>', 'Prometheus HTTP API base URL, queried with PromQL per gate')
    .option('--json-url <url>', 'JSON endpoint with one path per metric')
    .option('--baseline <file>', 'pre-deploy baseline for baseline gates (from `guarded-rollout baseline`)')
    .option('--duration <dur>', 'watch this long instead of the configured window (e.g. 15m)')
    .option(
      '--time-scale <n>',
      withDefault('monitor', 'timeScale', 'virtual seconds per real second, for drills and the demo'),
    )
    .option(
      '--auto-rollback',
      'run the rollback on a violation (with --target, its restore is dry-run before the first poll)',
    )
    .option('--backup <zip>', 'backup to restore on a violation: a zip, or "latest" (default with --target)')
    .option('--backup-dir <dir>', withDefault('monitor', 'backupDir', 'where "latest" looks'))
    .option(
      '--target <dir>',
      'live directory a violation restores the backup into (verified, all-or-nothing)',
    )
    .option('--restart-command <cmd>', 'run after the restore, before the 3 OK health checks')
    .option(
      '--keep-previous <n>',
      "with --target: keep at most N previous versions of it, the automatic rollback's included (older ones deleted, oldest first); default monitor.keep_previous, else keep all",
    )
    .option(
      '--rollback-command <cmd>',
      'shell command that restores the previous release (then 3 OK health checks)',
    )
    .option(
      '--migration-safety <safety>',
      withDefault('monitor', 'migrationSafety', 'reversible, or irreversible (never restore automatically)'),
    )
    .option('--no-suspicion', 'keep the regular cadence after a failed check')
    .option('--keep-watching', 'continue to the end of the window after a violation')
    .option('--out <dir>', withDefault('monitor', 'out', 'directory for the jsonl log, summary and reports'))
    .option(
      '--fallback-dir <dir>',
      withDefault('monitor', 'fallbackDir', 'where undelivered notifications are kept'),
    )
    .option('--no-notify', 'send no notifications')
    .option('--deadline <dur>', 'hard real-time limit for the whole run (default: window / time-scale + 2m)')
    .option('--json', 'print the summary as JSON at the end')
    .option(
      '--check',
      'pre-flight only: scrape each source once and check every selector and URL (exit 0 ok, 2 problems)',
    )
    .option('--print-config', 'print the resolved settings and where each came from; watch nothing')
    .action(async (given: MonitorFlags, command: Command) => {
      const resolved = resolveSettings(
        ctx,
        'monitor',
        given.env,
        explicitFlags(command),
        given.rolloutConfig,
      );
      if (given.printConfig) {
        ctx.stdout(renderSettings('monitor', resolved));
        return;
      }
      const flags = { ...given, ...resolved.values } as MonitorFlags;
      const timeScale = checkTimeScale(flags.timeScale, '--time-scale');
      if (flags.migrationSafety !== 'reversible' && flags.migrationSafety !== 'irreversible') {
        throw new ConfigError(
          `--migration-safety: ${JSON.stringify(flags.migrationSafety)} is not one of "reversible", "irreversible"`,
          { field: 'migration-safety' },
        );
      }
      const rollbackFor = (log: (line: string) => void) =>
        chooseRollback({
          environment: flags.env,
          backup: flags.backup,
          backupDir: resolve(ctx.cwd, flags.backupDir),
          target: flags.target ? resolve(ctx.cwd, flags.target) : undefined,
          restartCommand: flags.restartCommand,
          ...keepPreviousOf(flags.keepPrevious),
          rollbackCommand: flags.rollbackCommand,
          healthUrl: flags.healthUrl,
          cwd: ctx.cwd,
          log,
        });
      if (flags.check) {
        const rollback = rollbackFor(() => {});
        const result = await preflight({
          environment: flags.env,
          configFile: resolve(ctx.cwd, flags.config),
          ...(flags.sources ? { sources: loadMonitorSources(resolve(ctx.cwd, flags.sources)) } : {}),
          healthUrl: flags.healthUrl,
          metricsUrl: flags.metricsUrl,
          prometheusUrl: flags.prometheusUrl,
          jsonUrl: flags.jsonUrl,
          durationMs: duration(flags.duration, '--duration'),
          timeScale,
          autoRollback: flags.autoRollback ?? false,
          migrationSafety: flags.migrationSafety as MigrationSafety,
          rollbackConfigured: rollback !== undefined,
          ...(rollback?.check ? { rollbackCheck: rollback.check } : {}),
        });
        if (flags.json) ctx.stdout(`${JSON.stringify(result, null, 2)}\n`);
        else {
          for (const line of result.lines) ctx.stdout(`${line}\n`);
          for (const w of result.warnings) ctx.stdout(`warning: ${w}\n`);
          if (result.ok) ctx.stdout('pre-flight OK: every selector matched and every source answered\n');
        }
        assertPreflight(result);
        ctx.exitCode = 0;
        return;
      }
      const notifyAbort = new AbortController();
      const log = (line: string): void => ctx.stdout(`${line}\n`);
      const outcome = await withCancellation(
        ctx,
        (signal) =>
          watchDeployment({
            environment: flags.env,
            configFile: resolve(ctx.cwd, flags.config),
            ...(flags.sources ? { sourcesFile: resolve(ctx.cwd, flags.sources) } : {}),
            healthUrl: flags.healthUrl,
            metricsUrl: flags.metricsUrl,
            prometheusUrl: flags.prometheusUrl,
            jsonUrl: flags.jsonUrl,
            ...(flags.baseline ? { baseline: loadBaselineFile(resolve(ctx.cwd, flags.baseline)) } : {}),
            durationMs: duration(flags.duration, '--duration'),
            deadlineMs: duration(flags.deadline, '--deadline'),
            timeScale,
            suspicion: flags.suspicion,
            keepWatching: flags.keepWatching ?? false,
            autoRollback: flags.autoRollback ?? false,
            migrationSafety: flags.migrationSafety as MigrationSafety,
            ...(() => {
              const rollback = rollbackFor(log);
              return rollback ? { rollback } : {};
            })(),
            ...(flags.notify
              ? {
                  notify: packageNotifier({
                    environment: flags.env,
                    env: ctx.env,
                    fallbackDir: resolve(ctx.cwd, flags.fallbackDir),
                    signal: notifyAbort.signal,
                  }),
                  notifyAbort,
                }
              : {}),
            outDir: resolve(ctx.cwd, flags.out),
            signal,
            log: flags.json ? () => {} : log,
          }),
        'stopping the watch (result cancelled) and writing its log and reports',
      );
      const s = outcome.summary;
      if (flags.json) ctx.stdout(`${JSON.stringify(s, null, 2)}\n`);
      else {
        ctx.stdout(
          `\nresult: ${s.result} — ${s.reason} (T+${formatDuration(s.elapsedMs)}, ${s.polls} polls)\n`,
        );
        if (s.rollbackRequired)
          ctx.stdout(
            `rollback required${s.rollback ? `; rollback ${s.rollback.status}: ${s.rollback.detail}` : ' (run without --auto-rollback)'}\n`,
          );
        ctx.stdout(
          `log: ${s.log}\nsummary: ${s.reports.summary}\nreport: ${s.reports.markdown} · ${s.reports.html}\n`,
        );
      }
      ctx.exitCode = s.result === 'passed' ? 0 : 1;
    });
}
