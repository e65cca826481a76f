// Drives the real monitor (watchDeployment: pre-flight, sampler, loop, recorder) against the fault
// target — a separate process with its own metric names, mapped by a sources mapping — on a
// virtual clock: every sleep of the monitor's clock moves the target's clock too. Shared by
// bench/monitor-faults.ts (the full matrix) and the fast subset in packages/monitor/__tests__.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { GuardedRolloutError } from '../../packages/config/src/index.js';
import { loadGatesConfig, type EnvironmentGates } from '../../packages/gates/src/index.js';
import { FakeClock, watchDeployment, type MonitorSources } from '../../packages/monitor/src/index.js';

export type FaultKind =
  'none' | 'health' | 'ratio' | 'latency' | 'queue' | 'down' | '500' | 'hang' | 'garbage' | 'vanish';

export interface FaultCase {
  fault: FaultKind;
  onsetMs?: number;
  /** Share of requests hit (ratio/latency), 1 by default; queue: 1 = far over, < 1 = just over. */
  share?: number;
  noise?: boolean;
  seed?: number;
  blipAtMs?: number;
  /** Which mapping the monitor uses: the right one, or a mismatch. */
  mapping?: 'right' | 'label-value' | 'metric-name' | 'gauge-name';
}

export interface CaseResult {
  /** What the process would exit with: 0 passed, 1 violated/error, 2 configuration error. */
  exitCode: 0 | 1 | 2;
  result: string;
  gate: string | null;
  detectedMs: number | null;
  /** Detection latency from the onset, when violated. */
  latencyMs: number | null;
  reason: string;
  checks: number;
  /** The monitor log (kept only with `keepLog`). */
  log: string | null;
}

// From source (jest) the repository is two levels up; bundled by ncc (the bench) it is the working
// directory the runner sets. (ncc would rewrite a `new URL(.., import.meta.url)` asset reference.)
const here = fileURLToPath(import.meta.url);
const root = here.includes('/bench/support/') ? here.replace(/\/bench\/support\/[^/]+$/, '') : process.cwd();
export const configFile = join(root, 'quality-gates-config.json');

/** The service's own names, mapped onto the gates' logical metrics. */
export const RIGHT_MAPPING: Record<string, string> = {
  extractions_failed: 'svc_requests_total{outcome="failure"}',
  extractions_total: 'svc_requests_total',
  hash_duration_ms: 'svc_latency_seconds * 1000',
  low_confidence_queue_length: 'svc_review_backlog',
};

function mappingFor(kind: FaultCase['mapping']): MonitorSources {
  const metrics = { ...RIGHT_MAPPING };
  if (kind === 'label-value') metrics.extractions_failed = 'svc_requests_total{outcome="failed"}';
  if (kind === 'metric-name') metrics.hash_duration_ms = 'svc_latency_secs * 1000';
  if (kind === 'gauge-name') metrics.low_confidence_queue_length = 'svc_review_queue';
  return { metrics };
}

export interface Target {
  service: string;
  control: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export async function startTarget(): Promise<Target> {
  const child = spawn(process.execPath, [join(root, 'bench/support/fault-target.mjs')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => reject(new Error('fault target did not start in 20 s')), 20_000);
    rl.once('line', (l) => {
      clearTimeout(timer);
      rl.close();
      resolve(l);
    });
    child.once('exit', (code) => reject(new Error(`fault target exited (${code})`)));
  });
  const ports = JSON.parse(line) as { service: number; control: number };
  return {
    service: `http://127.0.0.1:${ports.service}`,
    control: `http://127.0.0.1:${ports.control}`,
    process: child,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function post(url: string, body: unknown): Promise<void> {
  const res = await fetch(url, { method: 'POST', body: JSON.stringify(body) });
  await res.text();
}

/** A fake clock whose every sleep also moves the target's virtual clock. */
class TargetClock extends FakeClock {
  private readonly start: number;
  constructor(private readonly control: string) {
    super();
    this.start = this.now();
  }
  override async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    await super.sleep(ms, signal);
    await post(`${this.control}/clock`, { at: this.now() - this.start });
  }
}

export function gatesConfig(): EnvironmentGates {
  return loadGatesConfig(configFile, 'production');
}

export async function runCase(
  target: Target,
  c: FaultCase,
  options: { requestTimeoutMs?: number; keepWatching?: boolean; keepLog?: boolean } = {},
): Promise<CaseResult> {
  await post(`${target.control}/scenario`, {
    seed: c.seed ?? 1,
    noise: c.noise ?? false,
    fault: c.fault,
    onsetMs: c.onsetMs ?? null,
    share: c.share ?? 1,
    blipAtMs: c.blipAtMs ?? null,
  });
  const out = mkdtempSync(join(tmpdir(), 'monitor-faults-'));
  let checks = 0;
  try {
    const outcome = await watchDeployment({
      environment: 'production',
      configFile,
      sources: mappingFor(c.mapping),
      healthUrl: `${target.service}/healthz`,
      metricsUrl: `${target.service}/metrics`,
      clock: new TargetClock(target.control),
      requestTimeoutMs: options.requestTimeoutMs ?? 300,
      autoRollback: true,
      rollback: async () => ({ status: 'succeeded', detail: 'bench: nothing to restore' }),
      outDir: out,
      keepWatching: options.keepWatching ?? false,
      log: (l) => {
        if (/^T\+/.test(l)) checks++;
      },
    });
    const s = outcome.summary;
    const v = s.violations[0];
    return {
      exitCode: s.result === 'passed' ? 0 : 1,
      result: s.result,
      gate: v?.gate ?? null,
      detectedMs: v?.detectedMs ?? null,
      latencyMs: v && c.onsetMs !== undefined ? v.detectedMs - c.onsetMs : null,
      reason: v?.reason ?? s.reason,
      checks,
      log: options.keepLog ? s.log : null,
    };
  } catch (error) {
    if (error instanceof GuardedRolloutError && error.exitCode === 2)
      return {
        exitCode: 2,
        result: 'configuration error',
        gate: null,
        detectedMs: null,
        latencyMs: null,
        reason: error.message,
        checks,
        log: null,
      };
    throw error;
  } finally {
    if (!options.keepLog) rmSync(out, { recursive: true, force: true });
  }
}
