// Runs the CLI in-process with captured output, for tests.
import { runCli } from '../src/main.js';
import type { CliContext } from '../src/context.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export async function cli(argv: string[], options: Partial<CliContext> = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    env: {},
    cwd: process.cwd(),
    now: () => new Date('2026-11-23T12:00:00Z'),
    exitCode: 0,
    ...options,
  });
  return { code, stdout, stderr };
}
