// Reads the premerge_artifacts bundle (the zip GitHub serves for the artifact) without trusting
// it: entry count and sizes are capped, names are normalised by the archive package's safety
// rules, logs are parsed in memory and backups are verified against their `.sha256` in a private
// temporary directory. Nothing is extracted for a shell or executed.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  normaliseEntryName,
  openArchive,
  readSmallEntry,
  verifyBackup,
  type ArchiveEntry,
} from '@guarded-rollout/archive';
import { parseEvidenceLog, type ParsedEvidenceLog } from '@guarded-rollout/evidence';

export interface BundleBackup {
  /** Path inside the bundle, e.g. "backups/dhash_staging_20261123T100000Z.zip". */
  name: string;
  ok: boolean;
  reason: string;
  environment?: string;
}

export interface EvidenceBundle {
  /** Normalised names of every file in the bundle. */
  files: string[];
  /** Every `*.log` at any depth, parsed. */
  logs: Map<string, ParsedEvidenceLog>;
  backups: BundleBackup[];
}

export interface BundleCaps {
  /** Largest bundle accepted for download (bytes). */
  maxBundleBytes: number;
  maxEntries: number;
  /** Largest log read into memory. */
  maxLogBytes: number;
  /** Largest backup zip verified. */
  maxBackupBytes: number;
  /** At most this many backups are verified (newest names first). */
  maxBackups: number;
}

export const DEFAULT_BUNDLE_CAPS: BundleCaps = {
  maxBundleBytes: 512 * 1024 * 1024,
  maxEntries: 10_000,
  maxLogBytes: 8 * 1024 * 1024,
  maxBackupBytes: 256 * 1024 * 1024,
  maxBackups: 3,
};

/** Thrown when the bundle itself cannot be read; the message names what is wrong. */
export class EvidenceBundleError extends Error {}

export async function readEvidenceBundle(
  zip: Buffer,
  caps: BundleCaps = DEFAULT_BUNDLE_CAPS,
): Promise<EvidenceBundle> {
  if (zip.length > caps.maxBundleBytes)
    throw new EvidenceBundleError(
      `the bundle is ${zip.length} bytes, more than the cap of ${caps.maxBundleBytes}`,
    );
  const dir = await mkdtemp(join(tmpdir(), 'pr-check-evidence-'));
  try {
    const bundlePath = join(dir, 'bundle.zip');
    await writeFile(bundlePath, zip, { mode: 0o600 });
    let archive;
    try {
      archive = await openArchive(bundlePath, caps.maxEntries);
    } catch (error) {
      throw new EvidenceBundleError(`the bundle is not a readable zip: ${(error as Error).message}`);
    }
    try {
      const byName = new Map<string, ArchiveEntry>();
      for (const entry of archive.entries) {
        if (entry.type !== 'file') continue;
        let name: string;
        try {
          name = normaliseEntryName(entry.name);
        } catch (error) {
          throw new EvidenceBundleError(`the bundle holds an unsafe entry: ${(error as Error).message}`);
        }
        if (entry.encrypted) throw new EvidenceBundleError(`bundle entry ${name} is encrypted`);
        byName.set(name, entry);
      }
      const logs = new Map<string, ParsedEvidenceLog>();
      for (const [name, entry] of byName) {
        if (!name.endsWith('.log')) continue;
        if (entry.uncompressedSize > caps.maxLogBytes) {
          logs.set(name, {
            header: undefined,
            result: undefined,
            problems: [`is ${entry.uncompressedSize} bytes, more than the ${caps.maxLogBytes}-byte cap`],
          });
          continue;
        }
        try {
          logs.set(
            name,
            parseEvidenceLog((await readSmallEntry(archive, entry, caps.maxLogBytes)).toString('utf8')),
          );
        } catch (error) {
          logs.set(name, { header: undefined, result: undefined, problems: [(error as Error).message] });
        }
      }
      const zips = [...byName.keys()]
        .filter((n) => /^backups\/[^/]+\.zip$/.test(n))
        .sort()
        .reverse()
        .slice(0, caps.maxBackups);
      const backups: BundleBackup[] = [];
      for (const name of zips) backups.push(await checkBundledBackup(archive, byName, name, dir, caps));
      return { files: [...byName.keys()].sort(), logs, backups };
    } finally {
      archive.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function checkBundledBackup(
  archive: Awaited<ReturnType<typeof openArchive>>,
  byName: Map<string, ArchiveEntry>,
  name: string,
  dir: string,
  caps: BundleCaps,
): Promise<BundleBackup> {
  const sum = byName.get(`${name}.sha256`);
  if (!sum) return { name, ok: false, reason: `${name} has no ${name.split('/').pop()}.sha256 beside it` };
  const own = join(dir, `backup-${Math.random().toString(36).slice(2)}`);
  try {
    await mkdir(own, { mode: 0o700 });
    const base = name.split('/').pop()!;
    await writeFile(join(own, base), await readSmallEntry(archive, byName.get(name)!, caps.maxBackupBytes));
    await writeFile(join(own, `${base}.sha256`), await readSmallEntry(archive, sum, 4096));
    const verified = await verifyBackup(join(own, base));
    return {
      name,
      ok: true,
      reason: `${name}: sha256 verified, ${verified.manifest.fileCount} files of ${verified.manifest.environment} checked`,
      environment: verified.manifest.environment,
    };
  } catch (error) {
    // Say it in the bundle's terms: the private temporary path means nothing to a PR author.
    const message = (error as Error).message.split(own).join(name.slice(0, name.lastIndexOf('/')));
    return { name, ok: false, reason: `${name}: ${message}` };
  }
}
