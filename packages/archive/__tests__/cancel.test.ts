// A cancelled backup (BackupOptions.signal: the runner's cancel, Ctrl-C): it stops at its next file
// or 1 MiB piece, stops a dump command's process group, removes its partial archive and releases
// its lock, so the next backup runs as if the cancelled one had never started. A cancelled restore
// (RestoreOptions.signal): before the swap nothing changes (refused, staging removed); after it the
// restart command's group and the health checks stop (failed, with how to undo). Real files, real
// processes, a real health endpoint; the abort is triggered by what the work has visibly done (its
// partial file, a pid file, a health request), not by a timer.
import { describe, it, expect } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import {
  BackupCancelledError,
  RestoreCancelledError,
  createBackup,
  restoreBackup,
  verifyChecksum,
  type BackupOptions,
} from '../src/index.js';
import { sh, snapshot, tempRoot } from './fixtures.js';

/** Running: exists and is not a zombie (a killed child reparented to init may linger as one). */
const alive = (pid: number): boolean => {
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

/** A signal that reads as aborted from its `after`-th look on: a cancel arriving at a known file. */
function abortedAfter(after: number): { signal: AbortSignal; looks: () => number } {
  let looks = 0;
  const signal = {
    get aborted() {
      return ++looks > after;
    },
    addEventListener() {},
    removeEventListener() {},
  } as unknown as AbortSignal;
  return { signal, looks: () => looks };
}

/** Resolves once `ready()` holds, polling every 10 ms, at most 30 s (then rejects). */
async function until(ready: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 3000; i++) {
    if (ready()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function release(root: string, files: Record<string, Buffer>): string {
  const srv = join(root, 'srv');
  for (const [name, data] of Object.entries(files)) {
    mkdirSync(join(srv, name, '..'), { recursive: true });
    writeFileSync(join(srv, name), data);
  }
  return srv;
}

const options = (root: string, extra: Partial<BackupOptions> = {}): BackupOptions => ({
  environment: 'production',
  paths: ['.'],
  baseDir: join(root, 'srv'),
  outDir: join(root, 'backups'),
  cwd: root,
  ...extra,
});

/** A partial archive of this backup exists and has bytes in it. */
const writing = (root: string) => (): boolean => {
  const dir = join(root, 'backups');
  if (!existsSync(dir)) return false;
  return readdirSync(dir).some((n) => n.includes('.zip.partial-') && statSync(join(dir, n)).size > 0);
};

describe('a cancelled backup', () => {
  it('of large files (stored and deflated): stops mid-way, removes its partial archive and its lock; the next backup works', async () => {
    const root = tempRoot('cancel-large');
    release(root, {
      'a/random.bin': randomBytes(48 * 1024 * 1024), // stored: read and written synchronously
      'b/log.txt': Buffer.from('level=info request ok\n'.repeat(2_000_000)), // deflated on the pool
    });
    const controller = new AbortController();
    const running = createBackup(options(root, { signal: controller.signal }));
    running.catch(() => undefined);
    await until(writing(root), 'the partial archive');
    controller.abort();
    const error = await running.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BackupCancelledError);
    expect((error as Error).message).toMatch(
      /^backup cancelled; its partial archive .*backups\/\.dhash_production_\d{8}T\d{6}Z\.zip\.partial-\d+ was removed; no backup was made$/,
    );
    // Nothing half-made and no lock left: the directory is empty.
    expect(readdirSync(join(root, 'backups'))).toEqual([]);
    const next = await createBackup(options(root));
    expect(sh(`sha256sum -c --quiet ${next.sha256Path}`, root).code).toBe(0);
    expect(sh(`unzip -tq ${next.backupPath}`, root).code).toBe(0);
  }, 120_000);

  it('of many small files (the compression pool): the same, and no pool thread is left running', async () => {
    const root = tempRoot('cancel-small');
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 4000; i++)
      files[`d${i % 40}/f${i}.txt`] = Buffer.from(`file ${i} `.repeat(200 + (i % 500)));
    release(root, files);
    // Threads of this process once a whole backup has run (the thread pool is started by then).
    await createBackup(options(root, { outDir: join(root, 'warm-up') }));
    const threads = (): number => readdirSync('/proc/self/task').length;
    const before = threads();
    // The cancel arrives as the backup looks at its 1,501st entry.
    const cancel = abortedAfter(1502);
    await expect(createBackup(options(root, { signal: cancel.signal }))).rejects.toThrow(
      /^backup cancelled; its partial archive .* was removed; no backup was made$/,
    );
    expect(cancel.looks()).toBe(1503); // it stopped at the first look that saw the cancel
    await until(() => threads() <= before, 'the compression threads to end');
    expect(readdirSync(join(root, 'backups'))).toEqual([]);
    const next = await createBackup(options(root));
    expect(next.fileCount).toBe(4000);
    expect(sh(`unzip -tq ${next.backupPath}`, root).code).toBe(0);
  }, 120_000);

  it('during its dump command: the whole process group is stopped (even a child that ignores SIGINT), the dump directory removed', async () => {
    const root = tempRoot('cancel-dump');
    release(root, { 'app.txt': Buffer.from('v1\n') });
    const pidFile = join(root, 'dump.pid');
    const controller = new AbortController();
    const running = createBackup(
      options(root, {
        signal: controller.signal,
        dumpCommand: `sh -c 'trap "" INT; echo partial > "$GUARDED_ROLLOUT_DUMP_DIR/db.sql"; sleep 120' & echo $! > ${pidFile}; wait`,
      }),
    );
    running.catch(() => undefined);
    await until(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '', 'the dump');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(alive(pid)).toBe(true);
    controller.abort();
    await expect(running).rejects.toThrow(/^backup cancelled; no backup was made$/);
    expect(alive(pid)).toBe(false);
    expect(readdirSync(join(root, 'backups'))).toEqual([]);
  }, 60_000);

  it('already cancelled: nothing is written', async () => {
    const root = tempRoot('cancel-before');
    release(root, { 'app.txt': Buffer.from('v1\n') });
    await expect(createBackup(options(root, { signal: AbortSignal.abort() }))).rejects.toThrow(
      BackupCancelledError,
    );
    expect(readdirSync(join(root, 'backups'))).toEqual([]);
  });
});

/** A backup of `srv` (4,000 small files of release 2) and a live tree of release 1 to restore into. */
async function restoreScene(label: string) {
  const root = tempRoot(label);
  const files: Record<string, Buffer> = {};
  for (let i = 0; i < 4000; i++) files[`app/d${i % 40}/f${i}.txt`] = Buffer.from(`release 2, file ${i}\n`);
  release(root, files);
  const made = await createBackup(options(root));
  const target = join(root, 'live');
  mkdirSync(join(target, 'app'), { recursive: true });
  writeFileSync(join(target, 'app/version.txt'), 'release 1\n');
  writeFileSync(join(target, 'keep.txt'), 'not in the backup\n');
  return { root, target, backupPath: made.backupPath };
}

describe('a cancelled restore', () => {
  it('while staging: refused, its staging removed, the live tree unchanged, the lock free for the next restore', async () => {
    const s = await restoreScene('cancel-restore-staging');
    const before = snapshot(s.target);
    const cancel = abortedAfter(1000); // the cancel arrives as the 1,000th entry is staged
    const r = await restoreBackup({
      environment: 'production',
      backupPath: s.backupPath,
      target: s.target,
      cwd: s.root,
      signal: cancel.signal,
    });
    expect(r.status).toBe('refused');
    expect(r.message).toBe(
      `restore cancelled before the swap; its staging was removed; the live tree ${s.target} was not changed`,
    );
    expect(readFileSync(r.logPath, 'utf8')).toContain(`CANCELLED: ${r.message}`);
    expect(snapshot(s.target)).toEqual(before);
    // No staging left (the state directory itself is removed when nothing else is in it).
    const state = join(s.target, '.guarded-rollout');
    expect(existsSync(state) ? readdirSync(state).filter((n) => n.startsWith('staging')) : []).toEqual([]);
    const again = await restoreBackup({
      environment: 'production',
      backupPath: s.backupPath,
      target: s.target,
      cwd: s.root,
    });
    expect(again.status).toBe('restored-unverified');
    expect(readFileSync(join(s.target, 'app/d0/f0.txt'), 'utf8')).toBe('release 2, file 0\n');
  }, 120_000);

  it('inside one large stored file: stops within its next 32 MiB, not at the end of the file', async () => {
    const root = tempRoot('cancel-restore-stored');
    const size = 160 * 1024 * 1024;
    const srv = release(root, { 'data/big.bin': randomBytes(size) }); // random: stored, not deflated
    const backup = await createBackup(options(root));
    writeFileSync(join(srv, 'data/big.bin'), 'release 2\n');
    const before = snapshot(srv);
    const state = join(srv, '.guarded-rollout');
    const staged = (): number => {
      for (const name of existsSync(state) ? readdirSync(state) : []) {
        const file = join(state, name, 'data/big.bin');
        if (name.startsWith('staging-') && existsSync(file)) return statSync(file).size;
      }
      return 0;
    };
    // Runs only when the restore gives the event loop a turn: the cancel arrives mid-file.
    const controller = new AbortController();
    let stagedAtCancel = 0;
    const watcher = setInterval(() => {
      if (controller.signal.aborted || (stagedAtCancel = staged()) === 0) return;
      controller.abort();
    }, 1);
    try {
      const r = await restoreBackup({
        environment: 'production',
        backupPath: backup.backupPath,
        target: srv,
        cwd: root,
        signal: controller.signal,
      });
      expect(r.status).toBe('refused');
      expect(r.message).toBe(
        `restore cancelled before the swap; its staging was removed; the live tree ${srv} was not changed`,
      );
    } finally {
      clearInterval(watcher);
    }
    expect(stagedAtCancel).toBeGreaterThan(0);
    expect(stagedAtCancel).toBeLessThanOrEqual(size - 64 * 1024 * 1024);
    expect(snapshot(srv)).toEqual(before);
    expect(existsSync(state) ? readdirSync(state).filter((n) => n.startsWith('staging')) : []).toEqual([]);
  }, 120_000);

  it('during the health checks (after the swap): failed, "the health checks were cancelled", restored and how to undo', async () => {
    const s = await restoreScene('cancel-restore-health');
    const controller = new AbortController();
    let requests = 0;
    const server = createServer((_req, res) => {
      requests++;
      res.writeHead(503).end('starting');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    // The operator gives up on a service that stays down, once the first check is logged.
    const log = join(s.root, 'rollback.log');
    void until(
      () => existsSync(log) && readFileSync(log, 'utf8').includes('health check 1 at'),
      'the first health check',
    ).then(() => controller.abort());
    try {
      const r = await restoreBackup({
        environment: 'production',
        backupPath: s.backupPath,
        target: s.target,
        cwd: s.root,
        healthUrl: `http://127.0.0.1:${port}/health`,
        // A long wait between checks: the cancel must end it, not wait it out (jest's bound).
        health: { intervalMs: 600_000, deadlineMs: 3_600_000 },
        signal: controller.signal,
      });
      expect(r.status).toBe('failed');
      expect(r.message).toBe(
        `restored, but the health checks were cancelled (0 OK of 1, 3 consecutive needed), so nothing shows the service works. The previous versions of app are kept in ${r.previousTree}; to undo, move them back into ${s.target}.`,
      );
      expect(requests).toBe(1); // no check after the cancel; the 10-minute wait was cut short
      expect(readFileSync(join(s.target, 'app/d0/f0.txt'), 'utf8')).toBe('release 2, file 0\n');
      expect(readFileSync(join(s.target, 'keep.txt'), 'utf8')).toBe('not in the backup\n');
    } finally {
      server.close();
    }
  }, 120_000);

  it('during a health check that hangs: the check ends at once and is not counted', async () => {
    const s = await restoreScene('cancel-restore-hung-health');
    const controller = new AbortController();
    let requests = 0;
    const server = createServer(() => {
      if (++requests === 1) controller.abort(); // accepted, never answered: a hung release
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const started = Date.now();
    try {
      const r = await restoreBackup({
        environment: 'production',
        backupPath: s.backupPath,
        target: s.target,
        cwd: s.root,
        healthUrl: `http://127.0.0.1:${port}/health`,
        health: { timeoutMs: 600_000, intervalMs: 1000, deadlineMs: 3_600_000 },
        signal: controller.signal,
      });
      expect(r.status).toBe('failed');
      expect(r.message).toMatch(
        /^restored, but the health checks were cancelled \(0 OK of 0, 3 consecutive needed\), so nothing shows the service works\. /,
      );
      expect(requests).toBe(1);
      expect(Date.now() - started).toBeLessThan(60_000); // the check's own limit is 10 minutes
      expect(readFileSync(join(s.target, 'app/d0/f0.txt'), 'utf8')).toBe('release 2, file 0\n');
    } finally {
      server.closeAllConnections();
      server.close();
    }
  }, 120_000);

  it('during its restart command: the command group is stopped, failed with how to undo', async () => {
    const s = await restoreScene('cancel-restore-restart');
    const pidFile = join(s.root, 'restart.pid');
    const controller = new AbortController();
    const running = restoreBackup({
      environment: 'production',
      backupPath: s.backupPath,
      target: s.target,
      cwd: s.root,
      restartCommand: `sleep 120 & echo $! > ${pidFile}; wait`,
      signal: controller.signal,
    });
    await until(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '', 'the restart');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    controller.abort();
    const r = await running;
    expect(r.status).toBe('failed');
    expect(r.message).toMatch(
      /^restored, but the restart command was stopped by the cancel\. The previous versions of app are kept in /,
    );
    expect(alive(pid)).toBe(false);
  }, 120_000);
});

describe('a cancelled checksum (the first step of every restore)', () => {
  // A 4 GiB sparse file reads as zeros without touching a disk: hashing it all takes ~3 s here (a
  // backup that size from a disk takes longer). Its .sha256 needs no right digest: the cancel
  // comes first.
  const bigArchive = (name: string): string => {
    const zip = join(tempRoot(name), 'dhash_production_20261207T120000Z.zip');
    const fd = openSync(zip, 'w');
    ftruncateSync(fd, 4 * 1024 ** 3);
    closeSync(fd);
    writeFileSync(`${zip}.sha256`, `${'0'.repeat(64)}  dhash_production_20261207T120000Z.zip\n`);
    return zip;
  };

  it('on the hash thread: ends the thread and rejects at once, not once the archive is read', async () => {
    const zip = bigArchive('cancel-checksum-thread');
    const controller = new AbortController();
    let abortedAt = 0;
    const error = await verifyChecksum(
      zip,
      () => {
        abortedAt = performance.now(); // the thread has started: the hashing begins now
        controller.abort();
      },
      false,
      controller.signal,
    ).catch((e: unknown) => e);
    expect(performance.now() - abortedAt).toBeLessThan(1000);
    expect(error).toBeInstanceOf(RestoreCancelledError);
    expect((error as Error).message).toBe(`cancelled while the checksum of ${zip} was computed`);
  }, 60_000);

  it('on this thread (a restore of many entries): seen within its next 64 MiB', async () => {
    const zip = bigArchive('cancel-checksum-here');
    const controller = new AbortController();
    // Runs only when the hashing gives the event loop a turn.
    const timer = setTimeout(() => controller.abort(), 1);
    const started = performance.now();
    const error = await verifyChecksum(zip, () => {}, true, controller.signal).catch((e: unknown) => e);
    clearTimeout(timer);
    expect(error).toBeInstanceOf(RestoreCancelledError);
    expect(performance.now() - started).toBeLessThan(1500); // not the ~3 s of the whole file
  }, 60_000);

  it('already cancelled: nothing is read', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      verifyChecksum(bigArchive('cancel-checksum-before'), () => {}, false, controller.signal),
    ).rejects.toBeInstanceOf(RestoreCancelledError);
  });
});
