// LOCAL ADAPTER (stand-in until packages/archive's restoreBackup is wired in): a rollback that
// runs the operator's restore command (e.g. `guarded-rollout rollback --env prod --latest ...`, or
// the demo's release switch), then requires N consecutive OK health checks before calling the
// rollback verified — the same post-restore validation the rollback action performs.
import { spawn } from 'node:child_process';
import { checkHealth } from '../providers/health.js';
import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import type { RollbackOutcome } from '../summary.js';
import type { Rollback } from '../guarded.js';

export interface CommandRollbackOptions {
  command: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Checked after the command; omitted = no post-restore validation (reported as such). */
  healthUrl?: string;
  requiredOk?: number;
  /** Real ms between checks, and at most this many checks. */
  checkIntervalMs?: number;
  maxChecks?: number;
  timeoutMs?: number;
  clock?: Clock;
  log?: (line: string) => void;
}

function runShell(
  command: string,
  options: CommandRollbackOptions,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, {
      shell: true,
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString()).slice(-4000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 300_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ code: null, output: error.message });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

export function commandRollback(options: CommandRollbackOptions): Rollback {
  const clock = options.clock ?? systemClock;
  const requiredOk = options.requiredOk ?? 3;
  return async (): Promise<RollbackOutcome> => {
    options.log?.(`rollback: running ${options.command}`);
    const run = await runShell(options.command, options);
    if (run.code !== 0) {
      return {
        status: 'failed',
        detail: `restore command exited ${run.code ?? 'abnormally'}: ${run.output.trim().split('\n').slice(-3).join(' | ')}`,
      };
    }
    if (!options.healthUrl)
      return { status: 'succeeded', detail: 'restore command succeeded; no health URL to validate it' };
    let streak = 0;
    const maxChecks = options.maxChecks ?? 30;
    let last = '';
    for (let i = 0; i < maxChecks; i++) {
      const health = await checkHealth(options.healthUrl, 5000);
      streak = health.ok ? streak + 1 : 0;
      last = health.detail ?? '';
      options.log?.(
        `rollback: health check ${i + 1}: ${health.ok ? 'OK' : `not OK (${last})`}${health.ok ? ` (${streak}/${requiredOk})` : ''}`,
      );
      if (streak >= requiredOk) {
        return {
          status: 'succeeded',
          detail: `restored and verified: ${streak} consecutive OK health checks`,
          healthChecksOk: streak,
        };
      }
      await clock.sleep(options.checkIntervalMs ?? 1000);
    }
    return {
      status: 'failed',
      detail: `restored, but health did not reach ${requiredOk} consecutive OK checks in ${maxChecks} tries (last: ${last})`,
      healthChecksOk: streak,
    };
  };
}
