// `guarded-rollout config check --env E`: the settings backup, latest-backup, rollback, monitor and
// notify would use for an environment, and where each comes from (flag, env, file, default), so an
// operator can see before an incident what `--env production` alone will do.
import type { Command } from 'commander';
import { ConfigError } from '@guarded-rollout/config';
import type { CliContext } from '../context.js';
import { OPTION_SPECS, renderSettings, resolveSettings } from '../settings.js';

export function registerConfig(program: Command, ctx: CliContext): void {
  const config = program
    .command('config')
    .description('inspect the per-environment rollout config (guarded-rollout.config.json)');
  config
    .command('check')
    .description(
      'validate the rollout config and print, per command, each resolved setting and its source (env = a GUARDED_ROLLOUT_<COMMAND>_<KEY> variable)',
    )
    .requiredOption('--env <env>', 'environment to resolve (a key of environments)')
    .option(
      '--config <file>',
      'rollout config (default: $GUARDED_ROLLOUT_CONFIG, else guarded-rollout.config.json)',
    )
    .option('--command <name>', `only this command: ${Object.keys(OPTION_SPECS).join(', ')}`)
    .action((flags: { env: string; config?: string; command?: string }) => {
      const commands = flags.command ? [flags.command] : Object.keys(OPTION_SPECS);
      for (const name of commands) {
        if (!(name in OPTION_SPECS))
          throw new ConfigError(
            `--command: ${JSON.stringify(name)} is not one of ${Object.keys(OPTION_SPECS).join(', ')}`,
            { field: '--command' },
          );
      }
      let file: string | undefined;
      for (const name of commands) {
        const resolved = resolveSettings(ctx, name, flags.env, {}, flags.config);
        file = resolved.file;
        ctx.stdout(renderSettings(name, resolved));
      }
      ctx.stdout(
        file
          ? `environment ${flags.env}: ${file} is valid\n`
          : 'no rollout config found (guarded-rollout.config.json): every value is a flag or a default\n',
      );
    });
}
