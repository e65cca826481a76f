// Reading JSON configuration with errors that say which file and where the syntax broke,
// and JSON Schema validation (Ajv) whose errors name the JSON path, the value and what is valid.
import { readFileSync } from 'node:fs';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { Ajv2020 as Ajv } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { ConfigError, describeValue } from './errors.js';
import { DURATION_PATTERN, durationProblem, tryParseDuration } from './durations.js';

// ajv-formats is CommonJS with a default export; under NodeNext it arrives as the module object.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ??
  addFormatsModule) as unknown as (ajv: Ajv) => Ajv;

/** Reads a text file; a missing or unreadable file is a ConfigError naming it. */
export function readTextFile(file: string, what = 'file'): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(
      code === 'ENOENT' ? `${what} not found` : `cannot read ${what} (${code ?? String(error)})`,
      {
        file,
        cause: error,
      },
    );
  }
}

/** Reads and parses a JSON file; syntax errors carry line and column. */
export function readJsonFile(file: string): unknown {
  return parseJsonText(readTextFile(file), file);
}

export function parseJsonText(text: string, file: string): unknown {
  try {
    return JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    const message = (error as Error).message;
    const position = /position (\d+)/.exec(message);
    let where = '';
    if (position) {
      const offset = Number(position[1]);
      const before = text.slice(0, offset);
      const line = before.split('\n').length;
      const column = offset - before.lastIndexOf('\n');
      where = ` at line ${line}, column ${column}`;
    }
    throw new ConfigError(`is not valid JSON${where}: ${message}`, { file, cause: error });
  }
}

/** Converts an Ajv instance path ("/environments/production/gates") to "environments.production.gates". */
export function jsonPathOf(instancePath: string): string {
  if (!instancePath) return '(root)';
  return instancePath
    .slice(1)
    .split('/')
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((part, index) => (/^\d+$/.test(part) ? `[${part}]` : index === 0 ? part : `.${part}`))
    .join('');
}

function valueAt(root: unknown, instancePath: string): unknown {
  if (!instancePath) return root;
  let current: unknown = root;
  for (const raw of instancePath.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** One readable sentence for an Ajv error. */
export function describeSchemaError(error: ErrorObject, root: unknown): string {
  const path = jsonPathOf(error.instancePath);
  const value = valueAt(root, error.instancePath);
  switch (error.keyword) {
    case 'additionalProperties': {
      const extra = (error.params as { additionalProperty: string }).additionalProperty;
      const allowed = Object.keys(
        (error.parentSchema as { properties?: Record<string, unknown> } | undefined)?.properties ?? {},
      );
      const where = path === '(root)' ? extra : `${path}.${extra}`;
      return `${where}: unknown field${allowed.length ? `; valid fields here: ${allowed.join(', ')}` : ''}`;
    }
    case 'required':
      return `${path === '(root)' ? '' : `${path}: `}missing required field "${(error.params as { missingProperty: string }).missingProperty}"`;
    case 'pattern':
      if ((error.params as { pattern: string }).pattern === DURATION_PATTERN)
        return durationProblem(path, value);
      return `${path}: ${describeValue(value)} must match ${(error.params as { pattern: string }).pattern}`;
    case 'format':
      if ((error.params as { format: string }).format === 'duration') return durationProblem(path, value);
      return `${path}: ${describeValue(value)} is not a valid ${(error.params as { format: string }).format}`;
    case 'enum':
      return `${path}: ${describeValue(value)} is not one of ${(
        error.params as { allowedValues: unknown[] }
      ).allowedValues
        .map((v) => JSON.stringify(v))
        .join(', ')}`;
    case 'type':
      return `${path}: ${describeValue(value)} is not of type ${(error.params as { type: string }).type}`;
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return `${path}: ${describeValue(value)} ${error.message ?? 'is out of range'}`;
    case 'discriminator': {
      const params = error.params as { tag: string; tagValue: unknown };
      return `${path}.${params.tag}: ${describeValue(params.tagValue)} is not a known kind`;
    }
    default:
      return `${path}: ${describeValue(value)} ${error.message ?? 'is invalid'}`;
  }
}

/** A compiled validator that throws ConfigError naming file, path, value and the valid form. */
// Compiled on first use, not at construction: validators are module constants, and compiling
// them at import cost every CLI command ~100 ms (verify-backup never reads a config file).
export class SchemaValidator<T> {
  private compiled?: ValidateFunction;
  constructor(private readonly schema: object) {}

  private get validate(): ValidateFunction {
    if (!this.compiled) {
      const ajv = new Ajv({ allErrors: true, strict: false, discriminator: true });
      addFormats(ajv);
      ajv.addFormat('duration', {
        type: 'string',
        validate: (s: string) => tryParseDuration(s) !== undefined,
      });
      this.compiled = ajv.compile(this.schema);
    }
    return this.compiled;
  }

  /** Returns every problem as a sentence (empty when valid). */
  problems(value: unknown): string[] {
    const validate = this.validate;
    if (validate(value)) return [];
    const errors = validate.errors ?? [];
    // Ajv reports the failing branch of a discriminated union plus a summary; keep the specific ones.
    const specific = errors.filter(
      (e) => e.keyword !== 'if' && e.keyword !== 'oneOf' && e.keyword !== 'anyOf',
    );
    return [...new Set((specific.length ? specific : errors).map((e) => describeSchemaError(e, value)))];
  }

  assert(value: unknown, file: string): T {
    const problems = this.problems(value);
    if (problems.length === 1) throw new ConfigError(problems[0]!, { file });
    if (problems.length > 1) {
      throw new ConfigError(`${problems.length} problems:\n  - ${problems.join('\n  - ')}`, { file });
    }
    return value as T;
  }
}
