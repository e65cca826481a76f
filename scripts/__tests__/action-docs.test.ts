import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('per-action READMEs', () => {
  it('have inputs/outputs tables generated from action.yml (run `pnpm docs` to refresh)', () => {
    const run = spawnSync(process.execPath, ['scripts/action-docs.mjs', '--check'], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });
});
