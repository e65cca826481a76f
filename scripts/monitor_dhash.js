#!/usr/bin/env node
// Runbook shim with the seed's name: `node scripts/monitor_dhash.js --env production [...]` runs
// `guarded-rollout monitor` with the same flags; health/metrics URLs, gates file and window come
// from environments.<env>.monitor of guarded-rollout.config.json (`pnpm build` first).
process.argv.splice(2, 0, 'monitor');
await import('../packages/cli/bin/guarded-rollout.js');
