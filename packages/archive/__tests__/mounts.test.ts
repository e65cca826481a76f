// A restore never renames a mount point (it cannot: EBUSY) nor carries one away inside a root it
// replaces: both are refused before anything is staged, naming the mount and what to do. With
// real mounts (tmpfs, bind mounts of a directory and of a file); skipped visibly where this user
// may not mount.
import { afterEach, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createBackup, fsErrorLine, restoreBackup, stateDir } from '../src/index.js';
import { mountPoints, mountProblem } from '../src/mounts.js';
import { canMountTmpfs, snapshot, tempRoot } from './fixtures.js';
import { releaseScene } from './scenes.js';

const mounted: string[] = [];
function mount(args: string[], at: string): void {
  expect(spawnSync('mount', [...args, at]).status).toBe(0);
  mounted.push(at);
}
afterEach(() => {
  for (const at of mounted.splice(0).reverse()) spawnSync('umount', [at]);
});

const scene = (label: string) => releaseScene(label, ['app', 'data']);

/** The restore is refused before staging with `message`, and the target is as it was. */
async function refused(s: Awaited<ReturnType<typeof scene>>, message: string): Promise<void> {
  const before = snapshot(s.target);
  const r = await s.restore();
  expect(r.status).toBe('refused');
  expect(r.message).toBe(message);
  expect(snapshot(s.target)).toEqual(before);
}

describe('mount points in the target', () => {
  it('reads /proc/self/mountinfo: the mount point (octal escapes undone) and the type', () => {
    const dir = tempRoot('mountinfo');
    writeFileSync(
      join(dir, 'mountinfo'),
      [
        '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
        '36 22 0:41 / /srv/my\\040data rw,relatime shared:9 master:2 - tmpfs tmpfs rw,size=8192k',
        '37 22 8:1 /etc/app.json /srv/app/config.json rw - ext4 /dev/sda1 rw',
        'not a mountinfo line',
        '',
      ].join('\n'),
    );
    expect(mountPoints(join(dir, 'mountinfo'))).toEqual([
      { path: '/', type: 'ext4' },
      { path: '/srv/my data', type: 'tmpfs' },
      { path: '/srv/app/config.json', type: 'ext4' },
    ]);
    expect(mountPoints(join(dir, 'none'))).toBeUndefined();
  });

  (canMountTmpfs() ? describe : describe.skip)('as root, with real mounts', () => {
    it('a root that is a mount point is refused before staging, naming it and the way that works', async () => {
      const s = await scene('mount-root');
      mount(['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs'], join(s.target, 'data'));
      writeFileSync(join(s.target, 'data/release.txt'), 'data on its own volume');
      await refused(
        s,
        `cannot replace ${s.target}/data: it is a mount point (tmpfs), which a restore cannot move aside (it renames each root it replaces); restore into it instead, from a backup of its contents (backup --base-dir ${s.target}/data --path .) with --target ${s.target}/data, or unmount it first; nothing was changed`,
      );
      expect(existsSync(stateDir(s.target))).toBe(false); // nothing staged, nothing kept
      // A dry run says the same, so a premerge rehearsal finds it.
      expect((await s.restore({ dryRun: true })).message).toMatch(/it is a mount point \(tmpfs\)/);
      // The way the message gives: a backup of the mount's contents, restored into it.
      const inner = await createBackup({
        environment: 'production',
        paths: ['.'],
        cwd: join(s.target, 'data'),
        outDir: join(s.root, 'inner'),
      });
      writeFileSync(join(s.target, 'data/release.txt'), 'changed');
      const into = await restoreBackup({
        environment: 'production',
        backupPath: inner.backupPath,
        target: join(s.target, 'data'),
        cwd: s.root,
      });
      expect(into.status).toBe('restored-unverified');
      expect(readFileSync(join(s.target, 'data/release.txt'), 'utf8')).toBe('data on its own volume');
    });

    it('a bind-mounted directory or file as a root is refused the same way (a rename would fail with EBUSY)', async () => {
      const s = await scene('mount-bind');
      mkdirSync(join(s.root, 'elsewhere'));
      mount(['--bind', join(s.root, 'elsewhere')], join(s.target, 'app'));
      expect((await s.restore()).message).toMatch(/cannot replace \S+\/live\/app: it is a mount point \(/);
      spawnSync('umount', [mounted.pop()!]);
      // A file: what a container's bind-mounted config looks like.
      writeFileSync(join(s.root, 'config.json'), '{}');
      const s2 = await scene('mount-bind-file');
      writeFileSync(join(s2.root, 'src/config.json'), '{"new":true}');
      writeFileSync(join(s2.target, 'config.json'), '{"old":true}');
      mount(['--bind', join(s.root, 'config.json')], join(s2.target, 'config.json'));
      const r = await restoreBackup({
        environment: 'production',
        backupPath: (
          await createBackup({
            environment: 'production',
            paths: ['config.json'],
            cwd: join(s2.root, 'src'),
            outDir: join(s2.root, 'b2'),
          })
        ).backupPath,
        target: s2.target,
        cwd: s2.root,
      });
      expect(r.status).toBe('refused');
      expect(r.message).toMatch(/cannot replace \S+\/live\/config\.json: it is a mount point \(/);
      expect(readFileSync(join(s2.target, 'config.json'), 'utf8')).toBe('{}'); // still the mounted file
    });

    it('a mount inside a root is refused: it would have gone with the old version', async () => {
      const s = await scene('mount-inside');
      mkdirSync(join(s.target, 'app/uploads'));
      mount(['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs'], join(s.target, 'app/uploads'));
      writeFileSync(join(s.target, 'app/uploads/photo.jpg'), 'on the volume');
      await refused(
        s,
        `cannot replace ${s.target}/app: ${s.target}/app/uploads inside it is a mount point (tmpfs); the restore moves ${s.target}/app aside whole, so that file system would go with the old version and the backup's copy of its files would take its place; unmount it first (and mount it again after the rollback); nothing was changed`,
      );
      expect(readdirSync(s.target).sort()).toEqual(['app', 'data']);
    });

    it('a rename that still meets a mount (mounted after the check) reads as one line, the code said once', async () => {
      const root = tempRoot('mount-errors');
      mkdirSync(join(root, 'm'));
      mount(['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs'], join(root, 'm'));
      writeFileSync(join(root, 'm/f'), 'x');
      const line = (fn: () => void): string => {
        try {
          fn();
        } catch (error) {
          return fsErrorLine(error as NodeJS.ErrnoException, 'write');
        }
        throw new Error('no error');
      };
      expect(line(() => renameSync(join(root, 'm'), join(root, 'n')))).toBe(
        `cannot move ${join(root, 'm')}: it is busy: a mount point, or in use by the system; unmount it (or wait until it is free) and run again`,
      );
      expect(line(() => renameSync(join(root, 'm/f'), join(root, 'f')))).toBe(
        `cannot move ${join(root, 'm/f')}: EXDEV: cross-device link not permitted, rename '${join(root, 'm/f')}' -> '${join(root, 'f')}'`,
      );
    });

    it('without mountinfo, a root on another device is still found', async () => {
      const s = await scene('mount-nomountinfo');
      mount(['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs'], join(s.target, 'data'));
      expect(mountProblem(s.target, 'data', undefined)).toMatch(
        /cannot replace \S+\/live\/data: it is on another file system than \S+\/live \(a mount point\)/,
      );
      expect(mountProblem(s.target, 'app', undefined)).toBeUndefined();
      expect(mountProblem(s.target, 'absent', undefined)).toBeUndefined();
    });
  });
});
