// PR bodies for tests, derived from the template users actually get.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const TEMPLATE = readFileSync(
  fileURLToPath(new URL('../../../action-templates/PR_BODY.md', import.meta.url)),
  'utf8',
);

/** The template filled in: every box ticked except the other risk levels, "NO" and monitor_logs. */
export function completeBody(options: { risk?: string; monitorLogs?: boolean } = {}): string {
  const risk = options.risk ?? 'Low';
  return TEMPLATE.split('\n')
    .map((line) => {
      if (!line.startsWith('- [ ]')) return line;
      if (/Risk level: /.test(line) && !line.endsWith(`Risk level: ${risk}`)) return line;
      if (/Ready for deployment: NO/.test(line)) return line;
      if (/monitor_logs/.test(line) && !options.monitorLogs) return line;
      return line.replace('- [ ]', '- [x]');
    })
    .join('\n');
}

export function untick(body: string, text: string): string {
  return body
    .split('\n')
    .map((l) => (l.includes(text) ? l.replace('[x]', '[ ]') : l))
    .join('\n');
}
