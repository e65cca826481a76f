// Human-readable reports of a send result, shared by the action (job summary) and the CLI.
import type { SendResult } from './send.js';

/** One line per channel: "slack      delivered (1 attempt)". */
export function describeResult(result: SendResult): string[] {
  return result.channels.map((r) => {
    const attempts =
      r.attempts > 0 ? ` (${r.attempts} attempt${r.attempts === 1 ? '' : 's'}, ${r.durationMs} ms)` : '';
    return `${r.channel.padEnd(8)} ${r.status}${attempts}${r.reason ? `: ${r.reason}` : ''}`;
  });
}

/** Markdown for a job summary: a table of channels, then (dry-run) each rendered payload. */
export function resultMarkdown(result: SendResult): string {
  const lines = [
    `### Notification${result.dryRun ? ' (dry-run: nothing sent)' : ''}: ${escapeCell(result.title)}`,
    '',
    `Event \`${result.event}\` for \`${result.environment}\`, ref \`${result.dedupeKey}\`.`,
    '',
    '| channel | status | attempts | detail |',
    '|---|---|---|---|',
    ...result.channels.map(
      (r) => `| ${r.channel} | ${r.status} | ${r.attempts} | ${escapeCell(r.reason ?? '')} |`,
    ),
    '',
  ];
  if (result.fallbackPath) lines.push(`Undelivered messages were kept in \`${result.fallbackPath}\`.`, '');
  if (result.fallbackError) lines.push(`**${escapeCell(result.fallbackError)}**`, '');
  if (result.dryRun) {
    for (const r of result.channels) {
      lines.push(
        `<details><summary>${r.channel} payload</summary>`,
        '',
        '```json',
        JSON.stringify(r.payload, null, 2),
        '```',
        '',
        '</details>',
        '',
      );
    }
  }
  return lines.join('\n');
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}
