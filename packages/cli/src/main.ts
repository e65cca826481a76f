// The CLI's single entry: parse argv, run one command, return the exit code
// (0 success, 1 the checked or attempted thing failed, 2 usage or configuration error).
import { Command, CommanderError } from 'commander';
import { GuardedRolloutError, TOOL_VERSION } from '@guarded-rollout/config';
import { processContext, type CliContext } from './context.js';
import { registerBackup } from './commands/backup.js';
import { registerRollback } from './commands/rollback.js';
import { registerDeploy } from './commands/deploy.js';
import { registerQuickDeploy } from './commands/quick-deploy.js';
import { registerMonitor } from './commands/monitor.js';
import { registerSmoke } from './commands/smoke.js';
import { registerValidateLogging } from './commands/validate-logging.js';
import { registerNotify } from './commands/notify.js';
import { registerVerifyArtifacts } from './commands/verify-artifacts.js';
import { registerPrCheck } from './commands/pr-check.js';
import { registerGates } from './commands/gates.js';
import { registerGatesReplay } from './commands/gates-replay.js';
import { registerWatchdog } from './commands/watchdog.js';
import { registerBaseline } from './commands/baseline.js';

export function buildProgram(ctx: CliContext): Command {
  const program = new Command('guarded-rollout')
    .description(
      'Guarded production rollouts for DHash: backups, deploys, gated monitoring, rollback, notifications.',
    )
    .version(TOOL_VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: ctx.stdout, writeErr: ctx.stderr });
  registerBackup(program, ctx);
  registerRollback(program, ctx);
  registerDeploy(program, ctx);
  registerMonitor(program, ctx);
  registerSmoke(program, ctx);
  registerValidateLogging(program, ctx);
  registerNotify(program, ctx);
  registerVerifyArtifacts(program, ctx);
  registerPrCheck(program, ctx);
  registerGates(program, ctx);
  registerGatesReplay(
    program.commands.find((c) => c.name() === 'gates')!,
    ctx,
  );
  registerQuickDeploy(program, ctx);
  registerWatchdog(program, ctx);
  registerBaseline(program, ctx);
  // Sub-commands inherit the exit override and output routing.
  const configure = (command: Command): void => {
    for (const sub of command.commands) {
      sub.exitOverride().configureOutput({ writeOut: ctx.stdout, writeErr: ctx.stderr });
      configure(sub);
    }
  };
  configure(program);
  return program;
}

/** Runs the CLI with user arguments (no node/script prefix) and returns the exit code. */
export async function runCli(argv: string[], ctx: CliContext = processContext()): Promise<number> {
  const program = buildProgram(ctx);
  try {
    if (argv.length === 0) {
      ctx.stdout(program.helpInformation());
      return 2;
    }
    await program.parseAsync(argv, { from: 'user' });
    return ctx.exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (
        error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version' ||
        error.code === 'commander.help'
      )
        return 0;
      return 2; // commander already printed the message
    }
    if (error instanceof GuardedRolloutError) {
      ctx.stderr(`error: ${error.message}\n`);
      return error.exitCode;
    }
    ctx.stderr(
      `internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    return 1;
  }
}
