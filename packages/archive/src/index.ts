// @guarded-rollout/archive: verified backups and all-or-nothing restores (see each module's header).
export * from './errors.js';
export * from './manifest.js';
export * from './naming.js';
export * from './collect.js';
export * from './backup.js';
export * from './read.js';
export * from './safety.js';
export * from './extract.js';
export * from './health.js';
export * from './process.js';
export * from './restore.js';
export * from './lock.js';
export * from './swap.js';
export * from './durable.js';
export * from './units.js';
export * from './live-tree.js';
export * from './rollback.js';
export { holdYoungGeneration } from './heapguard.js';
