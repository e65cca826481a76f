// Smoke tests: the HTTP checks declared per environment, run in tier order (critical only, or
// everything), each with its own timeout, recorded with timing in postdeploy-smoketests.log.
import { join, resolve } from 'node:path';
import { mkdirSync } from 'node:fs';
import {
  CheckFailedError,
  ConfigError,
  deadlineController,
  DeadlineExceededError,
  formatDuration,
} from '@guarded-rollout/config';
import { EvidenceLog } from '@guarded-rollout/evidence';
import type { SmokeCheck } from './rollout-config.js';

export type SmokeTier = 'critical' | 'all';
export const SMOKE_RUN_TIERS: readonly SmokeTier[] = ['critical', 'all'];

export interface SmokeCheckResult {
  name: string;
  tier: SmokeCheck['tier'];
  url: string;
  passed: boolean;
  status: number | undefined;
  durationMs: number;
  problems: string[];
  /** Cut short by the caller's cancel: neither a pass nor a fail. */
  cancelled?: true;
}

export interface SmokeOptions {
  environment: string;
  checks: SmokeCheck[];
  tier: SmokeTier;
  /** Resolves relative check URLs ("/health"). */
  baseUrl?: string;
  logDir: string;
  fetch?: typeof fetch;
  now?: () => Date;
  onLine?: (line: string) => void;
  /** Aborting ends the running check at once (a cancelled deploy); the rest are not started. */
  signal?: AbortSignal;
}

export interface SmokeReport {
  /** Every selected check ran and passed (never true after a cancel). */
  passed: boolean;
  /** The caller's signal stopped the checks before the last one finished. */
  cancelled: boolean;
  tier: SmokeTier;
  results: SmokeCheckResult[];
  logPath: string;
  summary: string;
}

/** The checks a tier runs: `critical` only critical ones, `all` everything (critical first). */
export function checksForTier(checks: SmokeCheck[], tier: SmokeTier): SmokeCheck[] {
  const critical = checks.filter((c) => c.tier === 'critical');
  return tier === 'critical' ? critical : [...critical, ...checks.filter((c) => c.tier !== 'critical')];
}

/** Reads a dotted path with optional [index] parts ("data.items[0].id") from parsed JSON. */
export function valueAtPath(root: unknown, path: string): { found: boolean; value: unknown } {
  let current: unknown = root;
  for (const part of path
    .replace(/\[(\d+)\]/g, '.$1')
    .split('.')
    .filter((p) => p !== '')) {
    if (current === null || typeof current !== 'object' || !(part in (current as object)))
      return { found: false, value: undefined };
    current = (current as Record<string, unknown>)[part];
  }
  return { found: true, value: current };
}

const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** Judges a response against a check's expectations; pure, so the rules are table-tested. */
export function judgeResponse(check: SmokeCheck, status: number, body: string): string[] {
  const problems: string[] = [];
  if (status !== check.expectStatus) problems.push(`status ${status}, expected ${check.expectStatus}`);
  if (check.bodyContains !== undefined && !body.includes(check.bodyContains)) {
    problems.push(`body does not contain ${JSON.stringify(check.bodyContains)}`);
  }
  if (check.json.length) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      problems.push('body is not JSON');
      return problems;
    }
    for (const assertion of check.json) {
      const { found, value } = valueAtPath(parsed, assertion.path);
      if (!found) problems.push(`JSON ${assertion.path} is missing`);
      else if (!sameJson(value, assertion.equals)) {
        problems.push(
          `JSON ${assertion.path} is ${JSON.stringify(value)}, expected ${JSON.stringify(assertion.equals)}`,
        );
      }
    }
  }
  return problems;
}

function absoluteUrl(check: SmokeCheck, baseUrl: string | undefined): string {
  if (/^https?:\/\//i.test(check.url)) return check.url;
  if (!baseUrl) {
    throw new ConfigError(
      `smoke check "${check.name}": url ${JSON.stringify(check.url)} is relative and no base URL is set (smoke.base_url or --base-url)`,
      {
        field: 'smoke.base_url',
      },
    );
  }
  return new URL(check.url, baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`).href;
}

async function runCheck(
  check: SmokeCheck,
  url: string,
  doFetch: typeof fetch,
  cancel?: AbortSignal,
): Promise<SmokeCheckResult> {
  const started = performance.now();
  const base = { name: check.name, tier: check.tier, url };
  // One controller for the check's timeout and the caller's cancel (no AbortSignal.any: Node 20).
  const deadline = deadlineController(check.timeoutMs, cancel);
  try {
    const response = await doFetch(url, {
      method: check.method,
      headers: check.headers,
      ...(check.body !== undefined ? { body: check.body } : {}),
      redirect: 'manual',
      signal: deadline.signal,
    });
    const body = check.method === 'HEAD' ? '' : await response.text();
    const problems = judgeResponse(check, response.status, body);
    return {
      ...base,
      passed: problems.length === 0,
      status: response.status,
      durationMs: performance.now() - started,
      problems,
    };
  } catch (error) {
    const e = error as Error & { cause?: { code?: string; message?: string; errors?: { code?: string }[] } };
    const code = e.cause?.code ?? e.cause?.errors?.[0]?.code ?? e.cause?.message;
    const timedOut = deadline.signal.reason instanceof DeadlineExceededError;
    const cancelled = !timedOut && cancel?.aborted === true;
    const reason = timedOut
      ? `no response within ${formatDuration(check.timeoutMs)}`
      : cancelled
        ? 'cancelled before it answered'
        : `request failed: ${code ?? e.message}`;
    return {
      ...base,
      passed: false,
      status: undefined,
      durationMs: performance.now() - started,
      problems: [reason],
      ...(cancelled ? { cancelled: true as const } : {}),
    };
  } finally {
    deadline.dispose();
  }
}

export async function runSmokeTests(options: SmokeOptions): Promise<SmokeReport> {
  const selected = checksForTier(options.checks, options.tier);
  const urls = selected.map((c) => absoluteUrl(c, options.baseUrl)); // config errors before any request
  const logDir = resolve(options.logDir);
  mkdirSync(logDir, { recursive: true });
  const log = new EvidenceLog(join(logDir, 'postdeploy-smoketests.log'), {
    kind: 'postdeploy-smoketests',
    tool: 'guarded-rollout smoke',
    environment: options.environment,
    now: options.now,
  });
  log.line(`tier: ${options.tier} (${selected.length} of ${options.checks.length} checks)`, '');
  const results: SmokeCheckResult[] = [];
  for (const [i, check] of selected.entries()) {
    if (options.signal?.aborted) break;
    const result = await runCheck(check, urls[i]!, options.fetch ?? fetch, options.signal);
    results.push(result);
    const line = `${result.cancelled ? 'CANCELLED' : result.passed ? 'PASS' : 'FAIL'} [${check.tier}] ${check.name}: ${check.method} ${result.url} → ${result.status ?? '-'} in ${Math.round(result.durationMs)}ms${result.problems.length ? ` — ${result.problems.join('; ')}` : ''}`;
    log.line(line);
    options.onLine?.(line);
  }
  // A cancel between checks, or during one, leaves checks unrun: never a pass ("2/2 passed" of 5).
  // (The loop stops early only on a cancel.)
  const cancelled = results.length < selected.length || results.some((r) => r.cancelled);
  const finished = results.filter((r) => !r.cancelled);
  const failed = finished.filter((r) => !r.passed);
  const passed = !cancelled && selected.length > 0 && failed.length === 0;
  const summary = cancelled
    ? `cancelled after ${finished.length} of ${selected.length} ${options.tier} smoke checks (${finished.length - failed.length} passed, ${failed.length} failed${failed.length ? `: ${failed.map((f) => f.name).join(', ')}` : ''}); the rest were not run`
    : selected.length === 0
      ? `no ${options.tier === 'critical' ? 'critical ' : ''}smoke checks configured for ${options.environment}`
      : failed.length === 0
        ? `${results.length}/${results.length} ${options.tier} smoke checks passed`
        : `${failed.length} of ${results.length} ${options.tier} smoke checks failed: ${failed.map((f) => f.name).join(', ')}`;
  log.finish(passed ? 'pass' : 'fail', summary, {
    tier: options.tier,
    checks: results.map((r) => ({
      name: r.name,
      tier: r.tier,
      passed: r.passed,
      ...(r.cancelled ? { cancelled: true } : {}),
      status: r.status ?? null,
      duration_ms: Math.round(r.durationMs),
      problems: r.problems,
    })),
    ...(cancelled ? { cancelled: true, not_run: selected.slice(results.length).map((c) => c.name) } : {}),
  });
  return { passed, cancelled, tier: options.tier, results, logPath: log.path, summary };
}

/** Throws CheckFailedError (exit 1) when the report failed; for doorways. */
export function assertSmokePassed(report: SmokeReport): void {
  if (!report.passed) throw new CheckFailedError(`${report.summary} (see ${report.logPath})`);
}
