export * from './server.js';
export { exampleResponse, findOperation, operationById, requestProblems, responseProblems } from './spec.js';
