// Opening an evidence log (rollback.log, backup-dryrun.log) so that a log directory the user
// cannot write is one clear line naming it, never a stack trace; a missing one is created.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigError } from '@guarded-rollout/config/errors';
import { EvidenceLog, type EvidenceLogOptions } from '@guarded-rollout/evidence';
import { fsErrorLine, isFsError } from './fserrors.js';

export function openEvidenceLog(
  path: string,
  options: EvidenceLogOptions,
  fix = 'choose a writable --log-dir',
): EvidenceLog {
  try {
    mkdirSync(dirname(path), { recursive: true });
    return new EvidenceLog(path, options);
  } catch (error) {
    if (!isFsError(error)) throw error;
    throw new ConfigError(
      `log-dir: ${fsErrorLine(error, 'write')}; the ${options.kind}.log goes there: ${fix}; nothing was changed`,
      { field: 'log-dir' },
    );
  }
}
