// The bundled CLI for tests that run it the way operators do: built when missing or older than any
// package source (the README's set-up builds it; `scripts/test.sh` does too).
import { spawnSync } from 'node:child_process';
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
