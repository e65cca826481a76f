// What root cannot write either: an immutable or append-only inode (chattr +i / +a). The mode bits
// allow root everything, so "run as its owner, or fix its mode" would send an operator the wrong
// way: the one line names the attribute and the tool that clears it. With real attributes (ext4,
// as root); skipped visibly where this user cannot set them.
import { afterEach, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { snapshot, tempRoot } from './fixtures.js';
import { releaseScene } from './scenes.js';

const marked: string[] = [];
const chattr = (flag: string, path: string): boolean => spawnSync('chattr', [flag, path]).status === 0;
afterEach(() => {
  for (const path of marked.splice(0)) chattr('-i', path);
});

let settable: boolean | undefined;
function canSetImmutable(): boolean {
  if (settable === undefined) {
    const probe = tempRoot('chattr-probe');
    settable = process.getuid?.() === 0 && chattr('+i', probe);
    if (settable) chattr('-i', probe);
  }
  return settable;
}

const scene = (label: string) => releaseScene(label, ['app']);

const ATTRIBUTE =
  'is probably immutable or append-only (lsattr -d shows i or a; chattr -i or -a clears it), or a security module (SELinux, AppArmor) denies it';

(canSetImmutable() ? describe : describe.skip)('immutable paths, as root', () => {
  it('an immutable root of the target: refused before staging, naming it and chattr, unchanged', async () => {
    const s = await scene('immutable-root');
    const app = join(s.target, 'app');
    expect(chattr('+i', app)).toBe(true);
    marked.push(app);
    const before = snapshot(s.target);
    const r = await s.restore();
    expect(r.status).toBe('refused');
    expect(r.message).toBe(
      `cannot replace ${app}: ${app} is not writable even for root: it ${ATTRIBUTE}; the restore moves it aside into ${join(s.target, '.guarded-rollout/pre-rollback')}; nothing was changed`,
    );
    expect(r.message).not.toMatch(/owner|fix its mode/);
    chattr('-i', app);
    expect(snapshot(s.target)).toEqual(before);
  });

  it('an immutable target: its state directory cannot be made, one line naming the attribute', async () => {
    const s = await scene('immutable-target');
    expect(chattr('+i', s.target)).toBe(true);
    marked.push(s.target);
    const r = await s.restore();
    expect(r.status).toBe('refused');
    expect(r.message).toBe(
      `cannot create the directory ${join(s.target, '.guarded-rollout')}: not permitted even for root: it or its directory ${ATTRIBUTE}; a restore keeps its lock, staging and the previous versions in ${join(s.target, '.guarded-rollout')}, so it must be able to write to ${s.target}`,
    );
  });

  it('once cleared with chattr -i, the same restore goes through', async () => {
    const s = await scene('immutable-cleared');
    const app = join(s.target, 'app');
    chattr('+i', app);
    marked.push(app);
    expect((await s.restore()).status).toBe('refused');
    chattr('-i', app);
    expect((await s.restore()).status).toBe('restored-unverified');
  });
});
