// verify-artifacts: judges a directory (a downloaded artifact bundle or the workspace) against the
// manifest of required artifacts. An evidence log counts only with our header and a passing
// result line; a backup only with a verifying .sha256 and a readable manifest. The whole set must
// be one rehearsal: every log and backup of one environment and one commit, and no log that
// refers to a backup older than that backup (a stale log copied beside a new backup).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, posix } from 'node:path';
import { ConfigError } from '@guarded-rollout/config';
import { parseEvidenceLog } from '@guarded-rollout/evidence';
import type { ArtifactManifest, ArtifactSpec } from './artifact-manifest.js';
import { checkBackup, type BackupVerifier } from './backup-check.js';

export type ArtifactStatus = 'ok' | 'missing' | 'empty' | 'failed' | 'untrusted' | 'invalid';

export interface ArtifactCheck {
  name: string;
  /** `evidence-set`: the consistency of everything judged (one environment, one commit, in order). */
  type: ArtifactSpec['type'] | 'evidence-set';
  required: boolean;
  status: ArtifactStatus;
  reason: string;
  /** Paths (relative to the checked directory) that were judged. */
  paths: string[];
}

export interface ArtifactReport {
  directory: string;
  checks: ArtifactCheck[];
  /** Names of required artifacts that are not ok. */
  missing: string[];
  ok: boolean;
}

export interface VerifyArtifactsOptions {
  directory: string;
  manifest: ArtifactManifest;
  /** Replaces the built-in backup check (sha256 + manifest), e.g. with the archive package's verifier. */
  verifyBackup?: BackupVerifier;
}

function globToRegExp(pattern: string): RegExp {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '[^/]*')
    .replace(/\?/g, '[^/]');
  return new RegExp(`^${source}$`);
}

/** Files matching a relative path whose last segment may hold * or ? (sorted, newest name last). */
export function expandPath(directory: string, relative: string): string[] {
  if (!/[*?]/.test(relative)) return existsSync(join(directory, relative)) ? [relative] : [];
  const dir = posix.dirname(relative);
  const matcher = globToRegExp(posix.basename(relative));
  let names: string[];
  try {
    names = readdirSync(join(directory, dir));
  } catch {
    return [];
  }
  return names
    .filter((n) => matcher.test(n))
    .sort()
    .map((n) => (dir === '.' ? n : `${dir}/${n}`));
}

/** What one judged file says about the rehearsal it belongs to. */
interface Provenance {
  path: string;
  environment: string;
  commit?: string;
  /** When the log started / the backup was created. */
  at: string;
  /** The backup a log refers to (its file name), e.g. a rollback dry-run's restored_from. */
  refersTo?: string;
}

async function judge(
  directory: string,
  spec: ArtifactSpec,
  verifyBackup: BackupVerifier,
  provenance: Provenance[],
): Promise<Omit<ArtifactCheck, 'name' | 'type' | 'required'>> {
  let paths: string[] = [];
  for (const candidate of spec.paths) {
    paths = expandPath(directory, candidate);
    if (paths.length) break;
  }
  if (paths.length === 0)
    return { status: 'missing', reason: `not found (looked for ${spec.paths.join(', ')})`, paths: [] };
  const abs = (p: string): string => join(directory, p);

  switch (spec.type) {
    case 'directory': {
      const path = paths[0]!;
      if (!statSync(abs(path)).isDirectory())
        return { status: 'invalid', reason: `${path} is a file, not a directory`, paths: [path] };
      const entries = readdirSync(abs(path));
      return entries.length
        ? {
            status: 'ok',
            reason: `${path}/ holds ${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}`,
            paths: [path],
          }
        : { status: 'empty', reason: `${path}/ is empty`, paths: [path] };
    }
    case 'file': {
      const path = paths[0]!;
      const stat = statSync(abs(path));
      if (!stat.isFile()) return { status: 'invalid', reason: `${path} is not a file`, paths: [path] };
      return stat.size
        ? { status: 'ok', reason: `${path} (${stat.size} bytes)`, paths: [path] }
        : { status: 'empty', reason: `${path} is empty`, paths: [path] };
    }
    case 'evidence-log': {
      const path = paths[0]!;
      if (!statSync(abs(path)).isFile())
        return { status: 'invalid', reason: `${path} is not a file`, paths: [path] };
      const text = readFileSync(abs(path), 'utf8');
      if (text.trim() === '') return { status: 'empty', reason: `${path} is empty`, paths: [path] };
      const parsed = parseEvidenceLog(text);
      if (parsed.problems.length || !parsed.header || !parsed.result) {
        return { status: 'untrusted', reason: `${path} ${parsed.problems.join('; ')}`, paths: [path] };
      }
      if (spec.kind && parsed.header.kind !== spec.kind) {
        return {
          status: 'untrusted',
          reason: `${path} is a "${parsed.header.kind}" log, expected "${spec.kind}"`,
          paths: [path],
        };
      }
      const details = parsed.result;
      const commit = [details.commit, details.ref, details.sha].find(
        (c): c is string => typeof c === 'string' && /^[0-9a-f]{7,40}$/i.test(c),
      );
      const refersTo = [details.restored_from, details.backup, details.backup_path].find(
        (b): b is string => typeof b === 'string' && b.toLowerCase().endsWith('.zip'),
      );
      provenance.push({
        path,
        environment: parsed.header.environment,
        ...(commit ? { commit } : {}),
        at: parsed.header.startedAt,
        ...(refersTo ? { refersTo: basename(refersTo) } : {}),
      });
      const what = `${parsed.result.summary ? `: ${parsed.result.summary}` : ''} (${parsed.header.environment}, ${parsed.result.finished_at})`;
      return parsed.result.status === 'pass'
        ? { status: 'ok', reason: `${path} passed${what}`, paths: [path] }
        : { status: 'failed', reason: `${path} failed${what}`, paths: [path] };
    }
    case 'backup': {
      const zips = paths.filter((p) => p.toLowerCase().endsWith('.zip'));
      if (zips.length === 0) return { status: 'missing', reason: `no .zip among ${paths.join(', ')}`, paths };
      const results = await Promise.all(zips.map((p) => verifyBackup(abs(p))));
      results.forEach((r, i) => {
        if (r.manifest)
          provenance.push({
            path: zips[i]!,
            environment: r.manifest.environment,
            ...(r.manifest.commit ? { commit: r.manifest.commit } : {}),
            at: r.manifest.createdAt,
          });
      });
      const bad = results.filter((r) => !r.ok);
      if (bad.length) return { status: 'invalid', reason: bad.map((r) => r.reason).join('; '), paths: zips };
      return {
        status: 'ok',
        reason: `${zips.length} backup${zips.length === 1 ? '' : 's'} verified: ${results.map((r) => r.reason).join('; ')}`,
        paths: zips,
      };
    }
  }
}

/** One evidence set: one environment, one commit, and no log older than the backup it refers to. */
export function judgeEvidenceSet(provenance: Provenance[]): ArtifactCheck {
  const problems: string[] = [];
  const groups = (key: (p: Provenance) => string | undefined): Map<string, string[]> => {
    const map = new Map<string, string[]>();
    for (const p of provenance) {
      const k = key(p);
      if (k !== undefined) map.set(k, [...(map.get(k) ?? []), p.path]);
    }
    return map;
  };
  const describe = (map: Map<string, string[]>): string =>
    [...map].map(([k, files]) => `${k} (${files.join(', ')})`).join('; ');
  const environments = groups((p) => p.environment);
  if (environments.size > 1) problems.push(`environments differ: ${describe(environments)}`);
  const commits = groups((p) => p.commit?.toLowerCase());
  // A short and a full SHA of one commit agree.
  const distinct = [...commits.keys()].filter((c, _i, all) => !all.some((o) => o !== c && o.startsWith(c)));
  if (distinct.length > 1) problems.push(`commits differ: ${describe(commits)}`);
  for (const log of provenance.filter((p) => p.refersTo)) {
    const backup = provenance.find((p) => basename(p.path) === log.refersTo);
    if (backup && Date.parse(log.at) < Date.parse(backup.at))
      problems.push(
        `${log.path} (started ${log.at}) is older than the backup it refers to, ${backup.path} (created ${backup.at})`,
      );
  }
  const environment = [...environments.keys()][0];
  return {
    name: 'one evidence set',
    type: 'evidence-set',
    required: true,
    status: problems.length ? 'failed' : 'ok',
    reason: problems.length
      ? problems.join('; ')
      : provenance.length
        ? `${provenance.length} logs and backups agree: environment ${environment}${distinct.length ? `, commit ${distinct[0]}` : ''}`
        : 'nothing to compare',
    paths: provenance.map((p) => p.path),
  };
}

export async function verifyArtifacts(options: VerifyArtifactsOptions): Promise<ArtifactReport> {
  let isDirectory = false;
  try {
    isDirectory = statSync(options.directory).isDirectory();
  } catch {
    isDirectory = false;
  }
  if (!isDirectory)
    throw new ConfigError(
      `${options.directory} ${existsSync(options.directory) ? 'is not a directory' : 'does not exist'}; give the directory holding the evidence (the workspace or a downloaded premerge_artifacts bundle)`,
      { field: 'directory' },
    );
  const verifyBackup = options.verifyBackup ?? ((zip: string) => checkBackup(zip));
  const checks: ArtifactCheck[] = [];
  const provenance: Provenance[] = [];
  for (const spec of options.manifest.artifacts) {
    const verdict = await judge(options.directory, spec, verifyBackup, provenance).catch(
      (error: unknown) => ({
        status: 'invalid' as const,
        reason: `cannot be read: ${(error as Error).message}`,
        paths: [],
      }),
    );
    checks.push({ name: spec.name, type: spec.type, required: spec.required, ...verdict });
  }
  checks.push(judgeEvidenceSet(provenance));
  const missing = checks.filter((c) => c.required && c.status !== 'ok').map((c) => c.name);
  return { directory: options.directory, checks, missing, ok: missing.length === 0 };
}

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

/** ✅ ok; ❌ required and not ok; ➖ optional and absent; ⚠️ optional but bad. */
export function artifactIcon(check: ArtifactCheck): string {
  if (check.status === 'ok') return '✅';
  if (check.required) return '❌';
  return check.status === 'missing' ? '➖' : '⚠️';
}

export function renderArtifactReport(report: ArtifactReport): string {
  const lines = [
    `**verify-artifacts** in \`${report.directory}\`: ${report.ok ? '✅ all required artifacts present and passing' : `❌ ${report.missing.length} required artifact${report.missing.length === 1 ? '' : 's'} missing or failing`}`,
    '',
    '| | artifact | required | status | why |',
    '|---|---|---|---|---|',
    ...report.checks.map(
      (c) =>
        `| ${artifactIcon(c)} | \`${cell(c.name)}\` | ${c.required ? 'yes' : 'no (if available)'} | ${c.status} | ${cell(c.reason)} |`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}
