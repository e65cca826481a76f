#!/usr/bin/env node
// Runs the bundled CLI (built by `pnpm build` into packages/cli/dist).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const bundle = fileURLToPath(new URL('../dist/index.js', import.meta.url));
if (!existsSync(bundle)) {
  process.stderr.write(
    'guarded-rollout is not built yet: run `pnpm build` (or `pnpm install && pnpm build`) first.\n',
  );
  process.exit(2);
}
await import(pathToFileURL(bundle).href);
