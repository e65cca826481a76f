#!/usr/bin/env node
// Keeps each action README's inputs/outputs tables generated from its action.yml, between
// <!-- action-docs:inputs --> / <!-- action-docs:outputs --> markers. `--write` rewrites the
// READMEs; `--check` (and the test that calls it) fails when one is out of date.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const root = fileURLToPath(new URL('..', import.meta.url));
const cell = (text) =>
  String(text ?? '')
    .replace(/\|/g, '\\|')
    .replace(/\r?\n/g, ' ')
    .trim();

export function tables(action) {
  const inputs = Object.entries(action.inputs ?? {});
  const outputs = Object.entries(action.outputs ?? {});
  const inputTable = [
    '| input | required | default | description |',
    '|---|---|---|---|',
    ...inputs.map(
      ([name, i]) =>
        `| \`${name}\` | ${i.required ? 'yes' : 'no'} | ${i.default !== undefined && i.default !== '' ? `\`${cell(i.default)}\`` : ''} | ${cell(i.description)} |`,
    ),
  ].join('\n');
  const outputTable = [
    '| output | description |',
    '|---|---|',
    ...outputs.map(([name, o]) => `| \`${name}\` | ${cell(o.description)} |`),
  ].join('\n');
  return { inputs: inputTable, outputs: outputTable };
}

function replaceSection(text, marker, body, file) {
  const start = `<!-- action-docs:${marker} -->`;
  const end = `<!-- action-docs:${marker}:end -->`;
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from < 0 || to < 0) throw new Error(`${file}: missing ${start} ... ${end} markers`);
  return `${text.slice(0, from + start.length)}\n${body}\n${text.slice(to)}`;
}

export function syncActionDocs({ write }) {
  const stale = [];
  for (const name of readdirSync(join(root, 'actions')).sort()) {
    const meta = join(root, 'actions', name, 'action.yml');
    if (!existsSync(meta)) continue;
    const readme = join(root, 'actions', name, 'README.md');
    if (!existsSync(readme)) {
      stale.push(`actions/${name}/README.md is missing`);
      continue;
    }
    const action = parse(readFileSync(meta, 'utf8'));
    const current = readFileSync(readme, 'utf8');
    const t = tables(action);
    let next;
    try {
      next = replaceSection(
        replaceSection(current, 'inputs', t.inputs, readme),
        'outputs',
        t.outputs,
        readme,
      );
    } catch (error) {
      stale.push(error.message);
      continue;
    }
    if (next !== current) {
      if (write) writeFileSync(readme, next);
      else stale.push(`actions/${name}/README.md tables differ from action.yml (run \`pnpm docs\`)`);
    }
  }
  return stale;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const stale = syncActionDocs({ write: process.argv.includes('--write') });
  for (const s of stale) console.error(s);
  process.exit(stale.length ? 1 : 0);
}
