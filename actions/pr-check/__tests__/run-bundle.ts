// Spawns the pr-check bundle exactly as the runner does: `node dist/index.js`, INPUT_* for the
// node process only, GITHUB_EVENT_PATH / GITHUB_OUTPUT / GITHUB_STEP_SUMMARY files, a workspace
// holding only what the workflow's checkout put there.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BUNDLE = fileURLToPath(new URL('../dist/index.js', import.meta.url));

export interface BundleRun {
  code: number | null;
  stdout: string;
  outputs: Record<string, string>;
  summary: string;
}

/** Parses GITHUB_OUTPUT's `name<<DELIM\nvalue\nDELIM` records. */
export function parseOutputs(text: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  const re = /^([^\n<]+)<<(\S+)\n([\s\S]*?)\n\2$/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) outputs[m[1]!] = m[3]!;
  return outputs;
}

const dirs: string[] = [];
export function cleanupBundleRuns(): void {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export async function runBundle(options: {
  apiUrl: string;
  inputs: Record<string, string>;
  event: { name: string; payload: unknown };
  /** Files of the workspace (path → text), e.g. the roster the sparse checkout brings. */
  files?: Record<string, string>;
  repository?: string;
}): Promise<BundleRun> {
  const dir = mkdtempSync(join(tmpdir(), 'pr-check-bundle-'));
  dirs.push(dir);
  for (const [path, text] of Object.entries(options.files ?? {})) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  writeFileSync(join(dir, 'event.json'), JSON.stringify(options.event.payload));
  writeFileSync(join(dir, 'output'), '');
  writeFileSync(join(dir, 'summary'), '');
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    GITHUB_ACTIONS: 'true',
    GITHUB_WORKSPACE: dir,
    GITHUB_OUTPUT: join(dir, 'output'),
    GITHUB_STEP_SUMMARY: join(dir, 'summary'),
    GITHUB_API_URL: options.apiUrl,
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_RUN_ID: '4242',
    GITHUB_REPOSITORY: options.repository ?? 'acme/dhash',
    GITHUB_EVENT_NAME: options.event.name,
    GITHUB_EVENT_PATH: join(dir, 'event.json'),
  };
  for (const [k, v] of Object.entries(options.inputs)) env[`INPUT_${k.toUpperCase()}`] = v;
  // Asynchronous spawn: the fake answers from this process's event loop.
  const child = spawn(process.execPath, [BUNDLE], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stdout += c.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return {
    code,
    stdout,
    outputs: parseOutputs(readFileSync(join(dir, 'output'), 'utf8')),
    summary: readFileSync(join(dir, 'summary'), 'utf8'),
  };
}
