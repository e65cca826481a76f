#!/usr/bin/env node
// The local demo: a complete guarded rollout on this machine. Arrives with the monitor-gates issue;
// until then it says so instead of pretending.
console.log('The one-command guarded-rollout demo is coming (monitor gates + sample DHash service).');
console.log(
  'What works today: `pnpm guarded-rollout gates check --env production --config action-templates/quality-gates-config.json`.',
);
