// Slack incoming webhook payload: Block Kit with a plain `text` fallback (used in notifications
// and by clients that cannot show blocks). Limits from Slack's Block Kit reference.
import { chunkText, toPlainText, toSlackMrkdwn, truncate, TRUNCATION_MARKER } from '../markup.js';
import type { NotificationMessage } from '../message.js';

export const SLACK_LIMITS = {
  blocks: 50,
  sectionText: 3000,
  headerText: 150,
  fields: 10,
  fieldText: 2000,
  contextElements: 10,
  /** Slack truncates `text` beyond 40,000 characters; a notification fallback needs far less. */
  fallbackText: 3000,
} as const;

export interface SlackPayload {
  text: string;
  blocks: Record<string, unknown>[];
}

export function renderSlack(message: NotificationMessage): SlackPayload {
  const blocks: Record<string, unknown>[] = [];
  blocks.push({
    type: 'header',
    text: { type: 'plain_text', text: truncate(message.title, SLACK_LIMITS.headerText), emoji: true },
  });
  const fields = message.facts.slice(0, SLACK_LIMITS.fields).map((f) => ({
    type: 'mrkdwn',
    text: truncate(`*${f.name}*\n${toSlackMrkdwn(f.value)}`, SLACK_LIMITS.fieldText),
  }));
  if (fields.length) blocks.push({ type: 'section', fields });
  // Room left for body sections: one block is kept for the context line (run link, dedupe key).
  const room = SLACK_LIMITS.blocks - blocks.length - 1;
  let chunks = chunkText(toSlackMrkdwn(message.body), SLACK_LIMITS.sectionText);
  if (chunks.length > room) {
    chunks = chunks.slice(0, room);
    chunks[room - 1] = truncate(`${chunks[room - 1]}\n${TRUNCATION_MARKER}`, SLACK_LIMITS.sectionText);
  }
  for (const chunk of chunks) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: chunk } });
  const context = [
    message.runUrl ? `<${message.runUrl}|workflow run>` : undefined,
    `ref \`${message.dedupeKey}\``,
  ].filter((e): e is string => e !== undefined);
  blocks.push({ type: 'context', elements: context.map((text) => ({ type: 'mrkdwn', text })) });
  return {
    text: truncate(`${message.title}\n${toPlainText(message.body)}`, SLACK_LIMITS.fallbackText),
    blocks,
  };
}
