// `guarded-rollout notify`: announce an event on every configured channel (secrets from the
// environment under the PRODUCT.md names), the same sendNotification call the notify action makes.
// Exit 0 when nothing was lost to a fault, 1 with --fail-on-error when a channel was not delivered,
// 2 when the input or a channel's configuration is wrong (the other channels are still tried).
import { resolve } from 'node:path';
import { Command } from 'commander';
import { ConfigError, tryParseDuration, durationProblem } from '@guarded-rollout/config';
import {
  describeResult,
  EVENTS,
  CHANNELS,
  notificationRedactor,
  redactError,
  sendNotification,
} from '@guarded-rollout/notify';
import type { CliContext } from '../context.js';
import { withCancellation } from '../cancel.js';
import { explicitFlags, renderSettings, resolveSettings, withDefault } from '../settings.js';

interface NotifyFlags {
  event: string;
  env: string;
  config?: string;
  printConfig?: boolean;
  channel: string[];
  fallbackDir: string;
  details?: string;
  templateDir?: string;
  timeout: string;
  attemptTimeout: string;
  dryRun?: boolean;
  failOnError?: boolean;
  json?: boolean;
}

export function registerNotify(program: Command, ctx: CliContext): void {
  program
    .command('notify')
    .description(
      'announce a rollout event on Slack, Teams, Discord, email and a webhook; undelivered messages go to a fallback file',
    )
    .requiredOption('--event <event>', `event: ${EVENTS.join(', ')}`)
    .requiredOption('--env <env>', 'environment the event concerns (e.g. production)')
    .option(
      '--channel <channel>',
      `channel to try, repeatable (${CHANNELS.join(', ')}; default all configured)`,
      (v: string, prev: string[] = []) => [...prev, ...v.split(',')],
    )
    .option(
      '--config <file>',
      'rollout config whose environments.<env>.notify section supplies every option not given as a flag (default: $GUARDED_ROLLOUT_CONFIG, else guarded-rollout.config.json when present)',
    )
    .option(
      '--fallback-dir <dir>',
      withDefault('notify', 'fallbackDir', 'directory of the fallback file notifications.jsonl'),
    )
    .option(
      '--details <json>',
      'JSON object of event details (version, actor, runUrl, violatedGates, backup, ...)',
    )
    .option('--template-dir <dir>', 'directory of <event>.hbs templates replacing the shipped ones')
    .option(
      '--timeout <duration>',
      withDefault('notify', 'timeout', 'hard wall-clock budget for the whole call, retries included'),
    )
    .option(
      '--attempt-timeout <duration>',
      withDefault('notify', 'attemptTimeout', 'hard wall-clock limit of one delivery attempt'),
    )
    .option('--dry-run', 'render every channel payload and send nothing')
    .option('--fail-on-error', 'exit 1 when a configured channel was not delivered')
    .option('--json', 'print the result as JSON')
    .option('--print-config', 'print the resolved settings and where each came from; send nothing')
    .action(async (given: NotifyFlags, command: Command) => {
      const resolved = resolveSettings(ctx, 'notify', given.env, explicitFlags(command), given.config);
      if (given.printConfig) {
        ctx.stdout(renderSettings('notify', resolved));
        return;
      }
      const flags = { ...given, ...resolved.values } as NotifyFlags;
      flags.channel ??= [];
      let details: unknown = {};
      if (flags.details !== undefined) {
        try {
          details = JSON.parse(flags.details);
        } catch (error) {
          throw new ConfigError(`--details is not valid JSON: ${(error as Error).message}`, {
            field: 'details',
          });
        }
        if (details === null || typeof details !== 'object' || Array.isArray(details)) {
          throw new ConfigError('--details must be a JSON object like {"version":"1.4.2"}', {
            field: 'details',
          });
        }
      }
      const limit = (flag: string, value: string, example: string): number => {
        const ms = tryParseDuration(value);
        if (ms === undefined) throw new ConfigError(durationProblem(flag, value), { field: flag.slice(2) });
        if (ms <= 0)
          throw new ConfigError(`${flag} must be longer than 0 (e.g. ${example}); found "${value}"`, {
            field: flag.slice(2),
          });
        return ms;
      };
      const budgetMs = limit('--timeout', flags.timeout, '30s');
      const attemptTimeoutMs = limit('--attempt-timeout', flags.attemptTimeout, '10s');
      // Everything printed goes through redact: receivers' answers can echo a secret back.
      const redact = notificationRedactor({ env: ctx.env });
      const out = (text: string): void => ctx.stdout(redact(text));
      const err = (text: string): void => ctx.stderr(redact(text));
      // Ctrl-C (or a cancelled CI job) stops the sends; what was not delivered is still kept.
      const result = await withCancellation(
        ctx,
        (signal) =>
          sendNotification({
            signal,
            event: flags.event,
            environment: flags.env,
            details: details as Record<string, unknown>,
            channels: flags.channel,
            env: ctx.env,
            templateDir: flags.templateDir ? resolve(ctx.cwd, flags.templateDir) : undefined,
            fallbackDir: resolve(ctx.cwd, flags.fallbackDir),
            budgetMs,
            attemptTimeoutMs,
            dryRun: Boolean(flags.dryRun),
          }).catch((error: unknown) => {
            throw redactError(error, redact);
          }),
        'stopping the sends; what was not delivered is kept',
      );
      if (flags.json) {
        out(`${JSON.stringify(result, null, 2)}\n`);
      } else {
        out(
          `${result.dryRun ? '[dry-run] ' : ''}${result.title} (${result.event}, ${result.environment}, ref ${result.dedupeKey})\n`,
        );
        for (const line of describeResult(result)) out(`  ${line}\n`);
        if (result.dryRun) {
          for (const c of result.channels)
            out(`\n--- ${c.channel} payload ---\n${JSON.stringify(c.payload, null, 2)}\n`);
        }
        if (result.fallbackPath) out(`undelivered messages kept in ${result.fallbackPath}\n`);
      }
      if (result.fallbackError) err(`warning: ${result.fallbackError}\n`);
      const misconfigured = result.channels.filter((c) => c.status === 'misconfigured');
      if (misconfigured.length > 0) {
        for (const c of misconfigured) err(`error: channel ${c.channel}: ${c.reason}\n`);
        ctx.exitCode = 2;
      } else if (flags.failOnError && (result.anyFailed || result.fallbackError)) {
        err('error: a notification was not delivered (--fail-on-error)\n');
        ctx.exitCode = 1;
      }
    });
}
