#!/usr/bin/env node
// Runbook shim with the seed's name: `node scripts/deploy/deploy-notify.js --event EVENT --env ENV [...]`
// announces a deploy event through `guarded-rollout notify` (the same flags as scripts/notify.js;
// channels from SLACK_WEBHOOK_URL, TEAMS_WEBHOOK_URL, ... — unset ones are skipped).
process.argv.splice(2, 0, 'notify');
await import('../../packages/cli/bin/guarded-rollout.js');
