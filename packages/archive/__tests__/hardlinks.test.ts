// Hard links inside a backed-up tree come back as hard links: the backup names, for each later
// path of a file, the first (manifest "hardlink"); the restore links them instead of writing
// copies, so a tree that fit its disk fits it again. The zip still holds every path's bytes, so
// `unzip` and the seeds' runbook give copies. Real links, real tools (unzip -t, sha256sum -c).
import { afterEach, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { linkSync, lstatSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createBackup, restoreBackup, runRollback, verifyBackup } from '../src/index.js';
import { buildZip, manifestFor, writeZipWithChecksum, type RawEntry } from './rawzip.js';
import { canMountTmpfs, sh, snapshot, tempRoot } from './fixtures.js';

const T0 = new Date('2026-12-07T03:00:00Z');
const mounted: string[] = [];
afterEach(() => {
  for (const at of mounted.splice(0)) spawnSync('umount', [at]);
});

/** src/app: a large file linked twice, a small one linked three times (one in another directory),
 *  one linked from outside the tree, and enough small files for the writer thread. */
function tree(root: string): { app: string; big: Buffer } {
  const app = join(root, 'src/app');
  mkdirSync(join(app, 'lib'), { recursive: true });
  mkdirSync(join(app, 'models'));
  mkdirSync(join(app, 'shared'));
  const big = randomBytes(3 * 1024 * 1024);
  writeFileSync(join(app, 'models/a.bin'), big);
  linkSync(join(app, 'models/a.bin'), join(app, 'models/b.bin'));
  writeFileSync(join(app, 'lib/x.txt'), 'small and linked\n');
  linkSync(join(app, 'lib/x.txt'), join(app, 'lib/y.txt'));
  linkSync(join(app, 'lib/x.txt'), join(app, 'shared/z.txt'));
  writeFileSync(join(app, 'lib/outside.txt'), 'its other link is outside\n');
  linkSync(join(app, 'lib/outside.txt'), join(root, 'outside-link.txt'));
  for (let i = 0; i < 400; i++) writeFileSync(join(app, 'lib', `f${i}.txt`), `file ${i}\n`.repeat(i % 7));
  return { app, big };
}

const ino = (path: string): number => lstatSync(path).ino;
const backupOfApp = (root: string) =>
  createBackup({ environment: 'production', paths: ['app'], cwd: join(root, 'src'), now: () => T0 });
const nlink = (path: string): number => lstatSync(path).nlink;

describe('hard links', () => {
  it('are recorded, restored as links (not copies), and the zip still unzips to copies', async () => {
    const root = tempRoot('hardlinks');
    tree(root);
    const b = await backupOfApp(root);
    // The real tools on what we wrote.
    expect(sh(`unzip -tq '${b.backupPath}'`, root).code).toBe(0);
    expect(sh(`sha256sum -c --quiet '${b.sha256Path}'`, join(root, 'src')).code).toBe(0);
    const manifest = (await verifyBackup(b.backupPath)).manifest;
    const links = Object.fromEntries(
      manifest.entries.filter((e) => e.hardlink !== undefined).map((e) => [e.path, e.hardlink]),
    );
    expect(links).toEqual({
      'app/lib/y.txt': 'app/lib/x.txt',
      'app/models/b.bin': 'app/models/a.bin',
      'app/shared/z.txt': 'app/lib/x.txt',
    });
    // unzip (the seeds' way) gives copies with the right bytes.
    expect(sh(`unzip -q '${b.backupPath}' -d unzipped`, root).code).toBe(0);
    expect(readFileSync(join(root, 'unzipped/app/shared/z.txt'), 'utf8')).toBe('small and linked\n');
    expect(nlink(join(root, 'unzipped/app/shared/z.txt'))).toBe(1);

    const r = await restoreBackup({
      environment: 'production',
      backupPath: b.backupPath,
      target: 'live',
      cwd: root,
      now: () => T0,
    });
    expect(r.status).toBe('restored-unverified');
    expect(readFileSync(r.logPath, 'utf8')).toContain(
      'hard links: 3 paths are restored as links of another file of the backup, as backed up (no copies)',
    );
    const live = join(root, 'live/app');
    expect(ino(join(live, 'models/b.bin'))).toBe(ino(join(live, 'models/a.bin')));
    expect(nlink(join(live, 'models/a.bin'))).toBe(2);
    expect(ino(join(live, 'lib/y.txt'))).toBe(ino(join(live, 'lib/x.txt')));
    expect(ino(join(live, 'shared/z.txt'))).toBe(ino(join(live, 'lib/x.txt')));
    expect(nlink(join(live, 'lib/x.txt'))).toBe(3);
    expect(nlink(join(live, 'lib/outside.txt'))).toBe(1); // its other link was not backed up
    expect(snapshot(live)).toEqual(snapshot(join(root, 'src/app')));
  });

  it('a rollback over a restored tree with links sees no hand-made change (the record follows the links)', async () => {
    const root = tempRoot('hardlinks-record');
    tree(root);
    const b = await backupOfApp(root);
    const options = {
      environment: 'production',
      backupPath: b.backupPath,
      target: 'live',
      cwd: root,
      now: () => T0,
    };
    expect((await runRollback(options)).status).toBe('restored-unverified');
    const again = await runRollback(options);
    expect(again.status).toBe('restored-unverified');
    expect(readFileSync(again.logPath, 'utf8')).not.toMatch(/changed since|by hand/);
    expect(ino(join(root, 'live/app/lib/y.txt'))).toBe(ino(join(root, 'live/app/lib/x.txt')));
  });

  (canMountTmpfs() ? it : it.skip)(
    'a tree whose links make it fit its disk is restored onto that disk (root, real 4 MiB tmpfs)',
    async () => {
      const root = tempRoot('hardlinks-room');
      const src = join(root, 'src/app');
      mkdirSync(src, { recursive: true });
      writeFileSync(join(src, 'one.bin'), randomBytes(2.5 * 1024 * 1024));
      linkSync(join(src, 'one.bin'), join(src, 'two.bin'));
      linkSync(join(src, 'one.bin'), join(src, 'three.bin'));
      const b = await createBackup({
        environment: 'production',
        paths: ['app'],
        cwd: join(root, 'src'),
        now: () => T0,
      });
      const disk = join(root, 'disk');
      mkdirSync(disk);
      expect(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', disk]).status).toBe(0);
      mounted.push(disk);
      const r = await restoreBackup({
        environment: 'production',
        backupPath: b.backupPath,
        target: disk,
        cwd: root,
        now: () => T0,
      });
      expect(r.message).toMatch(/^restored /);
      expect(nlink(join(disk, 'app/one.bin'))).toBe(3);
      expect(readFileSync(join(disk, 'app/three.bin')).equals(readFileSync(join(src, 'one.bin')))).toBe(true);
    },
  );
});

describe('a manifest that claims a hard link it cannot be is refused, nothing changed', () => {
  const cases: Array<[string, RawEntry[], Record<string, string>, RegExp]> = [
    [
      'to a path the archive lacks',
      [{ name: 'a.txt', data: Buffer.from('a') }],
      { 'a.txt': 'nowhere.txt' },
      /entry "a\.txt" is a hard link of "nowhere\.txt" in the manifest, which the archive lacks/,
    ],
    [
      'to a directory',
      [
        { name: 'd/', mode: 0o040755 },
        { name: 'a.txt', data: Buffer.from('a') },
      ],
      { 'a.txt': 'd' },
      /is a hard link of "d" in the manifest, which is a directory/,
    ],
    [
      'to itself',
      [{ name: 'a.txt', data: Buffer.from('a') }],
      { 'a.txt': 'a.txt' },
      /is a hard link of "a\.txt" in the manifest, which is itself a link/,
    ],
    [
      "to a file with other bytes (the link's own bytes would never be written)",
      [
        { name: 'a.txt', data: Buffer.from('the real bytes') },
        { name: 'b.txt', data: Buffer.from('something else') },
      ],
      { 'b.txt': 'a.txt' },
      /entry "b\.txt" is a hard link of "a\.txt" in the manifest, whose bytes differ/,
    ],
  ];
  for (const [label, entries, links, message] of cases) {
    it(label, async () => {
      const root = tempRoot('hardlink-hostile');
      mkdirSync(join(root, 'live/a.txt'), { recursive: true });
      const before = snapshot(join(root, 'live'));
      const m = manifestFor(entries);
      const json = JSON.parse(m.data!.toString()) as { entries: Array<{ path: string; hardlink?: string }> };
      for (const e of json.entries) if (links[e.path] !== undefined) e.hardlink = links[e.path];
      const zip = join(root, 'x.zip');
      writeZipWithChecksum(zip, buildZip([...entries, { ...m, data: Buffer.from(JSON.stringify(json)) }]));
      const r = await restoreBackup({
        environment: 'production',
        backupPath: zip,
        target: 'live',
        cwd: root,
        now: () => T0,
      });
      expect(r.status).toBe('refused');
      expect(r.message).toMatch(message);
      expect(snapshot(join(root, 'live'))).toEqual(before);
    });
  }

  it('a "hardlink" that is not a path, or on a directory, is refused as malformed', async () => {
    const root = tempRoot('hardlink-malformed');
    const entries: RawEntry[] = [{ name: 'a.txt', data: Buffer.from('a') }];
    const m = manifestFor(entries);
    const json = JSON.parse(m.data!.toString()) as { entries: Array<Record<string, unknown>> };
    json.entries[0]!.hardlink = 42;
    const zip = join(root, 'x.zip');
    writeZipWithChecksum(zip, buildZip([...entries, { ...m, data: Buffer.from(JSON.stringify(json)) }]));
    await expect(verifyBackup(zip)).rejects.toThrow(
      /entries\[0\] \(a\.txt\) has "hardlink" 42; expected the path of another file entry, on a file/,
    );
  });
});
