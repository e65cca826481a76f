// The fallback file: one JSON line per undelivered channel message, with the full rendered payload,
// so an operator (or a later job) can resend it. It names the channel, never its URL.
import { appendFileSync, mkdirSync } from 'node:fs';
import { resolve, sep } from 'node:path';

export const FALLBACK_FILE = 'notifications.jsonl';

export interface FallbackEntry {
  at: string;
  dedupeKey: string;
  event: string;
  environment: string;
  channel: string;
  status: string;
  error: string;
  attempts: number;
  title: string;
  text: string;
  payload: unknown;
}

/** Appends the entries; returns the file path. Throws only on file-system errors. */
export function appendFallback(
  dir: string,
  entries: FallbackEntry[],
  redact: (text: string) => string,
): string {
  const path = fallbackPathFor(dir);
  mkdirSync(resolve(dir), { recursive: true });
  // One write per call keeps the lines of one notification together even with concurrent writers.
  appendFileSync(path, entries.map((e) => `${redact(JSON.stringify(e))}\n`).join(''), 'utf8');
  return path;
}

/** Built by concatenation on purpose: ncc's asset relocator rewrites `resolve(dir, 'name')` into a
 *  bundled asset path whenever a file of that name exists under the build directory (old demo
 *  output did), which silently sent the fallback to the wrong place. */
export function fallbackPathFor(dir: string): string {
  return `${resolve(dir)}${sep}${FALLBACK_FILE}`;
}
