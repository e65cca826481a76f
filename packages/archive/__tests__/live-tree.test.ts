// The deployed-tree record and runRollback's live-tree protection (issue 15): modified or added
// release files since the deploy refuse a rollback unless forced; removed files never block; the
// tool's own automatic rollback skips the check and refreshes the record.
import { afterAll, describe, expect, it } from '@jest/globals';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createBackup,
  deployedTreeRecordPath,
  liveTreeChanges,
  recordDeployedTree,
  runRollback,
} from '../src/index.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
let tick = 0;
const clock = () => new Date(Date.UTC(2026, 10, 23, 12, 0, tick++));

async function scene() {
  const root = mkdtempSync(join(tmpdir(), 'live-tree-'));
  dirs.push(root);
  const live = join(root, 'srv');
  mkdirSync(join(live, 'data'), { recursive: true });
  writeFileSync(join(live, 'release.txt'), '1.0\n');
  writeFileSync(join(live, 'data/rows.jsonl'), 'a\n');
  const backup = await createBackup({
    environment: 'production',
    paths: ['release.txt'],
    baseDir: live,
    outDir: join(root, 'backups'),
    cwd: root,
    now: clock,
  });
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
    const changes = liveTreeChanges(live);
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
    expect(liveTreeChanges(live).removed).toEqual(['release.txt']);
    expect((await rollback()).status).toBe('restored-unverified');

    writeFileSync(join(live, 'release.txt'), '2.0-by-hand\n');
    const automatic = await rollback({ liveTreeCheck: false });
    expect(automatic.status).toBe('restored-unverified');
    expect(readFileSync(join(live, 'release.txt'), 'utf8')).toBe('1.0\n');
    // The record now matches the restored tree: a later manual rollback is not refused.
    expect(liveTreeChanges(live)).toMatchObject({ modified: [], added: [] });
    expect((await rollback()).status).toBe('restored-unverified');
  });

  it('the record a rollback writes from its plan is the one a full read-back of the tree gives', async () => {
    const root = mkdtempSync(join(tmpdir(), 'live-tree-plan-'));
    dirs.push(root);
    const live = join(root, 'srv');
    mkdirSync(join(live, 'app/bin'), { recursive: true });
    writeFileSync(join(live, 'app/bin/run'), '#!/bin/sh\n');
    chmodSync(join(live, 'app/bin/run'), 0o2755); // setgid: read back, the kernel may drop it
    writeFileSync(join(live, 'app/config.yml'), 'a: 1\n');
    chmodSync(join(live, 'app/config.yml'), 0o640);
    symlinkSync('config.yml', join(live, 'app/current'));
    writeFileSync(join(live, 'VERSION'), '1.0\n'); // a top-level file root
    writeFileSync(join(live, 'other.txt'), 'not in the backup\n'); // walked, not restored
    const backup = await createBackup({
      environment: 'production',
      paths: ['app', 'VERSION'],
      baseDir: live,
      outDir: join(root, 'backups'),
      cwd: root,
      now: clock,
    });
    writeFileSync(join(live, 'app/config.yml'), 'a: 2\n');
    const r = await runRollback({
      environment: 'production',
      backupPath: backup.backupPath,
      target: live,
      cwd: root,
      force: true,
      now: clock,
    });
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
    expect(fromPlan).toEqual(readBack);
    expect(liveTreeChanges(live)).toMatchObject({ modified: [], added: [], removed: [] });
  });
});

describe('liveTreeChanges', () => {
  it('a file named like an Object property ("constructor", "__proto__") is compared, not confused', () => {
    const root = mkdtempSync(join(tmpdir(), 'live-tree-names-'));
    const live = join(root, 'srv');
    mkdirSync(live);
    for (const name of ['constructor', 'toString', '__proto__', 'plain'])
      writeFileSync(join(live, name), name);
    recordDeployedTree(live, { environment: 'staging' });
    expect(liveTreeChanges(live)).toMatchObject({ modified: [], added: [], removed: [] });
    writeFileSync(join(live, 'constructor'), 'changed');
    unlinkSync(join(live, '__proto__'));
    writeFileSync(join(live, 'hasOwnProperty'), 'new');
    expect(liveTreeChanges(live)).toMatchObject({
      modified: ['constructor'],
      added: ['hasOwnProperty'],
      removed: ['__proto__'],
    });
  });
});
