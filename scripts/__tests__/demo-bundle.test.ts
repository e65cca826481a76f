// The demo is bundled only when its inputs changed (issue 15: a second `./scripts/demo.sh` starts
// in seconds), and every phase says what it is doing.
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-expect-error: a plain ESM script without type declarations
import { ensureDemoBundle, inputsHash } from '../demo-bundle.mjs';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function repo(): string {
  const root = mkdtempSync(join(tmpdir(), 'demo-bundle-'));
  dirs.push(root);
  mkdirSync(join(root, 'examples/dhash-service/src/demo'), { recursive: true });
  mkdirSync(join(root, 'packages/gates/src'), { recursive: true });
  writeFileSync(join(root, 'examples/dhash-service/src/demo/run-demo.ts'), 'export {};\n');
  writeFileSync(join(root, 'packages/gates/src/index.ts'), 'export const a = 1;\n');
  writeFileSync(join(root, 'pnpm-lock.yaml'), "lockfileVersion: '9.0'\n");
  return root;
}

describe('the demo bundle cache', () => {
  it('builds on the first run, then only when a source or the lockfile changed', () => {
    const root = repo();
    const outDir = join(root, '.tmp/demo-bundle');
    const lines: string[] = [];
    let builds = 0;
    const build = (_root: string, out: string) => {
      builds++;
      mkdirSync(out, { recursive: true });
      writeFileSync(join(out, 'index.js'), '// bundle\n');
      return true;
    };
    const run = () => ensureDemoBundle({ root, outDir, build, log: (l: string) => lines.push(l) });

    expect(run()).toBe(join(outDir, 'index.js'));
    expect(builds).toBe(1);
    expect(lines.join('\n')).toMatch(
      /bundling the demo with ncc \(first run; about a minute, once\)[\s\S]*bundled in/,
    );

    run();
    expect(builds).toBe(1);
    expect(lines.at(-1)).toBe('demo: sources unchanged since the last bundle; no rebuild');

    // A checkout that only touches mtimes changes nothing.
    utimesSync(join(root, 'packages/gates/src/index.ts'), new Date(), new Date(Date.now() + 60_000));
    run();
    expect(builds).toBe(1);

    writeFileSync(join(root, 'packages/gates/src/index.ts'), 'export const a = 2;\n');
    run();
    expect(builds).toBe(2);
    expect(lines.join('\n')).toMatch(/its sources changed/);

    writeFileSync(join(root, 'pnpm-lock.yaml'), "lockfileVersion: '9.1'\n");
    run();
    expect(builds).toBe(3);
  });

  it('hashes paths as well as contents (a renamed file is a change)', () => {
    const root = repo();
    const before = inputsHash(root);
    rmSync(join(root, 'packages/gates/src/index.ts'));
    writeFileSync(join(root, 'packages/gates/src/main.ts'), 'export const a = 1;\n');
    expect(inputsHash(root)).not.toBe(before);
  });
});
