// Backup file names (`<prefix>_<env>_<UTC YYYYMMDDTHHMMSSZ>.zip`), finding the newest backup of one
// environment, and retention. Names sort lexically in time order, which is what the seed's
// `ls -1 backups/dhash_*.zip | sort -r | head -n1` relies on.
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '@guarded-rollout/config/errors';

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

function stampToDate(stamp: string): Date {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(stamp)!;
  return new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
}

/** A name no backup of `env` in `dir` has ever had (complete, partial or orphaned), in the
 *  contract's format: the creation second, or one second past the newest existing name when two
 *  backups come within one second (or the clock stepped back). So names never repeat and still
 *  sort chronologically under `ls -1 backups/dhash_*.zip | sort -r | head -n1` in any locale
 *  (same length, same prefix, only digits differ). An orphan `.sha256` counts as a used name, and
 *  so do `seen` (names listed before a sweep removed leftovers). Call it while holding the
 *  environment's lock. */
export function uniqueBackupFileName(
  dir: string,
  prefix: string,
  env: string,
  createdAt: Date,
  seen: string[] = [],
): string {
  let newest: string | undefined;
  const names = [...listNames(dir), ...seen];
  const taken = new RegExp(`^\\.?${escapeRegExp(prefix)}_${escapeRegExp(env)}_(\\d{8}T\\d{6}Z)\\.zip`);
  for (const name of names) {
    const m = taken.exec(name);
    if (m && (!newest || m[1]! > newest)) newest = m[1]!;
  }
  let when = new Date(Math.floor(createdAt.getTime() / 1000) * 1000);
  if (newest && compactUtc(when) <= newest) when = new Date(stampToDate(newest).getTime() + 1000);
  return backupFileName(prefix, env, when);
}

/** The names in `dir`; none when it does not exist. */
export function listNames(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    return [];
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The lock file serialising backups of one environment in `dir`. */
export function backupLockPath(dir: string, prefix: string, env: string): string {
  return join(dir, `.${prefix}_${env}.lock`);
}

/** Leftovers of interrupted backups of `env` (call while holding its lock, so none is in
 *  progress): temp files of dead processes, a `.sha256` whose zip never took its name (killed
 *  between the two: the `.sha256` is written first) or was deleted, a zip without its `.sha256`
 *  (left by versions that wrote the `.sha256` last), dump directories. One note per removal. */
export function sweepInterruptedBackups(
  dir: string,
  env: string,
  prefix = DEFAULT_PREFIX,
  isAlive: (pid: number) => boolean = () => false,
): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const present = new Set(names);
  const notes: string[] = [];
  const mine = `${prefix}_${env}_`;
  const remove = (name: string, why: string): void => {
    rmSync(join(dir, name), { recursive: true, force: true });
    notes.push(`removed ${join(dir, name)}: ${why}`);
  };
  for (const name of names) {
    const partial = /^\.(.+)\.partial-(\d+)$/.exec(name);
    if (partial && partial[1]!.startsWith(mine) && Number(partial[2]) !== process.pid) {
      if (!isAlive(Number(partial[2])))
        remove(name, `temp file of an interrupted backup (pid ${partial[2]} is gone)`);
      continue;
    }
    const dump = new RegExp(`^\\.dump-${escapeRegExp(env)}-(\\d+)-`).exec(name);
    if (dump && Number(dump[1]) !== process.pid && !isAlive(Number(dump[1]))) {
      remove(name, `dump directory of an interrupted backup (pid ${dump[1]} is gone)`);
      continue;
    }
    const parsed = parseBackupFileName(name);
    if (parsed && parsed.prefix === prefix && parsed.environment === env && !present.has(`${name}.sha256`)) {
      remove(name, 'zip of an interrupted backup without its .sha256 (never complete, never restored)');
      continue;
    }
    if (name.endsWith('.zip.sha256')) {
      const zip = parseBackupFileName(name.slice(0, -'.sha256'.length));
      if (zip && zip.prefix === prefix && zip.environment === env && !present.has(zip.file))
        remove(
          name,
          'orphan checksum file: its zip is missing (a backup interrupted before the zip took its name, or the zip was deleted)',
        );
    }
  }
  return notes;
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
 *  The zip goes first, so every `dhash_*.zip` keeps its `.sha256` at every instant: a deletion
 *  cut short leaves at worst an orphan `.sha256`, swept by the next backup. Returns the deleted
 *  zip paths. */
export function applyRetention(dir: string, env: string, keep: number, prefix = DEFAULT_PREFIX): string[] {
  const all = listBackups(dir, env, prefix);
  const doomed = all.slice(keep);
  for (const zip of doomed) {
    rmSync(zip, { force: true });
    rmSync(`${zip}.sha256`, { force: true });
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
