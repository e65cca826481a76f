// Backup file names (`<prefix>_<env>_<UTC YYYYMMDDTHHMMSSZ>.zip`), finding the newest backup of one
// environment, and retention. Names sort lexically in time order, which is what the seed's
// `ls -1 backups/dhash_*.zip | sort -r | head -n1` relies on.
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '@guarded-rollout/config';

export const DEFAULT_PREFIX = 'dhash';
export const DEFAULT_OUT_DIR = 'backups';

// No underscore in environment names: it separates the name's fields, so "prod_eu" would make
// `dhash_prod_*` match another environment's backups.
const ENVIRONMENT = /^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/;
const PREFIX = /^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/;

export function assertEnvironmentName(env: string, field = 'environment'): string {
  if (!ENVIRONMENT.test(env)) {
    throw new ConfigError(
      `${field}: ${JSON.stringify(env)} is not a valid environment name; use letters, digits, "." or "-" (no "_", no "/"), e.g. "production"`,
      { field },
    );
  }
  return env;
}

export function assertPrefix(prefix: string): string {
  if (!PREFIX.test(prefix)) {
    throw new ConfigError(
      `prefix: ${JSON.stringify(prefix)} is not valid; use letters, digits, "." or "-", e.g. "dhash"`,
      {
        field: 'prefix',
      },
    );
  }
  return prefix;
}

/** `20261123T220000Z` for a Date, in UTC. */
export function compactUtc(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
}

export function backupFileName(prefix: string, env: string, createdAt: Date): string {
  return `${prefix}_${env}_${compactUtc(createdAt)}.zip`;
}

export interface BackupName {
  file: string;
  prefix: string;
  environment: string;
  stamp: string;
}

const NAME = /^([A-Za-z0-9][A-Za-z0-9.-]*)_([A-Za-z0-9][A-Za-z0-9.-]*)_(\d{8}T\d{6}Z)\.zip$/;

export function parseBackupFileName(file: string): BackupName | undefined {
  const m = NAME.exec(file);
  return m ? { file, prefix: m[1]!, environment: m[2]!, stamp: m[3]! } : undefined;
}

/** Complete backups of one environment in `dir`, newest first. A zip without its `.sha256` is an
 *  interrupted or in-progress backup and is never listed. */
export function listBackups(dir: string, env: string, prefix = DEFAULT_PREFIX): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const present = new Set(names);
  return names
    .map(parseBackupFileName)
    .filter(
      (n): n is BackupName =>
        !!n && n.prefix === prefix && n.environment === env && present.has(`${n.file}.sha256`),
    )
    .sort((a, b) => (a.stamp < b.stamp ? 1 : a.stamp > b.stamp ? -1 : 0))
    .map((n) => join(dir, n.file));
}

/** The newest complete backup of `env` in `dir`, or undefined. */
export function findLatestBackup(dir: string, env: string, prefix = DEFAULT_PREFIX): string | undefined {
  return listBackups(dir, env, prefix)[0];
}

/** Keeps the newest `keep` complete backups of `env`; deletes older ones with their `.sha256`.
 *  The checksum goes first so that a half-finished deletion never leaves a zip looking complete
 *  with a wrong companion. Returns the deleted zip paths. */
export function applyRetention(dir: string, env: string, keep: number, prefix = DEFAULT_PREFIX): string[] {
  const all = listBackups(dir, env, prefix);
  const doomed = all.slice(keep);
  for (const zip of doomed) {
    rmSync(`${zip}.sha256`, { force: true });
    rmSync(zip, { force: true });
  }
  return doomed;
}

export function assertKeep(value: unknown, field = 'keep'): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 10_000) {
    throw new ConfigError(
      `${field}: ${JSON.stringify(value)} is not a whole number from 1 to 10000 (how many backups per environment to keep)`,
      {
        field,
      },
    );
  }
  return n;
}
