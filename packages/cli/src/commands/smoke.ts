// Stub: filled in by the issue that delivers this command.
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { notImplemented } from './not-yet.js';

export function registerSmoke(program: Command, _ctx: CliContext): void {
  program
    .command('smoke')
    .description('(not available yet)')
    .allowUnknownOption()
    .allowExcessArguments()
    .action(() => notImplemented('smoke'));
}
