// verify-artifacts: judges a directory (a downloaded artifact bundle or the workspace) against the
// manifest of required artifacts. An evidence log counts only with our header and a passing
// result line; a backup only with a verifying .sha256 and a readable manifest.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { parseEvidenceLog } from '@guarded-rollout/evidence';
import type { ArtifactManifest, ArtifactSpec } from './artifact-manifest.js';
import { checkBackup, type BackupVerifier } from './backup-check.js';

export type ArtifactStatus = 'ok' | 'missing' | 'empty' | 'failed' | 'untrusted' | 'invalid';

export interface ArtifactCheck {
  name: string;
  type: ArtifactSpec['type'];
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

async function judge(
  directory: string,
  spec: ArtifactSpec,
  verifyBackup: BackupVerifier,
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
      const what = `${parsed.result.summary ? `: ${parsed.result.summary}` : ''} (${parsed.header.environment}, ${parsed.result.finished_at})`;
      return parsed.result.status === 'pass'
        ? { status: 'ok', reason: `${path} passed${what}`, paths: [path] }
        : { status: 'failed', reason: `${path} failed${what}`, paths: [path] };
    }
    case 'backup': {
      const zips = paths.filter((p) => p.toLowerCase().endsWith('.zip'));
      if (zips.length === 0) return { status: 'missing', reason: `no .zip among ${paths.join(', ')}`, paths };
      const results = await Promise.all(zips.map((p) => verifyBackup(abs(p))));
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

export async function verifyArtifacts(options: VerifyArtifactsOptions): Promise<ArtifactReport> {
  const verifyBackup = options.verifyBackup ?? ((zip: string) => checkBackup(zip));
  const checks: ArtifactCheck[] = [];
  for (const spec of options.manifest.artifacts) {
    const verdict = await judge(options.directory, spec, verifyBackup).catch((error: unknown) => ({
      status: 'invalid' as const,
      reason: `cannot be read: ${(error as Error).message}`,
      paths: [],
    }));
    checks.push({ name: spec.name, type: spec.type, required: spec.required, ...verdict });
  }
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
