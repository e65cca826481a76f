#!/usr/bin/env node
// Runbook shim with the seed's name: `node scripts/notify.js --event EVENT --env ENV [...]` runs
// `guarded-rollout notify` with the same flags (the bundled CLI; run `pnpm build` first).
process.argv.splice(2, 0, 'notify');
await import('../packages/cli/bin/guarded-rollout.js');
