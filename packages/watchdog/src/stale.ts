// The watchdog's rule, as a pure function: which deployments are stuck. A deployment whose latest
// status still says it is running (or that never got a status) long after anything could still be
// running it was abandoned by a lost runner or a killed job; nobody else will ever close it.

/** The states in which GitHub shows a deployment as still going. */
export const RUNNING_STATES: readonly string[] = ['in_progress', 'queued', 'pending'];

export interface DeploymentSnapshot {
  id: number;
  environment: string;
  ref: string;
  createdAt: string;
  /** Latest status (GitHub lists statuses newest first); undefined when it never got one. */
  latest?: { state: string; createdAt: string; description?: string | null };
}

export interface StaleDeployment {
  id: number;
  environment: string;
  ref: string;
  /** The state it was left in ("pending" when it never received a status). */
  state: string;
  /** When it last showed a sign of life (latest status, else creation). */
  since: string;
  silentForMs: number;
}

/**
 * Deployments whose latest state is running and whose last sign of life is strictly older than
 * `staleAfterMs`. Unparseable timestamps count as stale: a record we cannot date cannot be trusted
 * to be alive (fail closed, like the gates).
 */
export function findStaleDeployments(
  deployments: readonly DeploymentSnapshot[],
  now: Date,
  staleAfterMs: number,
): StaleDeployment[] {
  const stale: StaleDeployment[] = [];
  for (const d of deployments) {
    const state = d.latest?.state ?? 'pending';
    if (!RUNNING_STATES.includes(state)) continue;
    const since = d.latest?.createdAt ?? d.createdAt;
    const at = Date.parse(since);
    const silentForMs = Number.isNaN(at) ? Number.POSITIVE_INFINITY : now.getTime() - at;
    if (silentForMs > staleAfterMs)
      stale.push({ id: d.id, environment: d.environment, ref: d.ref, state, since, silentForMs });
  }
  return stale;
}

/** GitHub limits a deployment status description to 140 characters. */
export function errorDescription(stale: StaleDeployment, staleAfter: string): string {
  const text = `watchdog: still ${stale.state} with no update since ${stale.since} (> ${staleAfter}); runner lost or job killed`;
  return text.length > 140 ? `${text.slice(0, 137)}...` : text;
}
