// The fallback file: one JSON line per undelivered channel message, with the full rendered payload,
// so an operator (or a later job) can resend it. It names the channel, never its URL.
import { appendFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

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
  const path = resolve(dir, FALLBACK_FILE);
  mkdirSync(resolve(dir), { recursive: true });
  // One write per call keeps the lines of one notification together even with concurrent writers.
  appendFileSync(path, entries.map((e) => `${redact(JSON.stringify(e))}\n`).join(''), 'utf8');
  return path;
}

export function fallbackPathFor(dir: string): string {
  return join(resolve(dir), FALLBACK_FILE);
}
