// The deploy target's on-disk state, which the supervisor and the deploy/rollback steps share:
//   <root>/active-release   the version that runs (a deploy rewrites it; a rollback restores it)
//   <root>/releases.json    every known version and its fault, if any
//   <root>/data/            the service's data (the hash index): what a backup must keep
import { existsSync, mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';

export const FAULT_KINDS = [
  'slow-hashing',
  'failing-extractions',
  'dying-health',
  'growing-queue',
  'subtle-regression',
];

/** Version 1.0.0 is healthy; 1.1.0 carries the configured fault (default slow hashing). */
export function defaultReleases(fault = 'slow-hashing', onsetSeconds = 0) {
  if (fault === 'subtle-regression') {
    // A realistic baseline to regress from: ~30 ms of work per image and 0.2 % failures. The faulty
    // release is 3× slower (still far under the 2000 ms p95 limit) and fails 2 % (under the 5 % limit).
    const realistic = { workMs: 30, failureRate: 0.002 };
    return {
      '1.0.0': { description: 'healthy release (~30 ms per image, 0.2 % failures)', ...realistic },
      '1.1.0': { description: 'faulty release (subtle-regression)', fault, onsetSeconds, ...realistic },
    };
  }
  return {
    '1.0.0': { description: 'healthy release' },
    '1.1.0':
      fault === 'none'
        ? { description: 'healthy release' }
        : { description: `faulty release (${fault})`, fault, onsetSeconds },
  };
}

export function initRoot(root, options = {}) {
  mkdirSync(join(root, 'data'), { recursive: true });
  writeAtomic(
    join(root, 'releases.json'),
    `${JSON.stringify(options.releases ?? defaultReleases(options.fault, options.onsetSeconds), null, 2)}\n`,
  );
  if (!existsSync(join(root, 'active-release')) || options.version)
    writeAtomic(join(root, 'active-release'), `${options.version ?? '1.0.0'}\n`);
  if (!existsSync(join(root, 'data', 'hashes.jsonl'))) writeFileSync(join(root, 'data', 'hashes.jsonl'), '');
}

export function writeAtomic(file, text) {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

export function activeRelease(root) {
  const version = readFileSync(join(root, 'active-release'), 'utf8').trim();
  const releases = JSON.parse(readFileSync(join(root, 'releases.json'), 'utf8'));
  const release = releases[version];
  if (!release)
    throw new Error(
      `${join(root, 'active-release')}: unknown version ${JSON.stringify(version)}; known: ${Object.keys(releases).join(', ')}`,
    );
  if (release.fault !== undefined && !FAULT_KINDS.includes(release.fault)) {
    throw new Error(
      `releases.json: ${version}.fault ${JSON.stringify(release.fault)} is not one of ${FAULT_KINDS.join(', ')}`,
    );
  }
  return { version, ...release };
}
