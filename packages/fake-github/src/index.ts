export * from './server.js';
export { exampleResponse, findOperation, operationById, requestProblems, responseProblems } from './spec.js';
export * from './routes/pulls.js';
export {
  DeploymentStore,
  deploymentHandlers,
  installDeploymentRoutes,
  type FakeDeployment,
  type FakeDeploymentStatus,
} from './routes/deployments.js';
export {
  artifactHandlers,
  installArtifactRoutes,
  type ArtifactRecord,
  type ArtifactSource,
} from './routes/artifacts.js';
export { ACTIONS_APP_ID, CheckRunStore, installCheckRunRoutes } from './routes/check-runs.js';
export { ArtifactBlobs } from './routes/artifact-blobs.js';
export { installTeamMemberRoutes } from './routes/team-members.js';
export { installPullListRoutes } from './routes/pull-list.js';
