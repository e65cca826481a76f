// A real Prometheus (Debian's binary) on loopback for the integration tests: found once (a missing
// binary is a failure under CI=true, a warned skip elsewhere) and started scraping one target
// every second, with its own scratch storage.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from './dhash-process.js';

/** The prometheus binary, or undefined (after a warning naming `what` is skipped). */
export function findPrometheus(what: string): string | undefined {
  const binary =
    ['/usr/bin/prometheus', '/usr/local/bin/prometheus'].find(
      (p) => spawnSync(p, ['--version']).status === 0,
    ) ??
    (spawnSync('sh', ['-c', 'command -v prometheus'], { encoding: 'utf8' }).stdout.trim() || undefined);
  // CI installs Debian's prometheus (.ci/run); a missing server there is a failure, not a skip.
  if (!binary && process.env.CI === 'true')
    throw new Error('CI=true but no `prometheus` binary is installed; .ci/run should have installed it');
  if (!binary)
    console.warn(
      `SKIPPED ${what}: no \`prometheus\` binary on PATH (Debian package "prometheus"; CI installs it)`,
    );
  return binary;
}

/** Starts Prometheus scraping 127.0.0.1:`targetPort` every second; resolves once it is ready. */
export async function startPrometheus(
  binary: string,
  targetPort: number,
): Promise<{ process: ChildProcess; url: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'prometheus-'));
  const port = await freePort();
  writeFileSync(
    join(dir, 'prometheus.yml'),
    `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: dhash\n    static_configs:\n      - targets: ['127.0.0.1:${targetPort}']\n`,
  );
  const child = spawn(
    binary,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: 'ignore' },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/-/ready`)).ok, 15_000, 'Prometheus to be ready');
  return { process: child, url };
}
