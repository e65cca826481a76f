export * from './rollout-config.js';
export * from './process-runner.js';
export * from './deployment-recorder.js';
export * from './deploy.js';
export * from './smoke.js';
export * from './logging-validator.js';
export * from './options.js';
export * from './backup-first.js';
