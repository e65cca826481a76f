// The one way an action's main ends: outputs set, or a single clear failure message.
import * as core from '@actions/core';
import { GuardedRolloutError } from '@guarded-rollout/config';
import { secretForms } from './secrets.js';

/** Registers a secret and all its derived forms with the runner's log masker. */
export function maskSecret(secret: string | undefined): void {
  if (!secret) return;
  for (const form of secretForms(secret)) core.setSecret(form);
}

/** Runs an action body; expected errors become one `core.setFailed` line, bugs keep their stack. */
export async function runAction(body: () => Promise<void>): Promise<void> {
  // Node warns about deprecated calls made outside node_modules, and in a bundle every dependency
  // is: the rollback's artifact download printed "DeprecationWarning: Buffer() is deprecated" (its
  // unzip library) into the job log, about code the operator cannot change.
  process.noDeprecation = true;
  try {
    await body();
  } catch (error) {
    if (error instanceof GuardedRolloutError) {
      core.setFailed(error.message);
    } else if (error instanceof Error) {
      core.debug(error.stack ?? '');
      core.setFailed(`unexpected error: ${error.message}`);
    } else {
      core.setFailed(`unexpected error: ${String(error)}`);
    }
  }
}
