import { describe, it, expect } from '@jest/globals';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
});
