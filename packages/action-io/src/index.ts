export * from './inputs.js';
export * from './secrets.js';
export * from './run.js';
export * from './cancel.js';
