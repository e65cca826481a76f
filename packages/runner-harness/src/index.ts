// Test support: run our actions the way the GitHub runner does, and a local artifact service.
export * from './command-files.js';
export * from './step.js';
export * from './node-action.js';
export * from './composite.js';
export * from './checkout.js';
export * from './processes.js';
export * from './artifact-service.js';
