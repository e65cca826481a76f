// The bundled CLI for tests that run it the way operators do: built when missing or older than any
// package source (the README's set-up builds it; `scripts/test.sh` does too).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
export const cliBundle = join(repoRoot, 'packages/cli/dist/index.js');

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (['node_modules', 'dist', '__tests__'].includes(entry.name)) continue;
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

export function ensureCliBundle(): void {
  if (existsSync(cliBundle) && statSync(cliBundle).mtimeMs >= newestSource(join(repoRoot, 'packages')))
    return;
  const build = spawnSync(process.execPath, ['scripts/build.mjs', 'packages/cli'], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 280_000,
  });
  if (build.status !== 0) throw new Error(`building the CLI failed:\n${build.stdout}${build.stderr}`);
}

export interface StartedCli {
  child: ChildProcess;
  /** What it has printed so far. */
  stdout: () => string;
  stderr: () => string;
  /** Sends SIGINT, as an operator's Ctrl-C does; resolves with the exit code and how long after
   *  the signal the process ended. */
  interrupt: () => Promise<{ code: number | null; ms: number }>;
}

/** The bundled CLI started as a shell starts it (its own process, stdin closed), for tests that
 *  signal it mid-run. `env` is the whole environment it gets. */
export function startCli(args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): StartedCli {
  ensureCliBundle();
  const child = spawn(process.execPath, [cliBundle, ...args], {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    interrupt: async () => {
      const sentAt = Date.now();
      child.kill('SIGINT');
      const code = await exited;
      return { code, ms: Date.now() - sentAt };
    },
  };
}
