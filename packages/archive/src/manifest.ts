// The manifest every backup carries as its last zip entry: what was backed up, from which release,
// and each entry's size, mode and SHA256, so a restore can check the archive against its own claims.
import { BackupIntegrityError } from './errors.js';

export const MANIFEST_ENTRY = '.guarded-rollout-backup.json';
export const MANIFEST_FORMAT = 'guarded-rollout-backup/1';

export type ManifestEntryType = 'file' | 'directory' | 'symlink';

export interface ManifestEntry {
  path: string;
  type: ManifestEntryType;
  /** Bytes of the file (0 for directories; the link text length for symlinks). */
  size: number;
  /** Permission bits including setuid/setgid/sticky, e.g. 0o2775 for a setgid directory. */
  mode: number;
  /** Owner and group ids at backup time (restored when the restore runs as root). */
  uid?: number;
  gid?: number;
  /** Hex SHA256 of the file's bytes (files only). */
  sha256?: string;
  /** Link text (symlinks only). */
  target?: string;
  mtimeMs?: number;
}

export interface BackupManifest {
  format: typeof MANIFEST_FORMAT;
  environment: string;
  version: string | null;
  commit: string | null;
  createdAt: string;
  tool: string;
  toolVersion: string;
  fileCount: number;
  totalBytes: number;
  entries: ManifestEntry[];
}

/** Parses and shape-checks a manifest read from an archive (its content is untrusted). */
export function parseManifest(text: string, source: string): BackupManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new BackupIntegrityError(
      `${source}: manifest ${MANIFEST_ENTRY} is not valid JSON (${(error as Error).message})`,
    );
  }
  const m = raw as Partial<BackupManifest>;
  const bad = (what: string): never => {
    throw new BackupIntegrityError(`${source}: manifest ${MANIFEST_ENTRY} ${what}`);
  };
  if (!m || typeof m !== 'object') bad('is not an object');
  if (m.format !== MANIFEST_FORMAT)
    bad(`has format ${JSON.stringify(m.format)}; expected "${MANIFEST_FORMAT}"`);
  if (typeof m.environment !== 'string') bad('lacks "environment"');
  if (typeof m.createdAt !== 'string') bad('lacks "createdAt"');
  if (!Array.isArray(m.entries)) bad('lacks "entries"');
  const types = new Set(['file', 'directory', 'symlink']);
  const entries = m.entries!;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (
      !e ||
      typeof e.path !== 'string' ||
      !types.has(e.type) ||
      typeof e.size !== 'number' ||
      typeof e.mode !== 'number'
    ) {
      bad(`entries[${i}] is malformed (needs path, type, size, mode)`);
    }
    if (e.type === 'file' && (typeof e.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(e.sha256)))
      bad(`entries[${i}] (${e.path}) lacks a sha256`);
  }
  return m as BackupManifest;
}
