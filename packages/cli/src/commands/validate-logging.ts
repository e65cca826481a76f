// `guarded-rollout validate-logging --env ENV [--file F]`: checks the service's structured logs
// (fields, ISO-8601 timestamps, no secrets or PII) and writes test_logging.log; exit 1 on failure.
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ConfigError } from '@guarded-rollout/config';
import { validateLogging } from '@guarded-rollout/deploy';
import type { CliContext } from '../context.js';
import { rolloutEnvironment } from './deploy.js';

interface ValidateLoggingFlags {
  env: string;
  file?: string;
  command?: string;
  config?: string;
  minCoverage?: string;
  logDir?: string;
}

export function registerValidateLogging(program: Command, ctx: CliContext): void {
  program
    .command('validate-logging')
    .description(
      'check that the service emits structured JSON logs without secrets or PII; writes test_logging.log',
    )
    .requiredOption('--env <env>', 'environment whose logging settings to use')
    .option('--file <file>', 'log file to check (default: logging.file of the environment)')
    .option('--command <cmd>', 'command whose output is the logs (default: logging.command)')
    .option('--config <file>', 'rollout config file (default: guarded-rollout.config.json)')
    .option('--min-coverage <fraction>', 'share of lines that must be fully structured, 0..1 (default 0.95)')
    .option('--log-dir <dir>', 'where test_logging.log goes (default: current directory)')
    .action(async (flags: ValidateLoggingFlags) => {
      const config = rolloutEnvironment(ctx, flags.env, flags.config);
      let minCoverage = config.logging.minCoverage;
      if (flags.minCoverage !== undefined) {
        minCoverage = Number(flags.minCoverage);
        if (
          flags.minCoverage.trim() === '' ||
          !Number.isFinite(minCoverage) ||
          minCoverage < 0 ||
          minCoverage > 1
        ) {
          throw new ConfigError(
            `--min-coverage: ${JSON.stringify(flags.minCoverage)} is not a number between 0 and 1`,
            { field: 'min-coverage' },
          );
        }
      }
      const file =
        flags.file !== undefined
          ? resolve(ctx.cwd, flags.file)
          : flags.command !== undefined
            ? undefined
            : config.logging.file;
      const report = await validateLogging({
        environment: config.environment,
        file,
        command: file ? undefined : (flags.command ?? config.logging.command),
        commandTimeoutMs: config.logging.timeoutMs,
        cwd: config.deploy.workingDirectory,
        requiredFields: config.logging.requiredFields,
        minCoverage,
        logDir: resolve(ctx.cwd, flags.logDir ?? config.deploy.logDir ?? '.'),
        now: ctx.now,
      });
      const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
      ctx.stdout(
        `logging validation ${report.passed ? 'passed' : 'FAILED'} (${report.source}): ${report.summary}\n`,
      );
      ctx.stdout(
        `field coverage: ${Object.entries(report.fieldCoverage)
          .map(([f, c]) => `${f} ${pct(c)}`)
          .join(', ')}\n`,
      );
      for (const leak of report.leaks.slice(0, 20))
        ctx.stdout(`  line ${leak.line}: ${leak.kind} (value withheld)\n`);
      for (const p of report.problems.slice(0, 10)) ctx.stdout(`  line ${p.line}: ${p.problem}\n`);
      ctx.stdout(`log: ${report.logPath}\n`);
      if (!report.passed) ctx.exitCode = 1;
    });
}
