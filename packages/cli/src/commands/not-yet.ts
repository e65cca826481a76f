// Placeholder for commands whose package has not landed yet: an honest usage error, never a fake success.
import { UsageError } from '@guarded-rollout/config';

export function notImplemented(command: string): never {
  throw new UsageError(`"${command}" is not available in this version of guarded-rollout yet`);
}
