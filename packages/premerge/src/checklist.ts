// Reads the task-list items of a PR body with a real Markdown parser (GFM), so boxes inside code
// fences, inline code, HTML comments or quoted text never count, and items are found by their
// text rather than their position.
import type { ListItem, Nodes, Paragraph } from 'mdast';
import { fromMarkdown } from 'mdast-util-from-markdown';
import { gfmFromMarkdown } from 'mdast-util-gfm';
import { toString } from 'mdast-util-to-string';
import { gfm } from 'micromark-extension-gfm';

export interface TaskItem {
  /** The item's own text as rendered (formatting stripped, nested lists excluded). */
  text: string;
  /** `text` normalised for matching: lower case, no emoji, punctuation folded to spaces. */
  key: string;
  checked: boolean;
  /** 1-based line in the body, for messages. */
  line: number;
}

/** Lower case, NFKC, emoji and variation selectors removed, punctuation runs folded to one space. */
export function normaliseItemText(text: string): string {
  return (
    text
      .normalize('NFKC')
      .toLowerCase()
      // Emoji, then the joiners/selectors/skin tones that glue them together (alternation, not a
      // character class, so no combined sequence is split).
      .replace(/\p{Extended_Pictographic}|\u{FE0F}|\u{200D}|\u{20E3}|[\u{1F3FB}-\u{1F3FF}]/gu, ' ')
      .replace(/[^\p{L}\p{N}._/-]+/gu, ' ')
      // A hyphen is part of a word ("deploy-dryrun.log") only between letters or digits.
      .replace(/(?<![\p{L}\p{N}])-+|-+(?![\p{L}\p{N}])/gu, ' ')
      .replace(/\s+/g, ' ')
      .trim()
  );
}

/** Every GFM task-list item of a Markdown body, in document order. Never throws. */
export function parseTaskItems(body: string): TaskItem[] {
  const tree = fromMarkdown(body, { extensions: [gfm()], mdastExtensions: [gfmFromMarkdown()] });
  const items: TaskItem[] = [];
  const visit = (node: Nodes): void => {
    // Quoted text is someone else's checklist (a reply quoting the template), not the author's.
    if (node.type === 'blockquote') return;
    if (node.type === 'listItem' && typeof node.checked === 'boolean') items.push(itemOf(node));
    if ('children' in node) for (const child of node.children) visit(child as Nodes);
  };
  visit(tree);
  return items;
}

function itemOf(node: ListItem): TaskItem {
  // The item's own words are its leading paragraph; nested lists are items of their own.
  const own = node.children.filter((c): c is Paragraph => c.type === 'paragraph');
  const text = own
    .map((p) => toString(p))
    .join(' ')
    .replace(/\s+/g, ' ')
    .trim();
  return {
    text,
    key: normaliseItemText(text),
    checked: node.checked === true,
    line: node.position?.start.line ?? 0,
  };
}

/** True when `key` (normalised) starts with the normalised pattern at a word boundary. */
export function itemMatches(key: string, pattern: string): boolean {
  const wanted = normaliseItemText(pattern);
  if (!wanted) return false;
  if (!key.startsWith(wanted)) return false;
  const next = key.charAt(wanted.length);
  return next === '' || next === ' ';
}

export type ItemState =
  | { state: 'ticked'; items: TaskItem[] }
  | { state: 'unticked'; items: TaskItem[] }
  | { state: 'absent'; items: [] }
  | { state: 'conflicting'; items: TaskItem[] };

/** The state of one checklist entry; duplicates that disagree are `conflicting` (never ticked). */
export function findItem(items: readonly TaskItem[], pattern: string): ItemState {
  const found = items.filter((i) => itemMatches(i.key, pattern));
  if (found.length === 0) return { state: 'absent', items: [] };
  const ticked = found.filter((i) => i.checked).length;
  if (ticked === found.length) return { state: 'ticked', items: found };
  if (ticked === 0) return { state: 'unticked', items: found };
  return { state: 'conflicting', items: found };
}
