// Checks one backup zip the way the runbook does (`sha256sum -c <zip>.sha256`) plus that the zip's
// manifest can be read. The manifest reader sits behind a small interface so the archive package's
// full verifier can replace it.
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import yauzl from 'yauzl';

export interface BackupCheck {
  ok: boolean;
  reason: string;
  sha256?: string;
}

/** Reads a backup's manifest; resolves to a short description, rejects with a reason. */
export interface BackupManifestReader {
  readManifest(zipPath: string): Promise<string>;
}

/** A whole-backup verifier (e.g. the archive package's verifyBackup) that replaces our checks. */
export type BackupVerifier = (zipPath: string) => Promise<BackupCheck>;

export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Parses sha256sum output: `<64 hex>  <name>` (text) or `<64 hex> *<name>` (binary mode). */
export function parseChecksumFile(text: string): { hex: string; name: string }[] {
  return text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '')
    .map((line) => {
      const match = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(line);
      if (!match)
        throw new Error(`line ${JSON.stringify(line.slice(0, 100))} is not "<sha256>  <file name>"`);
      return { hex: match[1]!.toLowerCase(), name: match[2]! };
    });
}

const MANIFEST_ENTRY = /(^|\/)(backup[-_])?manifest\.json$/i;

/** Finds `manifest.json` in the zip (by central directory, without extracting) and parses it. */
export const zipManifestReader: BackupManifestReader = {
  readManifest(zipPath: string): Promise<string> {
    return new Promise((resolve, reject) => {
      yauzl.open(zipPath, { lazyEntries: true, autoClose: true }, (openError, zip) => {
        if (openError || !zip)
          return reject(new Error(`not a readable zip (${openError?.message ?? 'unknown error'})`));
        let found = false;
        zip.on('error', (e: Error) => reject(new Error(`zip is damaged (${e.message})`)));
        zip.on('end', () => {
          if (!found) reject(new Error('zip has no manifest.json'));
        });
        zip.on('entry', (entry: yauzl.Entry) => {
          if (!MANIFEST_ENTRY.test(entry.fileName)) return zip.readEntry();
          found = true;
          if (entry.uncompressedSize > 16 * 1024 * 1024) {
            zip.close();
            return reject(
              new Error(`manifest ${entry.fileName} is implausibly large (${entry.uncompressedSize} bytes)`),
            );
          }
          zip.openReadStream(entry, (streamError, stream) => {
            if (streamError || !stream)
              return reject(new Error(`cannot read ${entry.fileName} (${streamError?.message})`));
            const chunks: Buffer[] = [];
            stream.on('data', (c: Buffer) => chunks.push(c));
            stream.on('error', (e: Error) =>
              reject(new Error(`cannot read ${entry.fileName} (${e.message})`)),
            );
            stream.on('end', () => {
              zip.close();
              try {
                const manifest = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<
                  string,
                  unknown
                >;
                if (manifest === null || typeof manifest !== 'object' || Array.isArray(manifest))
                  throw new Error('not a JSON object');
                const files = Array.isArray(manifest.files) ? ` listing ${manifest.files.length} files` : '';
                resolve(
                  `manifest ${entry.fileName}${files}${typeof manifest.environment === 'string' ? ` (${manifest.environment})` : ''}`,
                );
              } catch (e) {
                reject(new Error(`${entry.fileName} is not valid JSON (${(e as Error).message})`));
              }
            });
          });
        });
        zip.readEntry();
      });
    });
  },
};

/** The `.sha256` beside the zip must exist, name the zip and match its bytes; then the manifest must read. */
export async function checkBackup(
  zipPath: string,
  reader: BackupManifestReader = zipManifestReader,
): Promise<BackupCheck> {
  const name = basename(zipPath);
  const sumPath = `${zipPath}.sha256`;
  let sumText: string;
  try {
    sumText = readFileSync(sumPath, 'utf8');
  } catch {
    return {
      ok: false,
      reason: `${name}: no ${name}.sha256 beside it (a backup is complete only once its checksum exists)`,
    };
  }
  let entries: { hex: string; name: string }[];
  try {
    entries = parseChecksumFile(sumText);
  } catch (error) {
    return { ok: false, reason: `${name}.sha256: ${(error as Error).message}` };
  }
  const entry = entries.find((e) => basename(e.name) === name);
  if (!entry)
    return {
      ok: false,
      reason: `${name}.sha256 does not name ${name} (it lists ${entries.map((e) => e.name).join(', ') || 'nothing'})`,
    };
  const actual = await sha256OfFile(zipPath);
  if (actual !== entry.hex)
    return {
      ok: false,
      reason: `${name}: checksum mismatch (expected ${entry.hex.slice(0, 12)}…, file is ${actual.slice(0, 12)}…)`,
      sha256: actual,
    };
  try {
    const manifest = await reader.readManifest(zipPath);
    return { ok: true, reason: `${name}: sha256 verified, ${manifest}`, sha256: actual };
  } catch (error) {
    return { ok: false, reason: `${name}: sha256 verified but ${(error as Error).message}`, sha256: actual };
  }
}
