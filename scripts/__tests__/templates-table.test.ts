// The templates' README lists every secret and variable the templates use, with the right kind.
import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('../../action-templates/workflows/', import.meta.url));
const readme = readFileSync(join(dir, 'README.md'), 'utf8');
const rows = new Map(
  [...readme.matchAll(/^\| `([A-Z_]+)` \| (secret|variable)/gm)].map((m) => [m[1]!, m[2]!] as const),
);

describe('action-templates/workflows secrets and variables table', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.yml'));
  const used = new Map<string, string>();
  for (const f of files) {
    for (const m of readFileSync(join(dir, f), 'utf8').matchAll(/\$\{\{[^}]*?\b(secrets|vars)\.([A-Z_]+)/g))
      used.set(m[2]!, m[1] === 'secrets' ? 'secret' : 'variable');
  }
  it.each([...used])('%s is in the table as a %s', (name, kind) => {
    expect(rows.get(name)).toBe(kind);
  });
  it('lists nothing the templates do not use', () => {
    expect([...rows.keys()].filter((n) => !used.has(n))).toEqual([]);
  });
  it('keeps URLs that are not credentials out of secrets', () => {
    expect([...used].filter(([n, k]) => k === 'secret' && /^DHASH_/.test(n))).toEqual([]);
  });
});
