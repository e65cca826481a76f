// Stub: filled in by the issue that delivers this command.
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { notImplemented } from './not-yet.js';

export function registerDeploy(program: Command, _ctx: CliContext): void {
  program
    .command('deploy')
    .description('(not available yet)')
    .allowUnknownOption()
    .allowExcessArguments()
    .action(() => notImplemented('deploy'));
  program
    .command('migrate')
    .description('(not available yet)')
    .allowUnknownOption()
    .allowExcessArguments()
    .action(() => notImplemented('migrate'));
}
