// Email rendering: subject, plain-text and HTML parts (the HTML escapes every value).
import { escapeHtml, toHtml, toPlainText, truncate } from '../markup.js';
import type { NotificationMessage } from '../message.js';
import type { Severity } from '../events.js';

const BANNER: Record<Severity, string> = {
  info: '#3b82f6',
  success: '#16a34a',
  warning: '#d97706',
  danger: '#dc2626',
};

export interface EmailContent {
  subject: string;
  text: string;
  html: string;
}

export function renderEmail(message: NotificationMessage): EmailContent {
  const subject = truncate(
    `[guarded-rollout] [${message.environment}] ${message.title}`.replace(/[\r\n]+/g, ' '),
    200,
  );
  const facts = message.facts.map((f) => `${f.name}: ${f.value}`).join('\n');
  const text = [
    message.title,
    '',
    facts,
    '',
    toPlainText(message.body),
    '',
    message.runUrl ? `Workflow run: ${message.runUrl}` : '',
    `ref ${message.dedupeKey}`,
  ]
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
  const rows = message.facts
    .map(
      (f) =>
        `<tr><th align="left" style="padding-right:12px">${escapeHtml(f.name)}</th><td>${escapeHtml(f.value)}</td></tr>`,
    )
    .join('');
  const html = [
    '<!doctype html><html><body style="font-family:sans-serif">',
    `<h2 style="border-left:6px solid ${BANNER[message.severity]};padding-left:8px">${escapeHtml(message.title)}</h2>`,
    `<table>${rows}</table>`,
    toHtml(message.body),
    message.runUrl ? `<p><a href="${escapeHtml(message.runUrl)}">Open the workflow run</a></p>` : '',
    `<p style="color:#888;font-size:small">ref ${escapeHtml(message.dedupeKey)}</p>`,
    '</body></html>',
  ].join('\n');
  return { subject, text, html };
}
