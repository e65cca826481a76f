// What a command may touch of the outside world. Tests pass their own streams, env and cwd.
export interface CliContext {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  cwd: string;
  now: () => Date;
  /** Set by a command to choose the process exit code (0 when it is never set). */
  exitCode: number;
}

export function processContext(): CliContext {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
    cwd: process.cwd(),
    now: () => new Date(),
    exitCode: 0,
  };
}
