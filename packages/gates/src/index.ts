export * from './config.js';
export * from './schema.js';
export * from './readings.js';
export * from './percentile.js';
export * from './evaluate.js';
export * from './cadence.js';
export * from './detection.js';
export * from './baseline/index.js';
