// A restore scene shared by the tests of what a restore refuses before staging (mount points,
// immutable roots): a backup of some roots and a live target holding another release of them.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createBackup, restoreBackup } from '../src/index.js';
import { tempRoot } from './fixtures.js';

/** A backup of `roots` (each holding release.txt "<root> new") and a live target holding release
 *  "old" of the same roots; `restore` restores that backup into the target. */
export async function releaseScene(label: string, roots: string[]) {
  const root = tempRoot(label);
  for (const [dir, release] of [
    ['src', 'new'],
    ['live', 'old'],
  ] as const) {
    for (const r of roots) {
      mkdirSync(join(root, dir, r), { recursive: true });
      writeFileSync(join(root, dir, r, 'release.txt'), `${r} ${release}`);
    }
  }
  const target = join(root, 'live');
  const backup = (await createBackup({ environment: 'production', paths: roots, cwd: join(root, 'src') }))
    .backupPath;
  const restore = (extra: { dryRun?: boolean } = {}) =>
    restoreBackup({ environment: 'production', backupPath: backup, target, cwd: root, ...extra });
  return { root, target, restore };
}
