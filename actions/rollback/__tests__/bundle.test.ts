import { describe, it, expect } from '@jest/globals';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBundle } from '../../backup/__tests__/run-bundle.js';

describe('rollback action bundle', () => {
  it('restores the latest backup and sets its outputs; refuses another environment', () => {
    const root = mkdtempSync(join(tmpdir(), 'gr-action-rollback-'));
    mkdirSync(join(root, 'srv'));
    writeFileSync(join(root, 'srv/a.txt'), 'good\n');
    expect(runBundle('backup', { environment: 'production', 'base-dir': 'srv' }, root).code).toBe(0);
    writeFileSync(join(root, 'srv/a.txt'), 'bad\n');

    // No health-url: restored but unverified, which fails a production rollback unless allowed.
    const unverified = runBundle(
      'rollback',
      { environment: 'production', backup: 'latest', target: 'srv' },
      root,
    );
    expect(unverified.code).toBe(1);
    expect(unverified.outputs).toMatchObject({ status: 'restored-unverified', 'health-checks-ok': '0' });
    expect(unverified.stdout).toMatch(
      /::error::rollback restored-unverified in production: no health check ran/,
    );
    rmSync(unverified.outputs['previous-tree']!, { recursive: true }); // names have 1 s resolution
    const r = runBundle(
      'rollback',
      { environment: 'production', backup: 'latest', target: 'srv', 'allow-unverified': 'true' },
      root,
    );
    expect(r.code).toBe(0);
    expect(r.outputs).toMatchObject({
      status: 'restored-unverified',
      verified: 'true',
      'health-checks-ok': '0',
    });
    expect(r.outputs['restored-from']).toMatch(/dhash_production_.*\.zip$/);
    expect(readFileSync(join(root, 'srv/a.txt'), 'utf8')).toBe('good\n');

    const refused = runBundle(
      'rollback',
      { environment: 'staging', backup: r.outputs['restored-from']!, target: 'srv' },
      root,
    );
    expect(refused.code).toBe(1);
    expect(refused.outputs).toMatchObject({ status: 'refused', verified: 'false' });
    expect(refused.stdout).toMatch(
      /::error::rollback refused: backup .* belongs to environment "production", not "staging"/,
    );
  });

  it('keep-previous deletes older previous versions; a bad value is one error naming the input', () => {
    const root = mkdtempSync(join(tmpdir(), 'gr-action-rollback-keep-'));
    mkdirSync(join(root, 'srv'));
    writeFileSync(join(root, 'srv/a.txt'), 'good\n');
    expect(runBundle('backup', { environment: 'staging', 'base-dir': 'srv' }, root).code).toBe(0);
    const kept = join(root, 'srv/.guarded-rollout/pre-rollback');
    // Two older versions (the names the tool gives them), then a rollback that keeps one.
    for (const name of ['20261101T000000Z', '20261102T000000Z']) {
      mkdirSync(join(kept, name, 'a.txt'), { recursive: true });
    }
    const inputs = { environment: 'staging', backup: 'latest', target: 'srv' };
    const bad = runBundle('rollback', { ...inputs, 'keep-previous': 'all' }, root);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/::error::input "keep-previous": "all" is not/);
    expect(readdirSync(kept).sort()).toEqual(['20261101T000000Z', '20261102T000000Z']);
    const r = runBundle('rollback', { ...inputs, 'keep-previous': '1' }, root);
    expect(r.code).toBe(0);
    expect(readdirSync(kept)).toEqual([r.outputs['previous-tree']!.split('/').pop()]);
    expect(readFileSync(join(root, 'rollback.log'), 'utf8')).toContain(
      'keep-previous 1: 2 older previous versions deleted',
    );
  });
});
