// Shared fixtures: a temp "repo root" with a tree of awkward files, and byte-for-byte comparison.
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import ts from 'typescript';

export function tempRoot(label: string): string {
  return mkdtempSync(join(tmpdir(), `gr-${label}-`));
}

/** Whether this process may mount a tmpfs (root with the capability): the tests of mount points
 *  and small disks run only then, skipped visibly elsewhere. */
export function canMountTmpfs(): boolean {
  if (mountable === undefined) {
    const probe = mkdtempSync(join(tmpdir(), 'gr-mount-probe-'));
    mountable =
      process.getuid?.() === 0 &&
      spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe]).status === 0;
    if (mountable) spawnSync('umount', [probe]);
  }
  return mountable;
}
let mountable: boolean | undefined;

/** A tree with nested and empty dirs, binary and text, unusual names, modes and a symlink. */
export function makeTree(dir: string): void {
  mkdirSync(join(dir, 'nested/deeper/deepest'), { recursive: true });
  mkdirSync(join(dir, 'empty dir'), { recursive: true });
  writeFileSync(join(dir, 'readme.txt'), 'hello\n'.repeat(1000));
  writeFileSync(join(dir, 'nested/deeper/deepest/blob.bin'), randomBytes(300_000));
  writeFileSync(join(dir, 'nested/with space.txt'), 'spaces in the name\n');
  writeFileSync(join(dir, 'nested/ünïcødé-名前.txt'), 'unicode name\n');
  writeFileSync(join(dir, 'empty-file'), '');
  writeFileSync(join(dir, 'run.sh'), '#!/bin/sh\necho hi\n');
  chmodSync(join(dir, 'run.sh'), 0o755);
  writeFileSync(join(dir, 'secret.conf'), 'k=v\n');
  chmodSync(join(dir, 'secret.conf'), 0o600);
  symlinkSync('nested/with space.txt', join(dir, 'link-to-file'));
}

export interface TreeRecord {
  type: string;
  mode: number;
  content?: string;
  target?: string;
}

/** Everything a user would notice about a tree: paths, types, modes, bytes, link targets. */
export function snapshot(dir: string): Record<string, TreeRecord> {
  const out: Record<string, TreeRecord> = {};
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      // The restore's own state (kept previous versions), not part of the restored tree.
      if (rel === '' && name === '.guarded-rollout') continue;
      const r = rel ? `${rel}/${name}` : name;
      const abs = join(dir, r);
      const st = lstatSync(abs);
      if (st.isSymbolicLink()) out[r] = { type: 'symlink', mode: 0, target: readlinkSync(abs) };
      else if (st.isDirectory()) {
        out[r] = { type: 'dir', mode: st.mode & 0o777 };
        walk(r);
      } else out[r] = { type: 'file', mode: st.mode & 0o777, content: readFileSync(abs).toString('base64') };
    }
  };
  walk('');
  return out;
}

export function sh(cmd: string, cwd: string): { code: number; out: string } {
  try {
    return {
      code: 0,
      out: execFileSync('bash', ['-c', cmd], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }),
    };
  } catch (error) {
    const e = error as { status: number; stdout: string; stderr: string };
    return { code: e.status, out: `${e.stdout}${e.stderr}` };
  }
}

/** Compiles some of this package's dependency-free source modules (`src/<name>.ts`) to plain
 *  ES modules in a fresh directory, for tests that must run them in a child process: a native
 *  abort, or a process-wide V8 flag, must not reach the Jest process. */
export function transpiledModules(names: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'gr-transpiled-'));
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  for (const name of names) {
    const source = readFileSync(new URL(`../src/${name}.ts`, import.meta.url), 'utf8');
    const out = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    });
    writeFileSync(join(dir, `${name}.js`), out.outputText);
  }
  return dir;
}

/** Runs `script` as an ES module in a child Node, in `dir` (where transpiledModules wrote its
 *  modules), with `args` as its process.argv[1...]; bounded at 60 s. */
export function runModule(dir: string, script: string, args: string[] = []): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, ['--input-type=module', '-e', script, ...args], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 60_000,
  });
}
