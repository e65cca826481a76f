// Checks JSON.parse and the schema cannot make: duplicate keys (JSON.parse silently keeps the
// last), numbers that overflow to Infinity (1e309), and names that collide with Object.prototype
// (`__proto__`, `constructor`) and would resolve to something nobody wrote.
import { ConfigError } from '@guarded-rollout/config';

export interface DuplicateKey {
  /** JSON path of the object holding the key ("(root)" for the top level). */
  path: string;
  key: string;
  firstLine: number;
  secondLine: number;
}

function childPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent === '(root)' ? '' : parent}[${key}]`;
  const part = /^[A-Za-z_$][\w$-]*$/.test(key) ? key : JSON.stringify(key);
  return parent === '(root)' ? part : `${parent}.${part}`;
}

/** Every key that appears twice in the same object of a JSON text. The text is assumed to be
 *  valid JSON (parse it first); the scanner only tracks strings, nesting and line numbers. */
export function findDuplicateKeys(text: string): DuplicateKey[] {
  type Frame =
    | { type: 'object'; path: string; keys: Map<string, number>; key: string | null; expectKey: boolean }
    | { type: 'array'; path: string; index: number };
  const stack: Frame[] = [];
  const found: DuplicateKey[] = [];
  let line = 1;
  const pathOfValue = (): string => {
    const top = stack[stack.length - 1];
    if (!top) return '(root)';
    if (top.type === 'array') return childPath(top.path, top.index);
    return childPath(top.path, top.key ?? '');
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\n') line++;
    else if (ch === '"') {
      let j = i + 1;
      let value = '';
      while (j < text.length && text[j] !== '"') {
        if (text[j] === '\\') {
          value += text.slice(j, j + 2);
          j += 2;
        } else value += text[j++];
      }
      i = j;
      const top = stack[stack.length - 1];
      if (top?.type === 'object' && top.expectKey) {
        let key = value;
        try {
          key = JSON.parse(`"${value}"`) as string;
        } catch {
          /* keep the raw text */
        }
        const first = top.keys.get(key);
        if (first !== undefined) found.push({ path: top.path, key, firstLine: first, secondLine: line });
        else top.keys.set(key, line);
        top.key = key;
        top.expectKey = false;
      }
    } else if (ch === '{' || ch === '[') {
      const path = pathOfValue();
      stack.push(
        ch === '{'
          ? { type: 'object', path, keys: new Map(), key: null, expectKey: true }
          : { type: 'array', path, index: 0 },
      );
    } else if (ch === '}' || ch === ']') stack.pop();
    else if (ch === ',') {
      const top = stack[stack.length - 1];
      if (top?.type === 'object') top.expectKey = true;
      else if (top?.type === 'array') top.index++;
    }
  }
  return found;
}

/** Refuses the first duplicate key, naming both lines. */
export function assertNoDuplicateKeys(text: string, file: string): void {
  const duplicate = findDuplicateKeys(text)[0];
  if (!duplicate) return;
  const where = duplicate.path === '(root)' ? 'the top level' : duplicate.path;
  throw new ConfigError(
    `duplicate key ${JSON.stringify(duplicate.key)} in ${where} (lines ${duplicate.firstLine} and ${duplicate.secondLine}); ` +
      'JSON would silently keep only the last one — keep one of them',
    { file, field: childPath(duplicate.path, duplicate.key) },
  );
}

/** Names that resolve to Object.prototype members in a plain object. */
export function isPrototypeName(name: string): boolean {
  return name === '__proto__' || name === 'prototype' || name in Object.prototype;
}

/** Refuses non-finite numbers anywhere (1e309 parses to Infinity; a limit of Infinity never trips). */
export function assertFiniteNumbers(value: unknown, file: string, path = '(root)'): void {
  if (typeof value === 'number') {
    if (!Number.isFinite(value))
      throw new ConfigError(
        `${path}: ${value} (a number too large to represent, e.g. 1e309) is not a finite number; a gate with that limit could never trip — use a finite number`,
        { file, field: path },
      );
    return;
  }
  if (Array.isArray(value)) value.forEach((v, i) => assertFiniteNumbers(v, file, childPath(path, i)));
  else if (value !== null && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) assertFiniteNumbers(v, file, childPath(path, k));
}

/** Refuses prototype names as environment or gate names (in the file and as `--env`). */
export function assertNoPrototypeNames(raw: unknown, file: string): void {
  const check = (names: string[], where: string, what: string): void => {
    for (const name of names)
      if (isPrototypeName(name))
        throw new ConfigError(
          `${where}: ${JSON.stringify(name)} is not a valid ${what} name (it names a JavaScript object built-in); use a plain name such as "production"`,
          { file, field: `${where}.${name}` },
        );
  };
  const obj = raw as { defaults?: { gates?: object }; environments?: Record<string, { gates?: object }> };
  if (!obj || typeof obj !== 'object') return;
  if (obj.environments && typeof obj.environments === 'object') {
    check(Object.keys(obj.environments), 'environments', 'environment');
    for (const [env, body] of Object.entries(obj.environments))
      if (body?.gates && typeof body.gates === 'object')
        check(Object.keys(body.gates), `environments.${env}.gates`, 'gate');
  }
  if (obj.defaults?.gates && typeof obj.defaults.gates === 'object')
    check(Object.keys(obj.defaults.gates), 'defaults.gates', 'gate');
}
