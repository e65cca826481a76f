export * from './special.js';
export * from './sequential.js';
export * from './gate.js';
export * from './planning.js';
