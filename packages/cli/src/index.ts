// Bundle entry: run the CLI on the process's arguments.
import { runCli } from './main.js';

// `guarded-rollout config check --env production | head`: a closed pipe ends the output quietly.
for (const stream of [process.stdout, process.stderr])
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });

process.exitCode = await runCli(process.argv.slice(2));
