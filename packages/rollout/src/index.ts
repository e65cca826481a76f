// @guarded-rollout/rollout: the guarded deploy as one sequence, shared by every doorway.
export * from './world.js';
export * from './guarded-deploy.js';
export * from './local.js';
