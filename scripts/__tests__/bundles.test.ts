import { describe, expect, it } from '@jest/globals';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
// @ts-expect-error -- plain ESM script without type declarations
import { runBundle } from '../smoke-dist.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bundled = readdirSync(join(root, 'actions')).filter((a) =>
  existsSync(join(root, 'actions', a, 'dist/index.js')),
);

interface BundleRun {
  status: number;
  stdout: string;
  stderr: string;
  outputFile: string;
  summary: string;
}

describe('committed action bundles run exactly as the runner starts them', () => {
  it('finds at least one bundled action', () => {
    expect(bundled.length).toBeGreaterThan(0);
  });

  it.each(bundled)('actions/%s/dist/index.js runs its smoke inputs and writes GITHUB_OUTPUT', (name) => {
    const run = runBundle(`actions/${name}`) as BundleRun;
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
    expect(run.outputFile).not.toBe('');
  });

  it('notify refuses a bad event with one clear ::error:: line', () => {
    const run = runBundle('actions/notify', {
      inputs: { event: 'deploy-exploded', environment: 'production' },
    }) as BundleRun;
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(
      /^::error::input "event": "deploy-exploded" is not a known event; use one of deploy-started, /m,
    );
  });
});
