// The fallback file, a journal of every notification: one JSON line `pending` per channel written
// *before* the first attempt (with the full rendered payload), then one line `delivered` or
// `failed` (again with the payload) when that channel is done. A message is undelivered when its
// last line is not `delivered` — also when the process was killed mid-send and only `pending` is
// there. An operator (or a later job) can resend from it. It names the channel, never its URL.
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { resolve, sep } from 'node:path';

export const FALLBACK_FILE = 'notifications.jsonl';

export type FallbackStatus = 'pending' | 'delivered' | 'failed' | 'misconfigured' | 'skipped';

export interface FallbackEntry {
  at: string;
  dedupeKey: string;
  event: string;
  environment: string;
  channel: string;
  status: FallbackStatus;
  error: string;
  attempts: number;
  title: string;
  text: string;
  /** The rendered channel payload; null on `delivered` lines (it arrived). */
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
  // One synchronous write per call: the lines of one notification stay together even with
  // concurrent writers, and a `pending` line is on disk before the first byte is sent.
  appendFileSync(path, entries.map((e) => `${redact(JSON.stringify(e))}\n`).join(''), 'utf8');
  return path;
}

/** Built by concatenation on purpose: ncc's asset relocator rewrites `resolve(dir, 'name')` into a
 *  bundled asset path whenever a file of that name exists under the build directory (old demo
 *  output did), which silently sent the fallback to the wrong place. */
export function fallbackPathFor(dir: string): string {
  return `${resolve(dir)}${sep}${FALLBACK_FILE}`;
}

/** The messages of a fallback file that were not delivered: the last line of each
 *  (dedupeKey, channel) whose status is not `delivered` (a lone `pending` = interrupted). */
export function readUndelivered(path: string): FallbackEntry[] {
  if (!existsSync(path)) return [];
  const last = new Map<string, FallbackEntry>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    let entry: FallbackEntry;
    try {
      entry = JSON.parse(line) as FallbackEntry;
    } catch {
      continue; // a line cut by a crash mid-write
    }
    last.set(`${entry.dedupeKey}\u0000${entry.channel}`, entry);
  }
  return [...last.values()].filter((e) => e.status !== 'delivered');
}
