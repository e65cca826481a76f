// The evidence-log format shared by every step that leaves proof behind (dry-runs, smoke tests,
// logging validation, restores). A log is trusted only when it opens with our header and ends with
// exactly one result line, so a truncated or hand-edited log never passes verify-artifacts.
//
//   # guarded-rollout evidence log
//   # kind: deploy-dryrun
//   # tool: guarded-rollout deploy
//   # tool-version: 0.1.0
//   # environment: production
//   # started-at: 2026-11-23T22:00:00.000Z
//   ...free text...
//   GUARDED-ROLLOUT-RESULT {"status":"pass","kind":"deploy-dryrun","finished_at":"...","summary":"..."}
import { appendFileSync, closeSync, fsyncSync, openSync, readFileSync, writeSync } from 'node:fs';
import { TOOL_NAME, TOOL_VERSION } from '@guarded-rollout/config/version';

export const EVIDENCE_MAGIC = '# guarded-rollout evidence log';
export const RESULT_PREFIX = 'GUARDED-ROLLOUT-RESULT ';

export type EvidenceStatus = 'pass' | 'fail';

export interface EvidenceHeader {
  kind: string;
  tool: string;
  toolVersion: string;
  environment: string;
  startedAt: string;
  /** The commit the evidence is about (`# commit:`), when the writer knew it. */
  commit?: string;
}

export interface EvidenceResult {
  status: EvidenceStatus;
  kind: string;
  finished_at: string;
  summary: string;
  [detail: string]: unknown;
}

export interface EvidenceLogOptions {
  kind: string;
  /** The command that writes it, e.g. "guarded-rollout deploy". */
  tool?: string;
  environment: string;
  /** Commit the evidence is about; default GUARDED_ROLLOUT_EVIDENCE_COMMIT (premerge.yml stamps
   *  the PR's head SHA there, so pr-check can tell evidence of this head from an older run's). */
  commit?: string;
  now?: () => Date;
}

/** Appends to an evidence log: header at creation, lines as work goes, one result line at the end. */
export class EvidenceLog {
  readonly path: string;
  private readonly kind: string;
  private readonly now: () => Date;
  private finished = false;

  constructor(path: string, options: EvidenceLogOptions) {
    this.path = path;
    this.kind = options.kind;
    this.now = options.now ?? (() => new Date());
    const header = [
      EVIDENCE_MAGIC,
      `# kind: ${options.kind}`,
      `# tool: ${options.tool ?? TOOL_NAME}`,
      `# tool-version: ${TOOL_VERSION}`,
      `# environment: ${options.environment}`,
      `# started-at: ${this.now().toISOString()}`,
      ...evidenceCommitLine(options.commit),
      '',
    ].join('\n');
    const fd = openSync(path, 'w');
    try {
      writeSync(fd, header);
    } finally {
      closeSync(fd);
    }
  }

  /** Appends free-text lines; a line that mimics the result marker is defused so it cannot forge one. */
  line(...lines: string[]): void {
    if (this.finished) throw new Error(`evidence log ${this.path} is already finished`);
    const safe = lines
      .flatMap((l) => l.split(/\r?\n/))
      .map((l) => (l.startsWith(RESULT_PREFIX.trim()) ? ` ${l}` : l));
    appendFileSync(this.path, safe.map((l) => `${l}\n`).join(''));
  }

  /** Writes the result line and flushes the file to disk. */
  finish(status: EvidenceStatus, summary: string, details: Record<string, unknown> = {}): EvidenceResult {
    if (this.finished) throw new Error(`evidence log ${this.path} is already finished`);
    const result: EvidenceResult = {
      ...details,
      status,
      kind: this.kind,
      finished_at: this.now().toISOString(),
      summary,
    };
    const fd = openSync(this.path, 'a');
    try {
      writeSync(fd, `${RESULT_PREFIX}${JSON.stringify(result)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.finished = true;
    return result;
  }
}

function evidenceCommitLine(commit: string | undefined): string[] {
  const value = (commit ?? process.env.GUARDED_ROLLOUT_EVIDENCE_COMMIT ?? '').trim();
  return /^[0-9a-f]{7,64}$/i.test(value) ? [`# commit: ${value.toLowerCase()}`] : [];
}

export interface ParsedEvidenceLog {
  header: EvidenceHeader | undefined;
  result: EvidenceResult | undefined;
  /** Why the log cannot be trusted, empty when header and result are both well-formed. */
  problems: string[];
}

/** Parses an evidence log's text; never throws. */
export function parseEvidenceLog(text: string): ParsedEvidenceLog {
  const problems: string[] = [];
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  let header: EvidenceHeader | undefined;
  if (lines[0] !== EVIDENCE_MAGIC) {
    problems.push(`does not start with the header line "${EVIDENCE_MAGIC}"`);
  } else {
    const fields: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const match = /^# ([a-z-]+): (.*)$/.exec(line);
      if (!match) break;
      fields[match[1]!] = match[2]!;
    }
    const missing = ['kind', 'tool', 'tool-version', 'environment', 'started-at'].filter(
      (k) => !(k in fields),
    );
    if (missing.length) problems.push(`header lacks ${missing.join(', ')}`);
    else
      header = {
        kind: fields.kind!,
        tool: fields.tool!,
        toolVersion: fields['tool-version']!,
        environment: fields.environment!,
        startedAt: fields['started-at']!,
        ...(fields.commit ? { commit: fields.commit } : {}),
      };
  }
  const nonEmpty = lines.filter((l) => l.trim() !== '');
  const resultLines = nonEmpty.filter((l) => l.startsWith(RESULT_PREFIX));
  let result: EvidenceResult | undefined;
  if (resultLines.length === 0) problems.push('has no result line (the step did not finish)');
  else if (resultLines.length > 1)
    problems.push(`has ${resultLines.length} result lines; exactly one is allowed`);
  else if (nonEmpty[nonEmpty.length - 1] !== resultLines[0]) problems.push('has text after its result line');
  else {
    try {
      const parsed = JSON.parse(resultLines[0]!.slice(RESULT_PREFIX.length)) as EvidenceResult;
      if (parsed.status !== 'pass' && parsed.status !== 'fail') {
        problems.push(`result status ${JSON.stringify(parsed.status)} is not "pass" or "fail"`);
      } else result = parsed;
    } catch {
      problems.push('result line is not valid JSON');
    }
  }
  if (header && result && header.kind !== result.kind) {
    problems.push(`header kind "${header.kind}" differs from result kind "${result.kind}"`);
  }
  return { header, result, problems };
}

export function readEvidenceLog(path: string): ParsedEvidenceLog {
  return parseEvidenceLog(readFileSync(path, 'utf8'));
}
