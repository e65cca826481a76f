import { afterEach, describe, expect, it } from '@jest/globals';
import {
  inputBoolean,
  inputChoice,
  inputDuration,
  inputInteger,
  inputJson,
  inputList,
  inputOptionalInteger,
  inputString,
} from '../src/inputs.js';

const set = (name: string, value: string) =>
  (process.env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value);
afterEach(() => {
  for (const k of Object.keys(process.env)) if (k.startsWith('INPUT_')) delete process.env[k];
});

describe('typed action inputs name the input and the value they refuse', () => {
  it.each([
    [
      () => inputBoolean('dry-run'),
      'dry-run',
      'maybe',
      'input "dry-run": "maybe" is not a boolean; use true or false',
    ],
    [
      () => inputInteger('keep', { fallback: 5, min: 1 }),
      'keep',
      '0',
      'input "keep": "0" is not a whole number in 1..∞',
    ],
    [
      () => inputDuration('timeout'),
      'timeout',
      'ten minutes',
      'input "timeout": "ten minutes" is not a duration',
    ],
    [
      () => inputChoice('type', ['standard', 'hotfix'] as const),
      'type',
      'yolo',
      'input "type": "yolo" is not one of "standard", "hotfix"',
    ],
    [
      () => inputOptionalInteger('keep-previous', { min: 1, max: 10 }),
      'keep-previous',
      '11',
      'input "keep-previous": "11" is not a whole number in 1..10',
    ],
    [() => inputJson('details', {}), 'details', '{nope', 'input "details" is not valid JSON'],
  ])('%#: %s=%s', (read, name, value, message) => {
    set(name as string, value as string);
    expect(read as () => unknown).toThrow(message as string);
  });

  it('parses valid values', () => {
    set('dry-run', 'true');
    set('timeout', '1h30m');
    set('paths', 'a\nb, c\n\n');
    expect(inputBoolean('dry-run')).toBe(true);
    expect(inputDuration('timeout')).toBe(5_400_000);
    expect(inputList('paths')).toEqual(['a', 'b', 'c']);
    expect(inputString('missing', { fallback: 'x' })).toBe('x');
    expect(inputOptionalInteger('missing', { min: 1 })).toBeUndefined();
    set('keep-previous', ' 3 ');
    expect(inputOptionalInteger('keep-previous', { min: 1 })).toBe(3);
    expect(() => inputString('missing', { required: true })).toThrow(
      'input "missing" is required and was not supplied',
    );
  });
});
