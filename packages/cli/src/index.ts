// Bundle entry: run the CLI on the process's arguments.
import { runCli } from './main.js';

process.exitCode = await runCli(process.argv.slice(2));
