// What actions/checkout does to an existing workspace before the next job uses it: `git clean
// -ffdx` (untracked and ignored files go, including nested repositories) and `git reset --hard`.
// A backup left in an ignored `backups/` does not survive it.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

function git(cwd: string, args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0' },
  });
}

/** Cleans a checked-out workspace as actions/checkout does on a reused runner. */
export function checkoutClean(workspace: string): void {
  git(workspace, ['clean', '-ffdx']);
  git(workspace, ['reset', '--hard', 'HEAD']);
}

/** Makes `workspace` a git repository with `files` committed (a "checked-out" workspace). */
export function initWorkspaceRepo(workspace: string, files: Record<string, string>): string {
  mkdirSync(workspace, { recursive: true });
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(workspace, path)), { recursive: true });
    writeFileSync(join(workspace, path), content);
  }
  git(workspace, ['init', '-q', '-b', 'main']);
  git(workspace, ['add', '-A']);
  git(workspace, [
    '-c',
    'user.name=harness',
    '-c',
    'user.email=harness@example.invalid',
    'commit',
    '-q',
    '-m',
    'checkout',
  ]);
  return git(workspace, ['rev-parse', 'HEAD']).trim();
}
