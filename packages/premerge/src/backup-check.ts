// Judges one backup zip for verify-artifacts with the archive package's verifier: the `.sha256`
// beside it must verify (what the runbook's `sha256sum -c` checks), the manifest must read, and
// every entry must inflate to its recorded size and SHA256. Injectable, so tests and callers can
// swap it.
import { basename } from 'node:path';
import { verifyBackup } from '@guarded-rollout/archive';

export interface BackupCheck {
  ok: boolean;
  reason: string;
  sha256?: string;
  /** What the backup's manifest says, for verify-artifacts' one-evidence-set check. */
  manifest?: { environment: string; commit?: string; createdAt: string };
}

/** A whole-backup verifier; resolves (never rejects) with a verdict and a reason. */
export type BackupVerifier = (zipPath: string) => Promise<BackupCheck>;

export async function checkBackup(zipPath: string): Promise<BackupCheck> {
  const name = basename(zipPath);
  try {
    const verified = await verifyBackup(zipPath);
    const m = verified.manifest;
    return {
      ok: true,
      reason: `${name}: sha256 verified, manifest readable (${m.environment}, ${m.fileCount} files, ${m.totalBytes} bytes), every entry checked`,
      sha256: verified.sha256,
      manifest: {
        environment: m.environment,
        ...(m.commit ? { commit: m.commit } : {}),
        createdAt: m.createdAt,
      },
    };
  } catch (error) {
    return { ok: false, reason: `${name}: ${(error as Error).message}` };
  }
}
