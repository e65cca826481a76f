// The deployed-tree record and runRollback's live-tree protection (issue 15): modified or added
// release files since the deploy refuse a rollback unless forced; removed files never block; the
// tool's own automatic rollback skips the check and refreshes the record.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  statSync,
  renameSync,
  utimesSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createBackup,
  deployedTreeRecordPath,
  liveTreeChanges,
  RACY_MS,
  recordDeployedTree,
  runRollback,
} from '../src/index.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
let tick = 0;
const clock = () => new Date(Date.UTC(2026, 10, 23, 12, 0, tick++));

/** A production rollback of `backupPath` into `live`: `--force`, or the tool's own automatic
 *  rollback (no live-tree check). */
function rollbackAs(kind: 'forced' | 'automatic', root: string, live: string, backupPath: string) {
  return runRollback({
    environment: 'production',
    backupPath,
    target: live,
    cwd: root,
    force: kind === 'forced',
    ...(kind === 'automatic' ? { liveTreeCheck: false } : {}),
    now: clock,
  });
}

/** A new scratch directory (removed after the tests) and the live tree path `srv` inside it. */
function freshLive(label: string): { root: string; live: string } {
  const root = mkdtempSync(join(tmpdir(), label));
  dirs.push(root);
  return { root, live: join(root, 'srv') };
}

/** A production backup of `paths` under `live`, into `<root>/backups`. */
function backupOf(root: string, live: string, paths: string[]) {
  return createBackup({
    environment: 'production',
    paths,
    baseDir: live,
    outDir: join(root, 'backups'),
    cwd: root,
    now: clock,
  });
}

async function scene() {
  const { root, live } = freshLive('live-tree-');
  mkdirSync(join(live, 'data'), { recursive: true });
  writeFileSync(join(live, 'release.txt'), '1.0\n');
  writeFileSync(join(live, 'data/rows.jsonl'), 'a\n');
  const backup = await backupOf(root, live, ['release.txt']);
  writeFileSync(join(live, 'release.txt'), '1.1\n'); // the deploy
  recordDeployedTree(live, { environment: 'production', paths: ['release.txt'], now: clock });
  const rollback = (extra: Record<string, unknown> = {}) =>
    runRollback({
      environment: 'production',
      backupPath: backup.backupPath,
      target: live,
      cwd: root,
      force: false,
      now: clock,
      ...extra,
    });
  return { root, live, rollback };
}

describe('live tree changed since the deploy', () => {
  it('the record sits beside the tree and covers only the release paths', async () => {
    const { live } = await scene();
    expect(existsSync(deployedTreeRecordPath(live))).toBe(true);
    expect(deployedTreeRecordPath(live)).toBe(join(live, '..', '.srv.deployed-tree.json'));
    writeFileSync(join(live, 'data/rows.jsonl'), 'a\nb\n'); // runtime data: not release files
    const changes = await liveTreeChanges(live);
    expect(changes).toMatchObject({ modified: [], added: [], removed: [] });
    // The comparison hands back the record's header only: the rollback holds it through the
    // restore, and its per-file table was ~40 MB of a 100,000-file rollback's peak.
    expect(changes.record).toMatchObject({ recordedAt: expect.any(String) });
    expect(changes.record).not.toHaveProperty('files');
  });

  it('a modified release file refuses the rollback and changes nothing', async () => {
    const { live, rollback } = await scene();
    writeFileSync(join(live, 'release.txt'), '1.1-hotfix\n');
    const r = await rollback();
    expect(r).toMatchObject({ status: 'refused', failed: true });
    expect(r.message).toMatch(/live tree changed since the deploy .*\(modified: release\.txt\).*--force/);
    expect(readFileSync(join(live, 'release.txt'), 'utf8')).toBe('1.1-hotfix\n');
  });

  it('removed files never block; an automatic rollback skips the check and refreshes the record', async () => {
    const { live, rollback } = await scene();
    unlinkSync(join(live, 'release.txt'));
    expect((await liveTreeChanges(live)).removed).toEqual(['release.txt']);
    expect((await rollback()).status).toBe('restored-unverified');

    writeFileSync(join(live, 'release.txt'), '2.0-by-hand\n');
    const automatic = await rollback({ liveTreeCheck: false });
    expect(automatic.status).toBe('restored-unverified');
    expect(readFileSync(join(live, 'release.txt'), 'utf8')).toBe('1.0\n');
    // The record now matches the restored tree: a later manual rollback is not refused.
    expect(await liveTreeChanges(live)).toMatchObject({ modified: [], added: [] });
    expect((await rollback()).status).toBe('restored-unverified');
  });

  it('the record a rollback writes from its plan is the one a full read-back of the tree gives', async () => {
    const { root, live } = freshLive('live-tree-plan-');
    mkdirSync(join(live, 'app/bin'), { recursive: true });
    writeFileSync(join(live, 'app/bin/run'), '#!/bin/sh\n');
    chmodSync(join(live, 'app/bin/run'), 0o2755); // setgid: read back, the kernel may drop it
    writeFileSync(join(live, 'app/config.yml'), 'a: 1\n');
    chmodSync(join(live, 'app/config.yml'), 0o640);
    symlinkSync('config.yml', join(live, 'app/current'));
    writeFileSync(join(live, 'VERSION'), '1.0\n'); // a top-level file root
    writeFileSync(join(live, 'other.txt'), 'not in the backup\n'); // walked, not restored
    const backup = await backupOf(root, live, ['app', 'VERSION']);
    writeFileSync(join(live, 'app/config.yml'), 'a: 2\n');
    const r = await rollbackAs('forced', root, live, backup.backupPath);
    expect(r.status).toBe('restored-unverified');
    const fromPlan = JSON.parse(readFileSync(deployedTreeRecordPath(live), 'utf8')).files;
    recordDeployedTree(live, { environment: 'production', now: clock }); // reads everything back
    const readBack = JSON.parse(readFileSync(deployedTreeRecordPath(live), 'utf8')).files;
    expect(Object.keys(fromPlan).sort()).toEqual([
      'VERSION',
      'app/bin/run',
      'app/config.yml',
      'app/current',
      'other.txt',
    ]);
    // Size, mode and SHA256 agree; the status fields depend on how long ago each file changed.
    const content = (files: Record<string, { size: number; mode: number; sha256: string }>) =>
      Object.fromEntries(Object.entries(files).map(([k, v]) => [k, [v.size, v.mode, v.sha256]]));
    expect(content(fromPlan)).toEqual(content(readBack));
    expect(await liveTreeChanges(live)).toMatchObject({ modified: [], added: [], removed: [] });
  });
});

describe('liveTreeChanges', () => {
  it('a file named like an Object property ("constructor", "__proto__") is compared, not confused', async () => {
    const root = mkdtempSync(join(tmpdir(), 'live-tree-names-'));
    const live = join(root, 'srv');
    mkdirSync(live);
    for (const name of ['constructor', 'toString', '__proto__', 'plain'])
      writeFileSync(join(live, name), name);
    recordDeployedTree(live, { environment: 'staging' });
    expect(await liveTreeChanges(live)).toMatchObject({ modified: [], added: [], removed: [] });
    writeFileSync(join(live, 'constructor'), 'changed');
    unlinkSync(join(live, '__proto__'));
    writeFileSync(join(live, 'hasOwnProperty'), 'new');
    expect(await liveTreeChanges(live)).toMatchObject({
      modified: ['constructor'],
      added: ['hasOwnProperty'],
      removed: ['__proto__'],
    });
  });
});

describe('reading the deployed-tree record', () => {
  function recorded() {
    const { root, live } = freshLive('live-tree-record-');
    mkdirSync(join(live, 'a'), { recursive: true });
    for (const name of ['a/one.txt', 'a/two.txt', 'three "quoted"\\name.txt', 'ünï.txt'])
      writeFileSync(join(live, name), name);
    chmodSync(join(live, 'a/two.txt'), 0o600);
    recordDeployedTree(live, { environment: 'production', now: clock });
    return { root, live, recordPath: deployedTreeRecordPath(live) };
  }

  it('reads a record written as one JSON document (not one file per line) the same way', async () => {
    const { live, recordPath } = recorded();
    writeFileSync(join(live, 'a/one.txt'), 'changed');
    const lineWise = await liveTreeChanges(live);
    writeFileSync(recordPath, JSON.stringify(JSON.parse(readFileSync(recordPath, 'utf8')), null, 2));
    expect(readFileSync(recordPath, 'utf8').split('\n')[0]).toBe('{');
    const whole = await liveTreeChanges(live);
    expect(whole).toEqual(lineWise);
    expect(whole).toMatchObject({ modified: ['a/one.txt'], added: [], removed: [], recordedFiles: 4 });
  });

  it('a mode change counts as modified; names with quotes, backslashes and non-ASCII are matched', async () => {
    const { live } = recorded();
    expect(await liveTreeChanges(live)).toMatchObject({ modified: [], added: [], removed: [] });
    chmodSync(join(live, 'a/two.txt'), 0o644);
    unlinkSync(join(live, 'ünï.txt'));
    expect(await liveTreeChanges(live)).toMatchObject({
      modified: ['a/two.txt'],
      added: [],
      removed: ['ünï.txt'],
    });
  });

  it.each([
    [
      'cut off',
      (t: string) => t.slice(0, t.lastIndexOf('\n', t.length - 2)),
      /ends early \(no closing "}}"\): it was cut off/,
    ],
    ['a broken line', (t: string) => t.replace(/"mode":\d+/, '"mode":'), /is not valid JSON on line 2 /],
    [
      'a bad digest',
      (t: string) => t.replace(/"sha256":"[0-9a-f]{4}/, '"sha256":"zzzz'),
      /has no numeric "mode" and 64-hex "sha256" for "a\/one\.txt" \(line 2\)/,
    ],
    ['not JSON at all', () => 'garbage', /is not valid JSON \(/],
    [
      'a missing comma',
      (t: string) => t.replace('},\n', '}\n'),
      /is not valid JSON between lines 2 and 5 \(a missing comma\?\)/,
    ],
  ])(
    'a record with %s refuses the rollback naming the file and why; --force restores and says so',
    async (_what, damage, why) => {
      const { root, live, recordPath } = recorded();
      const backup = await backupOf(root, live, ['a']);
      writeFileSync(recordPath, damage(readFileSync(recordPath, 'utf8')));
      writeFileSync(join(live, 'a/one.txt'), 'deployed later');
      const rollback = (force: boolean) =>
        runRollback({
          environment: 'production',
          backupPath: backup.backupPath,
          target: live,
          cwd: root,
          force,
          now: clock,
        });
      const refused = await rollback(false);
      expect(refused).toMatchObject({ status: 'refused', failed: true });
      expect(refused.message).toMatch(why);
      expect(refused.message).toContain(recordPath);
      expect(refused.message).toMatch(/cannot tell hand edits .*fix or delete the record, or pass --force/);
      expect(refused.message.split('\n')).toHaveLength(1);
      expect(readFileSync(join(live, 'a/one.txt'), 'utf8')).toBe('deployed later');

      const forced = await rollback(true);
      expect(forced.status).toBe('restored-unverified');
      expect(forced.message).toMatch(/\(--force: the deployed-tree record .* not compared\)$/);
      expect(readFileSync(join(live, 'a/one.txt'), 'utf8')).toBe('a/one.txt');
      expect(await liveTreeChanges(live)).toMatchObject({ modified: [], added: [] }); // rewritten
    },
  );

  it('a record larger than its 256 KiB write buffer, with multi-byte names and a long header, reads back whole', async () => {
    const { live } = freshLive('live-tree-buffered-record-');
    mkdirSync(join(live, 'd'), { recursive: true });
    // 205-byte names of 2- and 4-byte characters: ~0.7 MB, flushed across several boundaries.
    const names = Array.from({ length: 2000 }, (_, i) => `${'é'.repeat(60)}${'😀'.repeat(20)}-${i}`);
    for (const name of names) writeFileSync(join(live, 'd', name), name);
    // A header longer than the buffer is written on its own.
    const paths = ['d', ...Array.from({ length: 400 }, (_, i) => `unused/${'p'.repeat(240)}${i}`)];
    recordDeployedTree(live, { environment: 'production', paths, now: clock });
    const bytes = readFileSync(deployedTreeRecordPath(live));
    expect(bytes.length).toBeGreaterThan(2 * 256 * 1024);
    const text = bytes.toString('utf8');
    const record = JSON.parse(text) as { paths: string[]; files: Record<string, { sha256: string }> };
    expect(record.paths).toEqual(paths);
    expect(Object.keys(record.files).sort()).toEqual(names.map((n) => `d/${n}`).sort());
    expect(await liveTreeChanges(live)).toMatchObject({
      modified: [],
      added: [],
      removed: [],
      recordedFiles: 2000,
    });
  });

  it('names the damaged line of a large record (read in chunks of lines)', async () => {
    const { live } = freshLive('live-tree-large-record-');
    mkdirSync(live);
    for (let i = 0; i < 1500; i++) writeFileSync(join(live, `f${String(i).padStart(4, '0')}`), String(i));
    recordDeployedTree(live, { environment: 'production', now: clock });
    expect(await liveTreeChanges(live)).toMatchObject({
      modified: [],
      added: [],
      removed: [],
      recordedFiles: 1500,
    });
    const recordPath = deployedTreeRecordPath(live);
    const lines = readFileSync(recordPath, 'utf8').split('\n');
    lines[699] = lines[699]!.replace(/"sha256":"[0-9a-f]/, '"sha256":"x');
    writeFileSync(recordPath, lines.join('\n'));
    await expect(liveTreeChanges(live)).rejects.toThrow(/64-hex "sha256" for "f\d{4}" \(line 700\)$/);
  });

  it('the automatic rollback (no live-tree check) is not stopped by a damaged record', async () => {
    const { root, live, recordPath } = recorded();
    const backup = await backupOf(root, live, ['a']);
    writeFileSync(recordPath, 'garbage');
    const r = await rollbackAs('automatic', root, live, backup.backupPath);
    expect(r.status).toBe('restored-unverified');
    expect(r.message).toMatch(/\(the deployed-tree record .* is not valid JSON .*; not compared\)$/);
    expect(await liveTreeChanges(live)).toMatchObject({ modified: [], added: [] });
  });

  it('the automatic rollback reads only the record’s first line: a record cut off after it still serves', async () => {
    const { root, live, recordPath } = recorded();
    const backup = await backupOf(root, live, ['a']);
    const text = readFileSync(recordPath, 'utf8');
    writeFileSync(recordPath, text.slice(0, text.indexOf('\n') + 40)); // header, then part of a line
    await expect(liveTreeChanges(live)).rejects.toThrow(/ends early/); // a full read refuses it
    const r = await rollbackAs('automatic', root, live, backup.backupPath);
    expect(r.status).toBe('restored-unverified');
    expect(r.message).not.toMatch(/not compared/); // its header was read
  });
});

describe('a file whose status is the recorded one is not hashed again', () => {
  const settle = () => new Promise((r) => setTimeout(r, 250)); // past the 20 ms racy window (RACY_MS), with room for a slow machine
  async function settledTree() {
    const { live } = freshLive('live-tree-status-');
    mkdirSync(live);
    writeFileSync(join(live, 'app.js'), 'v1 code');
    writeFileSync(join(live, 'config.yml'), 'a: 1\n');
    await settle();
    recordDeployedTree(live, { environment: 'production', now: clock });
    const recordPath = deployedTreeRecordPath(live);
    return { live, recordPath, record: () => JSON.parse(readFileSync(recordPath, 'utf8')) };
  }

  it('records the status of settled files and trusts it: a changed digest behind an equal status is not read', async () => {
    const { live, recordPath, record } = await settledTree();
    const r = record();
    expect(r.files['app.js']).toMatchObject({
      size: 7,
      ino: expect.any(Number),
      ctimeMs: expect.any(Number),
    });
    // Proof that equal status skips the read: the record now claims other bytes, unseen.
    r.files['app.js'].sha256 = '0'.repeat(64);
    writeFileSync(recordPath, JSON.stringify(r));
    expect((await liveTreeChanges(live)).modified).toEqual([]);
    // Without the status, the bytes are read and the difference found.
    delete r.files['app.js'].ino;
    writeFileSync(recordPath, JSON.stringify(r));
    expect((await liveTreeChanges(live)).modified).toEqual(['app.js']);
  });

  it('trusts no status whose change is within RACY_MS (20 ms) of the record file’s own mtime (file-system clock)', async () => {
    const { live, recordPath, record } = await settledTree();
    const r = record();
    r.files['app.js'].sha256 = '0'.repeat(64);
    writeFileSync(recordPath, JSON.stringify(r));
    // As if the file system's clock lagged ours: the record written 15 ms after the file changed.
    const changed = lstatSync(join(live, 'app.js')).ctimeMs;
    utimesSync(recordPath, new Date(changed), new Date(changed + 15));
    expect((await liveTreeChanges(live)).modified).toEqual(['app.js']); // read, not trusted
    utimesSync(recordPath, new Date(changed), new Date(changed + 1000));
    expect((await liveTreeChanges(live)).modified).toEqual([]); // trusted again
  });

  it('an in-place edit of the same size is found even with its mtime put back (ctime moves)', async () => {
    const { live } = freshLive('live-tree-mtime-');
    mkdirSync(live);
    const path = join(live, 'app.js');
    const then = new Date('2026-11-01T00:00:00Z'); // whole seconds: put back exactly
    writeFileSync(path, 'v1 code');
    utimesSync(path, then, then);
    await settle();
    recordDeployedTree(live, { environment: 'production', now: clock });
    writeFileSync(path, 'v2 code'); // same size
    utimesSync(path, then, then);
    expect(lstatSync(path).mtimeMs).toBe(then.getTime());
    expect((await liveTreeChanges(live)).modified).toEqual(['app.js']);
  });

  it('a file replaced by another with the same bytes is not a change (read, equal)', async () => {
    const { live } = await settledTree();
    writeFileSync(join(live, 'config.yml.new'), 'a: 1\n');
    renameSync(join(live, 'config.yml.new'), join(live, 'config.yml'));
    expect(await liveTreeChanges(live)).toMatchObject({ modified: [], added: [], removed: [] });
  });

  it('a file changed within RACY_MS (20 ms) of the recording gets no status (it is always read)', async () => {
    const { live } = freshLive('live-tree-racy-');
    mkdirSync(live);
    writeFileSync(join(live, 'old.txt'), 'old');
    await settle();
    writeFileSync(join(live, 'fresh.txt'), 'fresh');
    const changed = lstatSync(join(live, 'fresh.txt')).ctimeMs;
    // The real clock pinned just after the change: in the window, and one tick past it.
    const statusOf = (afterMs: number) => {
      recordDeployedTree(live, { environment: 'production', now: clock, wallClock: () => changed + afterMs });
      return JSON.parse(readFileSync(deployedTreeRecordPath(live), 'utf8')).files;
    };
    const racy = statusOf(5);
    expect(racy['old.txt']).toHaveProperty('ctimeMs');
    expect(racy['fresh.txt']).not.toHaveProperty('ctimeMs');
    expect(statusOf(19)['fresh.txt']).not.toHaveProperty('ctimeMs');
    expect(statusOf(21)['fresh.txt']).toHaveProperty('ctimeMs');
    // Unpinned: the real clock, right after the write (well inside 20 ms on any machine but a
    // stalled one, which would only make the file look settled: the assertion is the pinned one).
    recordDeployedTree(live, { environment: 'production', now: clock });
    expect(JSON.parse(readFileSync(deployedTreeRecordPath(live), 'utf8')).files['old.txt']).toHaveProperty(
      'ctimeMs',
    );
  });

  it('a rollback records the files it restored; one staged right before the swap gets no status', async () => {
    const { root, live } = freshLive('live-tree-restored-');
    mkdirSync(join(live, 'app'), { recursive: true });
    writeFileSync(join(live, 'app/a.txt'), 'a');
    const backup = await backupOf(root, live, ['app']);
    expect((await rollbackAs('forced', root, live, backup.backupPath)).status).toBe('restored-unverified');
    // Files staged right before the swap are within the racy window: no status yet (a machine
    // stalled for more than RACY_MS after staging may record one, for a change that long before
    // the record; the rule itself is pinned to a clock above).
    const recordPath = deployedTreeRecordPath(live);
    const first = JSON.parse(readFileSync(recordPath, 'utf8')).files;
    expect(first['app/a.txt']).toMatchObject({ size: 1, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    if ('ctimeMs' in first['app/a.txt'])
      expect(first['app/a.txt'].ctimeMs).toBeLessThan(statSync(recordPath).mtimeMs - RACY_MS);
    expect((await liveTreeChanges(live)).modified).toEqual([]);
  });
});

// The racy window on a real whole-second file system: ext4 with 128-byte inodes stores no
// sub-second times, so a file changed in the same second as the record can keep every recorded
// time, and the real clock alone (RACY_MS after the change) would trust its status. The record
// file's own mtime (the file system's clock, floored alike) is what keeps it from being trusted.
const canLoopMount =
  typeof process.getuid === 'function' &&
  process.getuid() === 0 &&
  existsSync('/dev/loop-control') &&
  spawnSync('mkfs.ext4', ['-V']).status === 0;
(canLoopMount ? describe : describe.skip)('on a whole-second file system (ext4, 128-byte inodes)', () => {
  let mnt = '';
  beforeAll(() => {
    const dir = mkdtempSync(join(tmpdir(), 'live-tree-coarse-'));
    dirs.push(dir);
    const image = join(dir, 'fs.img');
    mnt = join(dir, 'mnt');
    mkdirSync(mnt);
    writeFileSync(image, '');
    truncateSync(image, 32 * 1024 * 1024);
    expect(spawnSync('mkfs.ext4', ['-q', '-F', '-I', '128', image]).status).toBe(0);
    const mounted = spawnSync('mount', ['-o', 'loop', image, mnt], { encoding: 'utf8' });
    expect(mounted.stderr).toBe('');
    expect(mounted.status).toBe(0);
  });
  afterAll(() => {
    if (mnt) spawnSync('umount', [mnt]);
  });

  // 3 x RACY_MS into the next second: a change then is more than RACY_MS after the second's start,
  // which is its whole-second ctime, so this machine's clock trusts it (timers may fire a little
  // early, and a loaded machine late: the scenes check both and run again).
  const nextSecond = () => new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 3 * RACY_MS));
  /** Runs `scene` from just after a second begins, so that it can finish inside that second;
   *  again (at most 5 times: a stalled machine) until `sameSecond` says it did. */
  async function withinOneSecond<T>(
    scene: (n: number) => Promise<T>,
    sameSecond: (r: T) => boolean,
  ): Promise<T> {
    for (let n = 0; ; n++) {
      await nextSecond();
      const result = await scene(n);
      if (sameSecond(result) || n === 4) return result;
    }
  }
  /** Rewrites `path` with other bytes of the same size and puts its times back: only its ctime
   *  moves, to the current second. */
  function editInPlace(path: string, text: string): void {
    const before = lstatSync(path);
    expect(Buffer.byteLength(text)).toBe(before.size);
    writeFileSync(path, text);
    utimesSync(path, before.atime, before.mtime);
  }

  it('stores whole seconds (the premise)', () => {
    writeFileSync(join(mnt, 'probe'), 'x');
    const st = statSync(join(mnt, 'probe'));
    expect(st.mtimeMs % 1000).toBe(0);
    expect(st.ctimeMs % 1000).toBe(0);
  });

  it('an edit of the same size in the second of the record is found; files settled before it are still trusted', async () => {
    const scene = async (n: number) => {
      const live = join(mnt, `srv${n}`);
      mkdirSync(live);
      writeFileSync(join(live, 'old.txt'), 'settled');
      await nextSecond();
      writeFileSync(join(live, 'app.js'), 'v1 code');
      recordDeployedTree(live, { environment: 'production', now: clock });
      editInPlace(join(live, 'app.js'), 'v2 code');
      const recordPath = deployedTreeRecordPath(live);
      return {
        live,
        recordPath,
        ctime: lstatSync(join(live, 'app.js')).ctimeMs,
        recorded: statSync(recordPath).mtimeMs,
      };
    };
    const { live, recordPath, ctime, recorded } = await withinOneSecond(
      scene,
      (r) =>
        r.ctime === r.recorded && 'ctimeMs' in JSON.parse(readFileSync(r.recordPath, 'utf8')).files['app.js'],
    );
    expect(ctime).toBe(recorded); // the edit and the record share one second
    const record = JSON.parse(readFileSync(recordPath, 'utf8'));
    // The real clock trusted the status (the change came more than RACY_MS before the record, by
    // our clock), and the edit left every field of it as recorded:
    const { ino, size } = lstatSync(join(live, 'app.js'));
    expect(record.files['app.js']).toMatchObject({ size, ino, ctimeMs: ctime, mtimeMs: ctime });
    // ...and the check reads the file anyway and finds the edit.
    expect((await liveTreeChanges(live)).modified).toEqual(['app.js']);
    // A file settled a second before is still trusted (not read): a digest changed behind its
    // equal status goes unseen (the record's mtime put back, so the rule stays the same).
    record.files['old.txt'].sha256 = '0'.repeat(64);
    writeFileSync(recordPath, JSON.stringify(record));
    utimesSync(recordPath, new Date(recorded), new Date(recorded));
    expect((await liveTreeChanges(live)).modified).toEqual(['app.js']);
  });

  it('after a rollback, an edit of the same size in the second of the record is found', async () => {
    const root = mkdtempSync(join(tmpdir(), 'live-tree-coarse-backups-'));
    dirs.push(root);
    const source = join(root, 'src');
    mkdirSync(join(source, 'app'), { recursive: true });
    writeFileSync(join(source, 'app/a.txt'), 'release 1');
    const backup = await backupOf(root, source, ['app']);
    const scene = async (n: number) => {
      const live = join(mnt, `rb${n}`);
      mkdirSync(live);
      const r = await rollbackAs('forced', root, live, backup.backupPath);
      editInPlace(join(live, 'app/a.txt'), 'release X');
      const recordPath = deployedTreeRecordPath(live);
      return {
        live,
        status: r.status,
        record: JSON.parse(readFileSync(recordPath, 'utf8')),
        st: lstatSync(join(live, 'app/a.txt')),
        recorded: statSync(recordPath).mtimeMs,
      };
    };
    const { live, status, record, st, recorded } = await withinOneSecond(
      scene,
      (r) => r.st.ctimeMs === r.recorded && 'ctimeMs' in r.record.files['app/a.txt'],
    );
    expect(status).toBe('restored-unverified');
    expect(st.ctimeMs).toBe(recorded);
    // The restore recorded the file's status (staged more than RACY_MS before the record, by our
    // clock), and the edit left every field of it as recorded:
    expect(record.files['app/a.txt']).toMatchObject({
      size: st.size,
      ino: st.ino,
      ctimeMs: st.ctimeMs,
      mtimeMs: st.mtimeMs,
    });
    expect((await liveTreeChanges(live)).modified).toEqual(['app/a.txt']);
  });
});
