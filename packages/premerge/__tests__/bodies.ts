// PR bodies for tests: our template (action-templates/PR_BODY.md) and the seed's PR template
// (kept verbatim in fixtures/), each filled in the way a careful author would.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const read = (path: string): string => readFileSync(fileURLToPath(new URL(path, import.meta.url)), 'utf8');

export const TEMPLATE = read('../../../action-templates/PR_BODY.md');
export const SEED_TEMPLATE = read('./fixtures/seed-pr-template.md');

export interface FillOptions {
  risk?: 'Low' | 'Medium' | 'High' | 'Critical';
  monitorLogs?: boolean;
  environment?: string;
  ready?: 'YES' | 'NO';
  backupResult?: 'PASS' | 'FAIL';
}

/** Ticks every list box (except monitor_logs unless asked), one risk level, one ready choice, the
 *  backup verification result, and names the environment. */
export function fill(template: string, options: FillOptions = {}): string {
  const risk = options.risk ?? 'Medium';
  return template
    .split('\n')
    .map((line) => {
      if (/^\*\*Environment:\*\*/.test(line)) return `**Environment:** ${options.environment ?? 'staging'}  `;
      if (/^\*\*Risk Level:\*\*/.test(line)) return line.replace(`[ ] ${risk}`, `[x] ${risk}`);
      if (/^\*\*Ready for deployment:\*\*/.test(line))
        return line.replace(`[ ] ${options.ready ?? 'YES'}`, `[x] ${options.ready ?? 'YES'}`);
      if (/^\*\*Backup verification result:\*\*/.test(line))
        return line.replace(/\[ \] (✅ PASS|❌ FAIL)/g, (m, word: string) =>
          word.endsWith(options.backupResult ?? 'PASS') ? `[x] ${word}` : m,
        );
      if (!/^\s*- \[ \]/.test(line)) return line;
      if (/monitor_logs/.test(line) && !options.monitorLogs) return line;
      return line.replace('- [ ]', '- [x]');
    })
    .join('\n');
}

export const completeBody = (options: FillOptions = {}): string => fill(TEMPLATE, options);
export const seedBody = (options: FillOptions = {}): string => fill(SEED_TEMPLATE, options);

/** Unticks the first box whose line contains `text`. */
export function untick(body: string, text: string): string {
  let done = false;
  return body
    .split('\n')
    .map((l) => {
      if (done || !l.includes(text) || !l.includes('[x]')) return l;
      done = true;
      return l.replace('[x]', '[ ]');
    })
    .join('\n');
}
