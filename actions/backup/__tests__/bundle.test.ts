import { describe, it, expect } from '@jest/globals';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { leftoverProcesses, runNodeAction } from '@guarded-rollout/runner-harness';
import { runBundle } from './run-bundle.js';

const actionDir = fileURLToPath(new URL('..', import.meta.url));

describe('backup action bundle', () => {
  it('writes the backup and sets its outputs', () => {
    const root = mkdtempSync(join(tmpdir(), 'gr-action-backup-'));
    mkdirSync(join(root, 'srv'));
    writeFileSync(join(root, 'srv/a.txt'), 'a\n');
    writeFileSync(join(root, 'srv/b.txt'), 'b\n');
    const r = runBundle(
      'backup',
      { environment: 'production', 'base-dir': 'srv', keep: '3', version: '1.4.2' },
      root,
    );
    expect(r.code).toBe(0);
    expect(r.outputs['backup-path']).toMatch(/backups\/dhash_production_\d{8}T\d{6}Z\.zip$/);
    expect(r.outputs.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(r.outputs['file-count']).toBe('2');
    expect(Number(r.outputs['size-bytes'])).toBeGreaterThan(0);
    expect(readFileSync(r.outputs['sha256-path']!, 'utf8')).toBe(
      `${r.outputs.sha256}  backups/${r.outputs['backup-path']!.split('/').pop()}\n`,
    );
    expect(r.stdout).toContain('artifact upload skipped');
    expect(r.summary).toContain('Backup');
  });

  it('cancelled by the runner (SIGINT, SIGTERM 7.5 s later) while its dump command runs: fails with one line before SIGTERM, the dump stopped, nothing left', async () => {
    const root = mkdtempSync(join(tmpdir(), 'gr-action-backup-'));
    mkdirSync(join(root, 'srv'));
    writeFileSync(join(root, 'srv/a.txt'), 'a\n');
    const pidFile = join(root, 'dump.pid');
    const running = runNodeAction(actionDir, {
      workspace: root,
      inputs: {
        environment: 'production',
        'base-dir': 'srv',
        'dump-command': `sleep 120 & echo $! > ${pidFile}; wait`,
      },
    });
    for (let i = 0; i < 600 && !(existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim()); i++)
      await new Promise((r) => setTimeout(r, 50));
    const timings = await running.cancel();
    const main = await running.result;
    expect(timings.lastSignal).toBe('SIGINT');
    expect(main.code).toBe(1);
    expect(main.stdout).toContain('::warning::received SIGINT: stopping the backup');
    expect(main.stdout).toContain('::error::backup cancelled; no backup was made');
    expect(leftoverProcesses(main.marker)).toEqual([]);
    expect(readdirSync(join(root, 'backups'))).toEqual([]);
  }, 60_000);

  it('fails with one clear error on a bad input', () => {
    const root = mkdtempSync(join(tmpdir(), 'gr-action-backup-'));
    const r = runBundle('backup', { environment: 'production', keep: 'many' }, root);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('::error::input "keep": "many" is not a whole number from 1 to 10000');
  });
});
