#!/usr/bin/env node
// check-dist: rebuild every action bundle and fail when actions/*/dist differs from what is committed
// (modified, deleted or new files), so the code the runner executes is the code under review.
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const build = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
const status = execFileSync(
  'git',
  ['status', '--porcelain', '--untracked-files=all', '--', 'actions/*/dist'],
  {
    cwd: root,
    encoding: 'utf8',
  },
);
if (status.trim()) {
  console.error(
    'check-dist: actions/*/dist does not match a fresh build. Run `pnpm build` and commit the result:',
  );
  console.error(status);
  spawnSync('git', ['--no-pager', 'diff', '--stat', '--', 'actions/*/dist'], { cwd: root, stdio: 'inherit' });
  process.exit(1);
}
console.log('check-dist: every actions/*/dist matches a fresh build');
