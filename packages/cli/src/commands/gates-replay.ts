// Stub: filled in by the issue that delivers this command.
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { notImplemented } from './not-yet.js';

export function registerGatesReplay(gates: Command, _ctx: CliContext): void {
  gates
    .command('replay')
    .description('re-evaluate a recorded monitor log against a (different) gates config')
    .allowUnknownOption()
    .allowExcessArguments()
    .action(() => notImplemented('gates replay'));
}
