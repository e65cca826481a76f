// Bundle entry: run the CLI on the process's arguments.
import { cancelled } from './cancel.js';
import { runCli } from './main.js';

// Node warns about deprecated calls made outside node_modules, and in this bundle every dependency
// is outside it: a rollback from a backup artifact printed "DeprecationWarning: Buffer() is
// deprecated" (from the artifact download's unzip) between the operator's lines, about code they
// cannot change.
process.noDeprecation = true;

// `guarded-rollout config check --env production | head`: a closed pipe ends the output quietly.
for (const stream of [process.stdout, process.stderr])
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });

process.exitCode = await runCli(process.argv.slice(2));
// After a cancel the command has stopped and reported; what it abandoned (a download that takes no
// signal) must not hold the prompt. stdout and stderr are pipes or terminals, written synchronously
// on Linux and macOS, so nothing printed is lost.
if (cancelled()) process.exit(process.exitCode);
