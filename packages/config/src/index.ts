export * from './errors.js';
export * from './durations.js';
export * from './json-file.js';
export * from './version.js';
export * from './abort.js';
export * from './deadline.js';
export * from './release-paths.js';
