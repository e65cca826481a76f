export * from './checklist.js';
export * from './policy.js';
export * from './rules.js';
export * from './report.js';
export * from './github.js';
export * from './pr-check.js';
