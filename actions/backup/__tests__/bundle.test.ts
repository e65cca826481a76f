import { describe, it, expect } from '@jest/globals';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBundle } from './run-bundle.js';

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

  it('fails with one clear error on a bad input', () => {
    const root = mkdtempSync(join(tmpdir(), 'gr-action-backup-'));
    const r = runBundle('backup', { environment: 'production', keep: 'many' }, root);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('::error::input "keep": "many" is not a whole number from 1 to 10000');
  });
});
