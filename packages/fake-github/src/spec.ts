// GitHub's OpenAPI description, loaded once per process: operation lookup by method + concrete
// path, response examples as templates, and Ajv validators for request and response bodies.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ??
  addFormatsModule) as unknown as (ajv: Ajv) => Ajv;

type Json = Record<string, unknown>;

export interface Operation {
  operationId: string;
  method: string;
  template: string;
  pattern: RegExp;
  paramNames: string[];
  raw: Json;
}

export interface MatchedOperation {
  operation: Operation;
  params: Record<string, string>;
}

// Absolute id under which the spec is registered, so refs from inline schemas resolve to it.
const SPEC_ID = 'https://openapi.invalid/api.github.com.json';

let loaded:
  { spec: Json; operations: Operation[]; ajv: Ajv; validators: Map<string, ValidateFunction> } | undefined;

function load(): NonNullable<typeof loaded> {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  const file = require.resolve('@octokit/openapi/generated/api.github.com.json');
  const spec = JSON.parse(readFileSync(file, 'utf8')) as Json;
  const operations: Operation[] = [];
  for (const [template, item] of Object.entries(spec.paths as Record<string, Json>)) {
    for (const [method, raw] of Object.entries(item)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      const paramNames: string[] = [];
      const source = template
        .replace(/[.*+?^$()|[\]\\]/g, '\\$&')
        .replace(/\\?\{([^}]+)\\?\}/g, (_m, name: string) => {
          paramNames.push(name);
          return '([^/]+)';
        });
      operations.push({
        operationId: (raw as Json).operationId as string,
        method: method.toUpperCase(),
        template,
        pattern: new RegExp(`^${source}$`),
        paramNames,
        raw: raw as Json,
      });
    }
  }
  // Templates with fewer parameters win over ones that would also match (e.g. /user vs /{x}).
  operations.sort((a, b) => a.paramNames.length - b.paramNames.length);
  // OpenAPI 3.0 keywords (nullable, example, x-*) are not JSON Schema; strict mode off lets Ajv
  // ignore the annotations while it still honours `nullable`.
  const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
  addFormats(ajv);
  ajv.addSchema(spec, SPEC_ID);
  loaded = { spec, operations, ajv, validators: new Map() };
  return loaded;
}

export function findOperation(method: string, path: string): MatchedOperation | undefined {
  for (const operation of load().operations) {
    if (operation.method !== method) continue;
    const match = operation.pattern.exec(path);
    if (!match) continue;
    const params = Object.fromEntries(
      operation.paramNames.map((n, i) => [n, decodeURIComponent(match[i + 1]!)]),
    );
    return { operation, params };
  }
  return undefined;
}

export function operationById(operationId: string): Operation {
  const op = load().operations.find((o) => o.operationId === operationId);
  if (!op) throw new Error(`no GitHub operation "${operationId}" in the OpenAPI description`);
  return op;
}

/** Resolves a local JSON pointer ("#/components/...") in the spec. */
function resolveRef(ref: string): unknown {
  let node: unknown = load().spec;
  for (const part of ref.replace(/^#\//, '').split('/'))
    node = (node as Json)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  return node;
}

function deref<T>(node: T): T {
  const ref = (node as Json | undefined)?.$ref;
  return (typeof ref === 'string' ? resolveRef(ref) : node) as T;
}

/** Points an inline schema's local refs at the spec document registered as "github". */
function rebase(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(rebase);
  if (node === null || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node as Json).map(([k, v]) => [
      k,
      k === '$ref' && typeof v === 'string' && v.startsWith('#/') ? `${SPEC_ID}${v}` : rebase(v),
    ]),
  );
}

function validatorFor(key: string, schema: unknown): ValidateFunction {
  const state = load();
  let fn = state.validators.get(key);
  if (!fn) {
    // Compile against the spec document so its #/components refs resolve.
    const ref = (schema as Json).$ref;
    fn =
      typeof ref === 'string'
        ? state.ajv.getSchema(`${SPEC_ID}${ref}`)!
        : state.ajv.compile({ ...(rebase(schema) as Json), $id: `inline:${key}` });
    state.validators.set(key, fn);
  }
  return fn;
}

function problemsOf(fn: ValidateFunction, value: unknown): string[] {
  return fn(value)
    ? []
    : (fn.errors ?? [])
        .slice(0, 10)
        .map((e) => `${e.instancePath || '(body)'} ${e.message ?? 'is invalid'} ${JSON.stringify(e.params)}`);
}

/** Problems with a request body (empty when it conforms). */
export function requestProblems(operation: Operation, body: unknown): string[] {
  const requestBody = deref(operation.raw.requestBody as Json | undefined);
  if (!requestBody) return [];
  const schema = ((requestBody.content as Json | undefined)?.['application/json'] as Json | undefined)
    ?.schema;
  if (!schema) return [];
  if (body === undefined) return requestBody.required ? ['request body is required'] : [];
  return problemsOf(validatorFor(`${operation.operationId}:request`, schema), body);
}

function responseEntry(operation: Operation, status: number): Json | undefined {
  const responses = operation.raw.responses as Json;
  return deref((responses[String(status)] ?? responses.default) as Json | undefined);
}

/** Problems with a response body for a status (a status GitHub does not document is a problem). */
export function responseProblems(operation: Operation, status: number, body: unknown): string[] {
  const entry = responseEntry(operation, status);
  if (!entry) return [`status ${status} is not a documented response of ${operation.operationId}`];
  const schema = ((entry.content as Json | undefined)?.['application/json'] as Json | undefined)?.schema;
  if (!schema) return body === undefined || body === '' ? [] : [];
  return problemsOf(validatorFor(`${operation.operationId}:${status}`, schema), body);
}

/** A deep copy of GitHub's documented example response, to build realistic objects from. */
export function exampleResponse(operationId: string, status: number): unknown {
  const entry = responseEntry(operationById(operationId), status);
  const examples = ((entry?.content as Json | undefined)?.['application/json'] as Json | undefined)
    ?.examples as Json | undefined;
  const first = examples ? deref(Object.values(examples)[0] as Json) : undefined;
  if (!first || !('value' in first)) throw new Error(`${operationId} has no example for status ${status}`);
  return structuredClone(first.value);
}
