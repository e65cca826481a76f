// A cancelled backup (BackupOptions.signal: the runner's cancel, Ctrl-C): it stops at its next file
// or 1 MiB piece, stops a dump command's process group, removes its partial archive and releases
// its lock, so the next backup runs as if the cancelled one had never started. Real files, real
// processes; the abort is triggered by what the backup has visibly done (its partial file, the
// dump's pid file), not by a timer.
import { describe, it, expect } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BackupCancelledError, createBackup, type BackupOptions } from '../src/index.js';
import { sh, tempRoot } from './fixtures.js';

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
