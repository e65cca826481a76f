// After a verified manual restore, the restored release becomes the environment's active GitHub
// Deployment again (the guarded deploy does the same after an automatic rollback). Failures to
// talk to GitHub are warnings: the restore itself already happened and was verified.
import * as core from '@actions/core';
import { inputBoolean, inputOptional, maskSecret, redact } from '@guarded-rollout/action-io';
import { GitHubDeploymentRecorder, githubTargetFromEnv, recordRestoredBackup } from '@guarded-rollout/deploy';

export async function recordRestoredDeployment(environment: string, backupPath: string): Promise<string> {
  if (!inputBoolean('record-deployment', true)) return '';
  const token = inputOptional('github-token');
  maskSecret(token);
  const target = token ? githubTargetFromEnv(process.env, token) : undefined;
  if (!target) return '';
  const { GITHUB_SERVER_URL: server, GITHUB_REPOSITORY: repo, GITHUB_RUN_ID: run } = process.env;
  try {
    const recorded = await recordRestoredBackup(
      new GitHubDeploymentRecorder({ ...target, requestTimeoutMs: 10_000 }),
      {
        environment,
        backupPath,
        reason: 'manual rollback',
        ...(server && repo && run ? { logUrl: `${server}/${repo}/actions/runs/${run}` } : {}),
      },
    );
    if ('skipped' in recorded) {
      core.warning(recorded.skipped);
      return '';
    }
    core.info(`GitHub deployment ${recorded.id} records the restored release as active`);
    return String(recorded.id);
  } catch (error) {
    core.warning(
      `the restored release was not recorded on GitHub: ${redact((error as Error).message, token ? [token] : [])}`,
    );
    return '';
  }
}
