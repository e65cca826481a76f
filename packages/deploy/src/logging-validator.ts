// Logging validation: does the service emit usable structured logs? Every line should be a JSON
// object with an ISO-8601 timestamp, a level, a message and a request id, and no line may leak a
// secret or obvious PII. The assessment is pure; reading a file or running a command is the edge.
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError } from '@guarded-rollout/config';
import { EvidenceLog } from '@guarded-rollout/evidence';
import { runCommand } from './process-runner.js';
import type { LogField } from './rollout-config.js';

/** Accepted spellings per required field (common logger conventions: pino, bunyan, winston, zap). */
export const FIELD_ALIASES: Record<LogField, string[]> = {
  timestamp: ['timestamp', '@timestamp', 'time', 'ts'],
  level: ['level', 'severity', 'lvl', 'levelname'],
  message: ['message', 'msg'],
  request_id: ['request_id', 'requestId', 'req_id', 'reqId', 'request-id', 'trace_id', 'traceId'],
};

const LEVELS = new Set([
  'trace',
  'debug',
  'info',
  'notice',
  'warn',
  'warning',
  'error',
  'fatal',
  'critical',
  'crit',
  'alert',
  'emergency',
]);
// Date and time with seconds and an explicit zone (Z or ±hh:mm), as RFC 3339 profiles ISO 8601.
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})$/;

/** What leaks look like. Each is named so the report says what was found without repeating it. */
export const LEAK_PATTERNS: { kind: string; pattern: RegExp }[] = [
  { kind: 'GitHub token', pattern: /\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})\b/ },
  { kind: 'Slack token', pattern: /\bxox[abposr]-[A-Za-z0-9-]{10,}/ },
  { kind: 'AWS access key', pattern: /\b(AKIA|ASIA)[A-Z0-9]{16}\b/ },
  { kind: 'private key', pattern: /-----BEGIN [A-Z ]*PRIVATE KEY-----/ },
  { kind: 'JSON web token', pattern: /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/ },
  { kind: 'bearer credential', pattern: /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{16,}/i },
  {
    kind: 'webhook URL',
    pattern:
      /https:\/\/(hooks\.slack\.com\/(services|workflows)\/|discord(app)?\.com\/api\/webhooks\/|[a-z0-9-]+\.webhook\.office\.com\/|outlook\.office\.com\/webhook\/)\S+/i,
  },
  { kind: 'credentials in URL', pattern: /\b[a-z][a-z0-9+.-]*:\/\/[^\s/:@"']+:[^\s/@"']+@/i },
  {
    kind: 'password field',
    pattern: /"(password|passwd|secret|api[_-]?key|access[_-]?token|client[_-]?secret)"\s*:\s*"[^"*]{3,}"/i,
  },
  { kind: 'email address', pattern: /\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b/ },
];

export interface LineProblem {
  line: number;
  problem: string;
}

export interface LoggingAssessment {
  totalLines: number;
  jsonLines: number;
  /** Lines that are JSON with every required field well-formed. */
  structuredLines: number;
  coverage: number;
  fieldCoverage: Record<string, number>;
  problems: LineProblem[];
  leaks: { line: number; kind: string }[];
  passed: boolean;
  summary: string;
}

function pick(record: Record<string, unknown>, field: LogField): unknown {
  for (const name of FIELD_ALIASES[field]) if (name in record) return record[name];
  return undefined;
}

function fieldProblem(field: LogField, value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return `missing ${field}`;
  switch (field) {
    case 'timestamp':
      return typeof value === 'string' && ISO_8601.test(value) && !Number.isNaN(Date.parse(value))
        ? undefined
        : `timestamp ${JSON.stringify(value)} is not ISO-8601 with a time zone`;
    case 'level':
      return typeof value === 'string' && LEVELS.has(value.toLowerCase())
        ? undefined
        : `level ${JSON.stringify(value)} is not a log level name`;
    default:
      return typeof value === 'string' || typeof value === 'number' ? undefined : `${field} is not a string`;
  }
}

/** Assesses log text; blank lines are ignored. Pure. */
export function assessLogLines(
  text: string,
  options: { requiredFields: LogField[]; minCoverage: number },
): LoggingAssessment {
  const lines = text.split(/\r?\n/);
  const problems: LineProblem[] = [];
  const leaks: { line: number; kind: string }[] = [];
  const present: Record<string, number> = Object.fromEntries(options.requiredFields.map((f) => [f, 0]));
  let total = 0;
  let json = 0;
  let structured = 0;
  for (const [index, raw] of lines.entries()) {
    if (raw.trim() === '') continue;
    total++;
    const n = index + 1;
    for (const { kind, pattern } of LEAK_PATTERNS) if (pattern.test(raw)) leaks.push({ line: n, kind });
    let record: unknown;
    try {
      record = JSON.parse(raw);
    } catch {
      problems.push({ line: n, problem: 'not JSON' });
      continue;
    }
    if (record === null || typeof record !== 'object' || Array.isArray(record)) {
      problems.push({ line: n, problem: 'not a JSON object' });
      continue;
    }
    json++;
    const lineProblems: string[] = [];
    for (const field of options.requiredFields) {
      const problem = fieldProblem(field, pick(record as Record<string, unknown>, field));
      if (problem) lineProblems.push(problem);
      else present[field]!++;
    }
    if (lineProblems.length) problems.push({ line: n, problem: lineProblems.join(', ') });
    else structured++;
  }
  const coverage = total === 0 ? 0 : structured / total;
  const fieldCoverage = Object.fromEntries(
    Object.entries(present).map(([f, c]) => [f, total === 0 ? 0 : c / total]),
  );
  const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
  const reasons: string[] = [];
  if (total === 0) reasons.push('no log lines to check');
  else if (coverage < options.minCoverage)
    reasons.push(`structured coverage ${pct(coverage)} is below ${pct(options.minCoverage)}`);
  if (leaks.length)
    reasons.push(
      `${leaks.length} line(s) leak secrets or PII (${[...new Set(leaks.map((l) => l.kind))].join(', ')})`,
    );
  const passed = reasons.length === 0;
  const summary = passed
    ? `${structured}/${total} lines structured (${pct(coverage)}), no secrets or PII found`
    : `${reasons.join('; ')}`;
  return {
    totalLines: total,
    jsonLines: json,
    structuredLines: structured,
    coverage,
    fieldCoverage,
    problems,
    leaks,
    passed,
    summary,
  };
}

export interface ValidateLoggingOptions {
  environment: string;
  /** A log file to read; or `command`, whose stdout and stderr are the logs. */
  file?: string;
  command?: string;
  commandTimeoutMs?: number;
  cwd?: string;
  requiredFields: LogField[];
  minCoverage: number;
  logDir: string;
  now?: () => Date;
}

export interface LoggingReport extends LoggingAssessment {
  source: string;
  logPath: string;
}

/** Reads the logs, assesses them and writes test_logging.log. Leaked values are never echoed. */
export async function validateLogging(options: ValidateLoggingOptions): Promise<LoggingReport> {
  let text: string;
  let source: string;
  if (options.file) {
    source = `file ${options.file}`;
    try {
      text = readFileSync(resolve(options.cwd ?? '.', options.file), 'utf8');
    } catch (error) {
      throw new ConfigError(
        `log file cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
        { file: options.file },
      );
    }
  } else if (options.command) {
    source = `command ${options.command}`;
    const chunks: string[] = [];
    const result = await runCommand({
      command: options.command,
      cwd: options.cwd ?? process.cwd(),
      timeoutMs: options.commandTimeoutMs ?? 30_000,
      killGraceMs: 2000,
      onLine: (line) => chunks.push(line),
    });
    if (result.outcome === 'timed-out') chunks.push(''); // what it printed so far is still judged
    text = chunks.join('\n');
  } else {
    throw new ConfigError(
      'no log source: pass --file or set logging.file or logging.command for the environment',
      { field: 'logging.file' },
    );
  }
  const assessment = assessLogLines(text, options);
  const logDir = resolve(options.logDir);
  mkdirSync(logDir, { recursive: true });
  const log = new EvidenceLog(join(logDir, 'test_logging.log'), {
    kind: 'test_logging',
    tool: 'guarded-rollout validate-logging',
    environment: options.environment,
    now: options.now,
  });
  log.line(
    `source: ${source}`,
    `required fields: ${options.requiredFields.join(', ')} (minimum coverage ${options.minCoverage})`,
    `lines: ${assessment.totalLines}, JSON: ${assessment.jsonLines}, structured: ${assessment.structuredLines}`,
    ...Object.entries(assessment.fieldCoverage).map(([f, c]) => `  ${f}: ${(c * 100).toFixed(1)}%`),
  );
  const shown = assessment.problems.slice(0, 50);
  if (shown.length)
    log.line(
      '',
      'lines that are not fully structured:',
      ...shown.map((p) => `  line ${p.line}: ${p.problem}`),
    );
  if (assessment.problems.length > shown.length)
    log.line(`  ... and ${assessment.problems.length - shown.length} more`);
  if (assessment.leaks.length)
    log.line(
      '',
      'lines leaking secrets or PII (values withheld):',
      ...assessment.leaks.map((l) => `  line ${l.line}: ${l.kind}`),
    );
  log.finish(assessment.passed ? 'pass' : 'fail', assessment.summary, {
    lines: assessment.totalLines,
    structured: assessment.structuredLines,
    coverage: Number(assessment.coverage.toFixed(4)),
    leaks: assessment.leaks.length,
  });
  return { ...assessment, source, logPath: log.path };
}
