// The health check: HTTP GET with a timeout. OK means a 2xx answer and, when the body is JSON
// with a `status` field, a status that says so. Anything else — including no answer — is a
// failed check (fail closed), marked `error` when the source itself failed rather than the service.
import type { HealthReading } from '@guarded-rollout/gates';
import { describeFetchError, getText } from './http.js';

const OK_STATUSES = new Set(['ok', 'pass', 'healthy', 'up']);

export async function checkHealth(url: string, timeoutMs = 5000): Promise<HealthReading> {
  try {
    const res = await getText(url, timeoutMs, { accept: 'application/json' });
    if (res.status < 200 || res.status > 299) return { ok: false, detail: `HTTP ${res.status}` };
    if (res.contentType.includes('json')) {
      let doc: unknown;
      try {
        doc = JSON.parse(res.body);
      } catch {
        return { ok: false, detail: 'health answered invalid JSON' };
      }
      const status = (doc as { status?: unknown } | null)?.status;
      if (status !== undefined && !OK_STATUSES.has(String(status).toLowerCase())) {
        return { ok: false, detail: `status ${JSON.stringify(status)}` };
      }
    }
    return { ok: true, detail: `HTTP ${res.status}` };
  } catch (error) {
    return { ok: false, detail: describeFetchError(error, timeoutMs), error: true };
  }
}
