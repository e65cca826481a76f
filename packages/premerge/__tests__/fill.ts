// Fills a PR template the way a careful author would (no file access, so benches can bundle it).
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
