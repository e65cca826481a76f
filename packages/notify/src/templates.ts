// Event templates: one Handlebars file per event (`<event>.hbs`) in action-templates/notifications/,
// optionally overridden per event from a user's directory. Handlebars was chosen because it is
// logic-less, maintained, and exposes its AST, so every field a template references is checked
// against the event's declared fields at load time (strict mode alone would only fail at send time).
// A template renders light Markdown: the first line is the title, the rest the body.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, parse as parsePath, resolve } from 'node:path';
import Handlebars from 'handlebars';
import { ConfigError } from '@guarded-rollout/config';
import {
  EVENTS,
  eventFields,
  isEvent,
  type EventContext,
  type FieldShape,
  type NotifyEvent,
} from './events.js';

export const TEMPLATE_SUFFIX = '.hbs';
const TEMPLATE_MARKER = join('action-templates', 'notifications');

export interface RenderedMessage {
  title: string;
  /** Light Markdown: **bold**, `code`, ```blocks```, "- " bullets, [text](url). */
  body: string;
}

export type TemplateSet = Record<NotifyEvent, (context: EventContext) => RenderedMessage>;

/** Finds the shipped template directory: next to the running action/CLI bundle (the whole repository
 *  is checked out under the runner's _actions directory), or above the working directory. */
export function findDefaultTemplateDir(env: NodeJS.ProcessEnv = process.env): string {
  const starts = [
    env.GITHUB_ACTION_PATH,
    process.argv[1] ? dirname(process.argv[1]) : undefined,
    process.cwd(),
  ];
  for (const start of starts) {
    if (!start) continue;
    let dir = resolve(start);
    for (let i = 0; i < 12; i++) {
      const candidate = join(dir, TEMPLATE_MARKER);
      if (existsSync(join(candidate, `deploy-started${TEMPLATE_SUFFIX}`))) return candidate;
      const parent = dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  throw new ConfigError(
    `cannot find the notification templates (${TEMPLATE_MARKER}/) above ${starts.filter(Boolean).join(', ')}; pass a template directory`,
  );
}

/** Loads and checks every event's template; files in `overrideDir` replace the defaults. */
export function loadTemplates(options: { defaultDir?: string; overrideDir?: string } = {}): TemplateSet {
  const defaultDir = options.defaultDir ?? findDefaultTemplateDir();
  const sources = new Map<NotifyEvent, { file: string; text: string }>();
  for (const event of EVENTS) {
    const file = join(defaultDir, `${event}${TEMPLATE_SUFFIX}`);
    if (!existsSync(file)) throw new ConfigError(`missing template for event "${event}"`, { file });
    sources.set(event, { file, text: readFileSync(file, 'utf8') });
  }
  if (options.overrideDir) {
    if (!existsSync(options.overrideDir)) {
      throw new ConfigError(`template directory does not exist`, {
        file: options.overrideDir,
        field: 'template-dir',
      });
    }
    for (const name of readdirSync(options.overrideDir)) {
      if (!name.endsWith(TEMPLATE_SUFFIX)) continue;
      const event = parsePath(name).name;
      const file = join(options.overrideDir, name);
      if (!isEvent(event)) {
        throw new ConfigError(
          `"${name}" is not named after an event; name templates <event>${TEMPLATE_SUFFIX} with event one of ${EVENTS.join(', ')}`,
          { file },
        );
      }
      sources.set(event, { file, text: readFileSync(file, 'utf8') });
    }
  }
  const set = {} as TemplateSet;
  for (const [event, source] of sources) set[event] = compileTemplate(event, source.text, source.file);
  return set;
}

/** Compiles one template after checking every referenced field; throws ConfigError naming file,
 *  line and field. */
export function compileTemplate(
  event: NotifyEvent,
  text: string,
  file = `${event}${TEMPLATE_SUFFIX}`,
): (context: EventContext) => RenderedMessage {
  const hbs = Handlebars.create();
  let ast: hbs.AST.Program;
  try {
    ast = hbs.parse(text);
  } catch (error) {
    throw new ConfigError(`template syntax error: ${(error as Error).message.split('\n')[0]}`, { file });
  }
  checkFields(ast, event, file);
  const template = hbs.compile(text, { strict: true, knownHelpersOnly: true, noEscape: true });
  return (context) => {
    let out: string;
    try {
      out = template(context);
    } catch (error) {
      throw new ConfigError(`template failed to render: ${(error as Error).message.split('\n')[0]}`, {
        file,
      });
    }
    return splitTitle(out, context);
  };
}

function splitTitle(out: string, context: EventContext): RenderedMessage {
  const lines = out.replace(/\r\n/g, '\n').split('\n');
  while (lines.length > 0 && lines[0]!.trim() === '') lines.shift();
  const title =
    (lines.shift() ?? '').replace(/^#+\s*/, '').trim() || String(context.eventTitle ?? 'Notification');
  const body = lines
    .join('\n')
    .replace(/[ \t]+\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
  return { title, body };
}

type Scope =
  | { kind: 'root'; fields: Record<string, FieldShape> }
  | { kind: 'items'; keys: readonly string[] }
  | { kind: 'strings' };

const BLOCK_HELPERS = new Set(['if', 'unless', 'each']);

function checkFields(ast: hbs.AST.Program, event: NotifyEvent, file: string): void {
  const root: Scope = { kind: 'root', fields: eventFields(event) };
  const fail = (node: hbs.AST.Node, what: string): never => {
    const fields = Object.keys(root.kind === 'root' ? root.fields : {}).join(', ');
    throw new ConfigError(
      `line ${node.loc?.start.line ?? '?'}: ${what}; fields of event "${event}": ${fields}`,
      { file, field: what },
    );
  };

  const resolvePath = (path: hbs.AST.PathExpression, scopes: Scope[]): FieldShape | 'item' => {
    if (path.data) {
      // @index/@first/@last inside each; @root.x reads the root scope.
      if (path.parts[0] === 'root' && path.parts.length === 2)
        return resolvePath(
          {
            ...path,
            data: false,
            parts: path.parts.slice(1),
            depth: scopes.length - 1,
            original: path.parts[1]!,
          },
          scopes,
        );
      if (['index', 'first', 'last', 'key'].includes(path.parts[0] ?? '') && scopes.length > 1) return 'text';
      return fail(path, `unknown data variable {{${path.original}}}`);
    }
    const scope = scopes[scopes.length - 1 - path.depth];
    if (!scope) return fail(path, `{{${path.original}}} climbs above the template's root`);
    if (path.parts.length === 0) return 'item'; // {{this}} / {{.}}
    if (path.parts.length > 1)
      return fail(path, `{{${path.original}}} is not a field (fields have no sub-fields)`);
    const name = path.parts[0]!;
    if (scope.kind === 'root') {
      const shape = scope.fields[name];
      if (!shape) return fail(path, `{{${path.original}}} is not a field`);
      return shape;
    }
    if (scope.kind === 'items' && scope.keys.includes(name)) return 'text';
    return fail(
      path,
      `{{${path.original}}} is not a field of the list item (${scope.kind === 'items' ? scope.keys.join(', ') : 'a text; use {{this}}'})`,
    );
  };

  const visitExpression = (node: hbs.AST.Expression, scopes: Scope[]): void => {
    if (node.type === 'PathExpression') resolvePath(node as hbs.AST.PathExpression, scopes);
    else if (node.type === 'SubExpression') fail(node, 'sub-expressions are not supported');
  };

  const visit = (program: hbs.AST.Program | undefined, scopes: Scope[]): void => {
    if (!program) return;
    for (const statement of program.body) {
      switch (statement.type) {
        case 'ContentStatement':
        case 'CommentStatement':
          break;
        case 'MustacheStatement': {
          const m = statement as hbs.AST.MustacheStatement;
          if (m.params.length > 0 || (m.hash && m.hash.pairs.length > 0))
            fail(m, `helpers are not supported in {{${(m.path as hbs.AST.PathExpression).original}}}`);
          visitExpression(m.path, scopes);
          break;
        }
        case 'BlockStatement': {
          const b = statement as hbs.AST.BlockStatement;
          const helper = (b.path as hbs.AST.PathExpression).original;
          if (!BLOCK_HELPERS.has(helper) || b.params.length !== 1)
            fail(b, `block {{#${helper}}} is not supported (use #if, #unless or #each with one field)`);
          const param = b.params[0]!;
          if (param.type !== 'PathExpression') fail(b, `{{#${helper}}} needs a field name`);
          const shape = resolvePath(param as hbs.AST.PathExpression, scopes);
          if (helper === 'each') {
            if (shape === 'strings') visit(b.program, [...scopes, { kind: 'strings' }]);
            else if (typeof shape === 'object')
              visit(b.program, [...scopes, { kind: 'items', keys: shape.items }]);
            else fail(b, `{{#each ${(param as hbs.AST.PathExpression).original}}} needs a list field`);
          } else {
            visit(b.program, scopes);
          }
          visit(b.inverse, scopes);
          break;
        }
        default:
          fail(statement, `${statement.type} is not supported in notification templates`);
      }
    }
  };
  visit(ast, [root]);
}
