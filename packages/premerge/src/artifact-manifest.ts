// The manifest of required artifacts verify-artifacts checks a directory against. The default is
// the PR template's list; a repository can supply its own (JSON or YAML, schema-validated).
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError, SchemaValidator, parseJsonText, readTextFile } from '@guarded-rollout/config';

export type ArtifactType = 'backup' | 'evidence-log' | 'directory' | 'file';

export interface ArtifactSpec {
  name: string;
  type: ArtifactType;
  /** Candidate locations relative to the checked directory; the first that exists is used. */
  paths: string[];
  required: boolean;
  /** evidence-log: the `kind` its header and result must carry, when set. */
  kind?: string;
}

export interface ArtifactManifest {
  artifacts: ArtifactSpec[];
}

const log = (file: string, kind?: string): ArtifactSpec => ({
  name: file,
  type: 'evidence-log',
  // Logs sit at the top of a workspace, or inside the premerge_artifacts/ bundle once downloaded.
  paths: [file, `premerge_artifacts/${file}`],
  required: true,
  ...(kind ? { kind } : {}),
});

export function defaultArtifactManifest(): ArtifactManifest {
  return {
    artifacts: [
      {
        name: 'backups/*.zip',
        type: 'backup',
        paths: ['backups/*.zip', 'premerge_artifacts/backups/*.zip'],
        required: true,
      },
      log('deploy-dryrun.log', 'deploy-dryrun'),
      log('migrate-dryrun.log', 'migrate-dryrun'),
      log('backup-dryrun.log', 'backup-dryrun'),
      log('rollback-dryrun.log', 'rollback-dryrun'),
      log('postdeploy-smoketests.log'),
      log('test_logging.log'),
      { name: 'premerge_artifacts/', type: 'directory', paths: ['premerge_artifacts'], required: true },
      {
        name: 'monitor_logs/',
        type: 'directory',
        paths: ['monitor_logs', 'premerge_artifacts/monitor_logs'],
        required: false,
      },
    ],
  };
}

// Relative paths only, no "..", wildcards only in the last segment: a manifest must not reach
// outside the directory it checks.
const RELATIVE_PATH = '^(?!/)(?![A-Za-z]:)(?!(?:.*/)?\\.\\.(?:/|$))[^\\\\]+$';

export const ARTIFACT_MANIFEST_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['artifacts'],
  properties: {
    artifacts: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'type', 'path'],
        properties: {
          name: { type: 'string', minLength: 1 },
          type: { enum: ['backup', 'evidence-log', 'directory', 'file'] },
          path: {
            anyOf: [
              { type: 'string', minLength: 1, pattern: RELATIVE_PATH },
              { type: 'array', minItems: 1, items: { type: 'string', minLength: 1, pattern: RELATIVE_PATH } },
            ],
          },
          required: { type: 'boolean' },
          kind: { type: 'string', minLength: 1 },
        },
      },
    },
  },
} as const;

interface ManifestFile {
  artifacts: {
    name: string;
    type: ArtifactType;
    path: string | string[];
    required?: boolean;
    kind?: string;
  }[];
}

let validator: SchemaValidator<ManifestFile> | undefined;

export function manifestFromValue(value: unknown, file: string): ArtifactManifest {
  validator ??= new SchemaValidator<ManifestFile>(ARTIFACT_MANIFEST_SCHEMA);
  const raw = validator.problems(value);
  // `path` is a string or a list: drop the branch that did not apply, and say what the pattern means.
  const problems = raw
    .filter(
      (p) =>
        !/ is not of type (array|string)$/.test(p) ||
        !raw.some((q) => q !== p && q.split(':')[0]!.startsWith(p.split(':')[0]!)),
    )
    .map((p) =>
      p.includes(RELATIVE_PATH)
        ? p.replace(
            /must match .*$/,
            'must be a relative path inside the checked directory (no leading /, drive letter or "..")',
          )
        : p,
    );
  if (problems.length) {
    // The anyOf over string|array hides the useful message; name the path value directly.
    throw new ConfigError(
      problems.length === 1 ? problems[0]! : `${problems.length} problems:\n  - ${problems.join('\n  - ')}`,
      { file },
    );
  }
  const parsed = value as ManifestFile;
  const names = new Set<string>();
  return {
    artifacts: parsed.artifacts.map((a, i) => {
      if (names.has(a.name))
        throw new ConfigError(`artifacts[${i}].name: "${a.name}" is listed twice; names must be unique`, {
          file,
        });
      names.add(a.name);
      const paths = Array.isArray(a.path) ? a.path : [a.path];
      for (const [j, p] of paths.entries()) {
        const dir = p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '';
        if (/[*?]/.test(dir))
          throw new ConfigError(
            `artifacts[${i}].path${Array.isArray(a.path) ? `[${j}]` : ''}: "${p}" has a wildcard outside the last path segment; only the file name may use * or ?`,
            { file },
          );
      }
      return {
        name: a.name,
        type: a.type,
        paths,
        required: a.required ?? true,
        ...(a.kind ? { kind: a.kind } : {}),
      };
    }),
  };
}

/** Reads a manifest file: `.json` as JSON, anything else as YAML (which also accepts JSON). */
export function loadArtifactManifest(file: string): ArtifactManifest {
  const text = readTextFile(file, 'manifest file');
  let value: unknown;
  if (extname(file).toLowerCase() === '.json') value = parseJsonText(text, file);
  else {
    try {
      value = parseYaml(text, { prettyErrors: true });
    } catch (error) {
      throw new ConfigError(`is not valid YAML: ${(error as Error).message.split('\n')[0]}`, { file });
    }
  }
  return manifestFromValue(value, file);
}
