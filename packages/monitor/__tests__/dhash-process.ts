// Starts the real sample DHash service (supervisor + service process) and its traffic generator
// for integration tests, and stops them again — every pid is checked to be gone.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const src = fileURLToPath(new URL('../../../examples/dhash-service/src/', import.meta.url));

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

export function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export interface DhashDeployment {
  root: string;
  base: string;
  port: number;
  deploy(version: string): void;
  stop(): Promise<void>;
  pids(): number[];
}

/** Starts release `version` (1.1.0 carries `fault` from `onsetSeconds`) with live traffic. */
export async function startDhash(options: {
  fault: string;
  onsetSeconds?: number;
  version?: string;
  workers?: number;
}): Promise<DhashDeployment> {
  const root = mkdtempSync(join(tmpdir(), 'dhash-'));
  const ctl = (...args: string[]): void => {
    const r = spawnSync(process.execPath, [join(src, 'ctl.mjs'), ...args, '--root', root], {
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`ctl ${args.join(' ')}: ${r.stderr}`);
  };
  ctl('init', '--fault', options.fault, '--onset', String(options.onsetSeconds ?? 0));
  const port = await freePort();
  const supervisor = spawn(
    process.execPath,
    [join(src, 'supervisor.mjs'), '--root', root, '--port', String(port)],
    { stdio: 'ignore' },
  );
  const base = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${base}/health`)).ok, 10_000, 'the DHash service');
  if (options.version && options.version !== '1.0.0') ctl('deploy', '--version', options.version);
  const traffic = spawn(
    process.execPath,
    [join(src, 'traffic.mjs'), '--url', base, '--workers', String(options.workers ?? 3)],
    { stdio: 'ignore' },
  );
  let servicePid: number | undefined;
  try {
    servicePid =
      Number(
        spawnSync('pgrep', ['-P', String(supervisor.pid)], { encoding: 'utf8' })
          .stdout.trim()
          .split('\n')[0],
      ) || undefined;
  } catch {
    servicePid = undefined;
  }
  return {
    root,
    base,
    port,
    deploy: (version) => ctl('deploy', '--version', version),
    stop: async () => {
      await stop(traffic);
      await stop(supervisor);
    },
    pids: () => [supervisor.pid, traffic.pid, servicePid].filter((p): p is number => p !== undefined),
  };
}
