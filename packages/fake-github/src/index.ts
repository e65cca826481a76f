export * from './server.js';
export { exampleResponse, findOperation, operationById, requestProblems, responseProblems } from './spec.js';
export { DeploymentStore, deploymentHandlers, installDeploymentRoutes, type FakeDeployment, type FakeDeploymentStatus } from './routes/deployments.js';
