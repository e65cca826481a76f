export * from './stale.js';
export * from './github-deployments.js';
export * from './watchdog.js';
