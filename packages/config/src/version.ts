// The suite's version, stamped into log headers, manifests and `--version`.
// Kept equal to the root package.json version by a test.
export const TOOL_NAME = 'guarded-rollout';
export const TOOL_VERSION = '0.1.0';
