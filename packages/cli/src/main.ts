// The CLI's single entry: parse argv, run one command, return the exit code
// (0 success, 1 the checked or attempted thing failed, 2 usage or configuration error).
// Only the command being run is imported (see registry.ts): `--version` and `--help` load nothing
// but commander and this file.
import { Command, CommanderError } from 'commander';
import { GuardedRolloutError, UsageError } from '@guarded-rollout/config/errors';
import { TOOL_VERSION } from '@guarded-rollout/config/version';
import { processContext, type CliContext } from './context.js';
import { COMMANDS, type CommandEntry } from './registry.js';

/** The command named by argv (its first word that is not an option), if it is a known one. */
export function commandOf(argv: string[]): CommandEntry | undefined {
  const word = argv.find((a) => !a.startsWith('-'));
  return COMMANDS.find((c) => c.name === word);
}

/** Builds the program with `entry` fully registered, or every command as a one-line stub (help). */
export async function buildProgram(
  ctx: CliContext,
  entry?: CommandEntry,
  argv: string[] = [],
): Promise<Command> {
  const program = new Command('guarded-rollout')
    .description(
      'Guarded production rollouts for DHash: backups, deploys, gated monitoring, rollback, notifications.',
    )
    .version(TOOL_VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: ctx.stdout, writeErr: ctx.stderr })
    .addHelpText(
      'after',
      '\nRun `guarded-rollout <command> --help` for its options. Exit codes: 0 success, 1 the checked or attempted thing failed, 2 usage or configuration error.',
    );
  if (entry) (await entry.load())(program, ctx);
  else for (const c of COMMANDS) program.command(c.name).description(c.summary);
  // Sub-commands inherit the exit override and output routing. Excess arguments are reported by
  // the hook below, which names them (commander only says "too many arguments").
  const configure = (command: Command): void => {
    for (const sub of command.commands) {
      sub
        .exitOverride()
        .allowExcessArguments(true)
        .configureOutput({ writeOut: ctx.stdout, writeErr: ctx.stderr });
      configure(sub);
    }
  };
  configure(program);
  program.hook('preAction', (_program, action) => {
    const expected = action.registeredArguments;
    if (expected.some((a) => a.variadic) || action.args.length <= expected.length) return;
    throw new UsageError(excessArgumentMessage(action.name(), action.args.slice(expected.length), argv));
  });
  return program;
}

/** "unexpected argument "minutes" after --timeout 5 …": names the value and how to pass it. */
export function excessArgumentMessage(command: string, extra: string[], argv: string[]): string {
  const first = extra[0]!;
  const at = argv.indexOf(first);
  const option = at >= 2 && argv[at - 2]!.startsWith('--') ? argv[at - 2]! : undefined;
  const list = extra.map((a) => JSON.stringify(a)).join(', ');
  if (option) {
    const value = `${argv[at - 1]} ${extra.join(' ')}`;
    return `${command}: unexpected argument ${list} after ${option} ${argv[at - 1]}: an option takes one value; quote a value with spaces (${option} ${JSON.stringify(value)})${/^\d/.test(argv[at - 1]!) ? ', and write durations like 5m, 30s or 1h30m' : ''}`;
  }
  return `${command}: unexpected argument ${list}; see \`guarded-rollout ${command} --help\` for its arguments and options`;
}

/** Runs the CLI with user arguments (no node/script prefix) and returns the exit code. */
export async function runCli(argv: string[], ctx: CliContext = processContext()): Promise<number> {
  // `help X` is `X --help`, so it shows X's real options rather than its stub.
  if (argv[0] === 'help' && argv[1] && !argv[1].startsWith('-')) argv = [...argv.slice(1), '--help'];
  try {
    const program = await buildProgram(ctx, commandOf(argv), argv);
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
