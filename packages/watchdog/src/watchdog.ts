// One watchdog sweep: read recent deployments and their latest statuses, decide which are stuck
// (pure rule in stale.ts), mark each `error` so environments stop showing a phantom deploy, and
// return a report the doorway prints and the workflow turns into a notification.
import { ConfigError, durationProblem, formatDuration, tryParseDuration } from '@guarded-rollout/config';
import { GitHubDeploymentsClient } from './github-deployments.js';
import {
  errorDescription,
  findStaleDeployments,
  type DeploymentSnapshot,
  type StaleDeployment,
} from './stale.js';

export interface WatchdogOptions {
  repository: string;
  token: string;
  apiUrl?: string;
  /** Only these environments (all when empty). */
  environments: string[];
  /** Silence after which a running deployment is abandoned: the monitor window plus a margin. */
  staleAfter: string;
  /** How far back to look at deployments. */
  lookback: string;
  /** Link recorded on the error status (the watchdog run). */
  logUrl?: string;
  dryRun: boolean;
  now: () => Date;
  fetch?: typeof fetch;
}

export interface WatchdogReport {
  repository: string;
  checked: number;
  staleAfter: string;
  dryRun: boolean;
  stale: Array<StaleDeployment & { marked: boolean; error?: string }>;
}

export const DEFAULT_STALE_AFTER = '90m'; // 60 m monitor window + 30 m for backup, deploy and smoke
export const DEFAULT_LOOKBACK = '7d';

function duration(field: string, value: string): number {
  const ms = tryParseDuration(value);
  if (ms === undefined || ms <= 0) throw new ConfigError(durationProblem(field, value), { field });
  return ms;
}

export async function runWatchdog(options: WatchdogOptions): Promise<WatchdogReport> {
  const staleAfterMs = duration('stale-after', options.staleAfter);
  const lookbackMs = duration('lookback', options.lookback);
  if (lookbackMs <= staleAfterMs)
    throw new ConfigError(
      `lookback: "${options.lookback}" must be longer than stale-after "${options.staleAfter}", or stuck deployments are never seen`,
      { field: 'lookback' },
    );
  const client = new GitHubDeploymentsClient({
    repository: options.repository,
    token: options.token,
    apiUrl: options.apiUrl,
    fetch: options.fetch,
  });
  const now = options.now();
  const since = new Date(now.getTime() - lookbackMs);
  const environments = options.environments.length ? options.environments : [undefined];
  const snapshots: DeploymentSnapshot[] = [];
  for (const environment of environments) {
    for (const d of await client.listDeployments({ environment, since })) {
      const latest = await client.latestStatus(d.id);
      snapshots.push({
        id: d.id,
        environment: d.environment,
        ref: d.ref,
        createdAt: d.created_at,
        latest: latest && {
          state: latest.state,
          createdAt: latest.created_at,
          description: latest.description,
        },
      });
    }
  }
  const report: WatchdogReport = {
    repository: options.repository,
    checked: snapshots.length,
    staleAfter: formatDuration(staleAfterMs),
    dryRun: options.dryRun,
    stale: [],
  };
  for (const stale of findStaleDeployments(snapshots, now, staleAfterMs)) {
    if (options.dryRun) {
      report.stale.push({ ...stale, marked: false });
      continue;
    }
    try {
      await client.createStatus(stale.id, {
        state: 'error',
        description: errorDescription(stale, report.staleAfter),
        ...(options.logUrl ? { log_url: options.logUrl } : {}),
      });
      report.stale.push({ ...stale, marked: true });
    } catch (error) {
      // Keep going: one deployment we cannot mark must not hide the others from the report.
      report.stale.push({ ...stale, marked: false, error: (error as Error).message });
    }
  }
  return report;
}

/** Markdown for the job summary and the notification details. */
export function renderWatchdogReport(report: WatchdogReport): string {
  const lines = [
    `### Deployment watchdog: ${report.repository}`,
    '',
    `Checked ${report.checked} recent deployment(s); stuck means still running with no update for more than ${report.staleAfter}.`,
    '',
  ];
  if (report.stale.length === 0) return [...lines, 'No stuck deployments.', ''].join('\n');
  lines.push(
    '| deployment | environment | ref | left in | silent since | silent for | action |',
    '|---|---|---|---|---|---|---|',
  );
  for (const s of report.stale) {
    const action = report.dryRun
      ? 'dry-run: not marked'
      : s.marked
        ? 'marked error'
        : `NOT marked: ${s.error ?? ''}`;
    const silent = Number.isFinite(s.silentForMs) ? formatDuration(s.silentForMs) : 'unknown';
    lines.push(`| ${s.id} | ${s.environment} | ${s.ref} | ${s.state} | ${s.since} | ${silent} | ${action} |`);
  }
  return [...lines, ''].join('\n');
}
