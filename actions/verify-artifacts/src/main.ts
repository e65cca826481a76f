// Doorway of the verify-artifacts action: read inputs, verify the directory with the premerge
// package (the same call the CLI makes), write outputs and the job summary, fail when required.
import { resolve } from 'node:path';
import * as core from '@actions/core';
import { inputBoolean, inputOptional, inputString, runAction } from '@guarded-rollout/action-io';
import { CheckFailedError } from '@guarded-rollout/config';
import {
  defaultArtifactManifest,
  loadArtifactManifest,
  renderArtifactReport,
  verifyArtifacts,
} from '@guarded-rollout/premerge';

export interface VerifyArtifactsInputs {
  directory: string;
  manifest: string | undefined;
  failOnMissing: boolean;
}

export function getInputs(): VerifyArtifactsInputs {
  const workspace = process.env.GITHUB_WORKSPACE ?? process.cwd();
  const manifest = inputOptional('manifest');
  return {
    directory: resolve(workspace, inputString('directory', { fallback: '.' })),
    manifest: manifest ? resolve(workspace, manifest) : undefined,
    failOnMissing: inputBoolean('fail-on-missing', true),
  };
}

export async function run(): Promise<void> {
  await runAction(async () => {
    const inputs = getInputs();
    const manifest = inputs.manifest ? loadArtifactManifest(inputs.manifest) : defaultArtifactManifest();
    const report = await verifyArtifacts({ directory: inputs.directory, manifest });
    const markdown = renderArtifactReport(report);
    core.setOutput('missing', JSON.stringify(report.missing));
    core.setOutput('report', markdown);
    await core.summary.addHeading('verify-artifacts', 3).addRaw(markdown, true).write();
    for (const check of report.checks.filter((c) => c.status !== 'ok' && c.required))
      core.error(`${check.name}: ${check.status}: ${check.reason}`);
    if (!report.ok && inputs.failOnMissing) {
      throw new CheckFailedError(
        `${report.missing.length} required artifact(s) missing or failing: ${report.missing.join(', ')}`,
      );
    }
    core.info(
      report.ok
        ? 'all required artifacts present and passing'
        : `missing or failing (not failing the step): ${report.missing.join(', ')}`,
    );
  });
}
