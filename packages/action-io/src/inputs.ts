// Typed readers for action inputs. Each names the input and the value when it refuses one, so a
// workflow author sees `input "timeout": "ten minutes" is not a duration` rather than a stack trace.
import * as core from '@actions/core';
import { ConfigError, durationProblem, tryParseDuration } from '@guarded-rollout/config';

export function inputString(name: string, options: { required?: boolean; fallback?: string } = {}): string {
  const value = core.getInput(name, { required: false, trimWhitespace: true });
  if (value === '') {
    if (options.required)
      throw new ConfigError(`input "${name}" is required and was not supplied`, { field: name });
    return options.fallback ?? '';
  }
  return value;
}

export function inputOptional(name: string): string | undefined {
  const value = core.getInput(name, { trimWhitespace: true });
  return value === '' ? undefined : value;
}

const TRUE = new Set(['true', 'True', 'TRUE', 'yes', '1']);
const FALSE = new Set(['false', 'False', 'FALSE', 'no', '0']);

export function inputBoolean(name: string, fallback = false): boolean {
  const value = core.getInput(name, { trimWhitespace: true });
  if (value === '') return fallback;
  if (TRUE.has(value)) return true;
  if (FALSE.has(value)) return false;
  throw new ConfigError(`input "${name}": ${JSON.stringify(value)} is not a boolean; use true or false`, {
    field: name,
  });
}

export function inputInteger(
  name: string,
  options: { fallback?: number; min?: number; max?: number } = {},
): number {
  const value = core.getInput(name, { trimWhitespace: true });
  if (value === '') {
    if (options.fallback === undefined)
      throw new ConfigError(`input "${name}" is required and was not supplied`);
    return options.fallback;
  }
  const n = Number(value);
  const inRange =
    (options.min === undefined || n >= options.min) && (options.max === undefined || n <= options.max);
  if (!Number.isInteger(n) || !inRange) {
    const range = `${options.min ?? '-∞'}..${options.max ?? '∞'}`;
    throw new ConfigError(`input "${name}": ${JSON.stringify(value)} is not a whole number in ${range}`, {
      field: name,
    });
  }
  return n;
}

/** An integer input that may be left empty (undefined then), checked like inputInteger. */
export function inputOptionalInteger(
  name: string,
  options: { min?: number; max?: number } = {},
): number | undefined {
  return inputOptional(name) === undefined ? undefined : inputInteger(name, options);
}

/** A duration input in milliseconds ("30s", "10m", "1h"). */
export function inputDuration(name: string, fallback?: string): number {
  const value = core.getInput(name, { trimWhitespace: true }) || fallback || '';
  if (value === '') throw new ConfigError(`input "${name}" is required and was not supplied`);
  const ms = tryParseDuration(value);
  if (ms === undefined) throw new ConfigError(durationProblem(`input "${name}"`, value), { field: name });
  return ms;
}

/** A list input: one item per line or comma-separated; blank items dropped. */
export function inputList(name: string): string[] {
  return core
    .getInput(name)
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

export function inputChoice<T extends string>(name: string, choices: readonly T[], fallback?: T): T {
  const value = core.getInput(name, { trimWhitespace: true }) || fallback || '';
  if (!(choices as readonly string[]).includes(value)) {
    throw new ConfigError(
      `input "${name}": ${JSON.stringify(value)} is not one of ${choices.map((c) => JSON.stringify(c)).join(', ')}`,
      { field: name },
    );
  }
  return value as T;
}

/** A JSON input (object/array); empty yields the fallback. */
export function inputJson<T>(name: string, fallback: T): T {
  const value = core.getInput(name, { trimWhitespace: true });
  if (value === '') return fallback;
  try {
    return JSON.parse(value) as T;
  } catch (error) {
    throw new ConfigError(`input "${name}" is not valid JSON: ${(error as Error).message}`, { field: name });
  }
}
