// PR bodies for tests: our template (action-templates/PR_BODY.md) and the seed's PR template
// (kept verbatim in fixtures/), each filled in the way a careful author would.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { fill, type FillOptions } from './fill.js';

export { fill, type FillOptions };

const read = (path: string): string => readFileSync(fileURLToPath(new URL(path, import.meta.url)), 'utf8');

export const TEMPLATE = read('../../../action-templates/PR_BODY.md');
export const SEED_TEMPLATE = read('./fixtures/seed-pr-template.md');

export const completeBody = (options: FillOptions = {}): string => fill(TEMPLATE, options);
export const seedBody = (options: FillOptions = {}): string => fill(SEED_TEMPLATE, options);

/** Unticks the first box whose line contains `text`. */
export function untick(body: string, text: string): string {
  let done = false;
  return body
    .split('\n')
    .map((l) => {
      if (done || !l.includes(text) || !l.includes('[x]')) return l;
      done = true;
      return l.replace('[x]', '[ ]');
    })
    .join('\n');
}
