// Reads the checklist of a PR body with a linear line scanner. A Markdown library was tried and
// dropped: it recursed once per `>` (stack overflow at ~6,000) and spent seconds on legal 64 KB
// bodies of emphasis runs; a body is attacker-controlled, so every step here is O(length).
// Boxes inside code fences, indented code, HTML comments and quotes never count.

/** GitHub's own limit for a PR body; anything longer is refused, not judged. */
export const MAX_BODY_CHARS = 65_536;

export interface TaskItem {
  /** The item's own text with formatting stripped. */
  text: string;
  /** `text` normalised for matching: lower case, no emoji, punctuation folded to spaces. */
  key: string;
  /** Normalised label: a leading `**Label:**`/`` `file` `` span, the words before `:`, or the whole text. */
  label: string;
  /** Normalised choice value (words after the label up to the first separator), '' when none. */
  value: string;
  checked: boolean;
  /** 1-based line in the body, for messages. */
  line: number;
  /** Normalised text of the nearest heading above ('' before the first heading). */
  section: string;
}

export interface ParsedBody {
  items: TaskItem[];
  /** `**Label:** value` lines without boxes (e.g. Environment), normalised label → raw value. */
  fields: Map<string, string>;
}

/** Lower case, NFKC, emoji and variation selectors removed, punctuation runs folded to one space. */
export function normaliseItemText(text: string): string {
  return (
    text
      .normalize('NFKC')
      .toLowerCase()
      .replace(/\p{Extended_Pictographic}|\u{FE0F}|\u{200D}|\u{20E3}|[\u{1F3FB}-\u{1F3FF}]/gu, ' ')
      .replace(/[^\p{L}\p{N}._/-]+/gu, ' ')
      // A hyphen is part of a word ("deploy-dryrun.log") only between letters or digits.
      .replace(/(?<![\p{L}\p{N}])-+|-+(?![\p{L}\p{N}])/gu, ' ')
      .replace(/\s+/g, ' ')
      .trim()
  );
}

/** Inline formatting removed: links keep their text, emphasis/code markers go. Linear. */
export function plainText(text: string): string {
  return (
    text
      // `[^[\]]*` cannot cross another bracket, so each candidate is scanned once.
      .replace(/!?\[([^[\]]*)\]\([^()\s]*\)/g, '$1')
      .replace(/[*_`~]+/g, '')
      .replace(/\s+/g, ' ')
      .trim()
  );
}

/** Splits "label" from the rest of an item/line: a leading bold span ending in ':', a leading code
 *  span followed by nothing, '(' or ':', or the words before the first ':'. */
export function splitLabel(raw: string): { label: string; rest: string } | undefined {
  const text = raw.trimStart();
  for (const mark of ['**', '__']) {
    if (!text.startsWith(mark)) continue;
    const end = text.indexOf(mark, mark.length);
    if (end < 0) break;
    const inner = text.slice(mark.length, end);
    const after = text.slice(end + mark.length);
    if (inner.trimEnd().endsWith(':')) return { label: inner.trimEnd().slice(0, -1), rest: after };
    if (after.trimStart().startsWith(':')) return { label: inner, rest: after.trimStart().slice(1) };
    return undefined;
  }
  if (text.startsWith('`')) {
    const end = text.indexOf('`', 1);
    if (end > 0) {
      const after = text.slice(end + 1).trimStart();
      if (after === '' || after.startsWith('(')) return { label: text.slice(1, end), rest: after };
      if (after.startsWith(':')) return { label: text.slice(1, end), rest: after.slice(1) };
      return undefined;
    }
  }
  const colon = text.indexOf(':');
  if (colon > 0) return { label: text.slice(0, colon), rest: text.slice(colon + 1) };
  return undefined;
}

/** The choice word(s) of a value: up to the first separator ("YES - all met" → "yes"). */
export function choiceValue(raw: string): string {
  const cut = /\s[-–—/]\s|[,;(/:]|\s[-–—/]$/.exec(raw);
  return normaliseItemText(cut ? raw.slice(0, cut.index) : raw);
}

const FENCE = /^ {0,3}(`{3,}|~{3,})/;
const TASK = /^(\s*)(?:[-*+]|\d{1,9}[.)])[ \t]+\[([ xX])\][ \t]+(\S.*)$/;
const LIST = /^(\s*)(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$)/;
const HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*))?$/;
const BOX = /\[([ xX])\]/g;

/** Removes HTML comments (also across lines) in one pass, keeping line breaks for line numbers. */
function stripComments(body: string): string {
  let out = '';
  let at = 0;
  for (;;) {
    const open = body.indexOf('<!--', at);
    if (open < 0) return out + body.slice(at);
    out += body.slice(at, open);
    const close = body.indexOf('-->', open + 4);
    const hidden = close < 0 ? body.slice(open) : body.slice(open, close + 3);
    out += hidden.replace(/[^\n]+/g, '');
    if (close < 0) return out;
    at = close + 3;
  }
}

function itemOf(raw: string, checked: boolean, line: number, section: string): TaskItem {
  const split = splitLabel(raw);
  const text = plainText(raw);
  return {
    text,
    key: normaliseItemText(text),
    label: normaliseItemText(plainText(split ? split.label : raw)),
    value: split ? choiceValue(plainText(split.rest)) : '',
    checked,
    line,
    section,
  };
}

/** Every checklist box of a body, in document order, plus the `**Label:** value` fields. Never throws;
 *  callers refuse bodies longer than MAX_BODY_CHARS before calling (the scan is linear regardless). */
export function parseBody(body: string): ParsedBody {
  const items: TaskItem[] = [];
  const fields = new Map<string, string>();
  const lines = stripComments(body.replace(/\r\n?/g, '\n')).split('\n');
  let fence: string | undefined;
  let inList = false;
  let section = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const fenceMatch = FENCE.exec(line);
    if (fence !== undefined) {
      if (fenceMatch && fenceMatch[1]![0] === fence[0] && fenceMatch[1]!.length >= fence.length)
        fence = undefined;
      continue;
    }
    if (fenceMatch) {
      fence = fenceMatch[1]!;
      continue;
    }
    if (line.trim() === '') continue;
    const indent = line.length - line.trimStart().length;
    // Quoted text is someone else's checklist (a reply quoting the template), not the author's.
    if (line.trimStart().startsWith('>') && indent < 4) continue;
    if (indent >= 4 && !inList) continue; // indented code block
    const heading = indent < 4 ? HEADING.exec(line) : null;
    if (heading) {
      // Closing #s are punctuation to the normaliser: no trailing-run regex (that one backtracks).
      section = normaliseItemText(plainText(heading[2] ?? ''));
      inList = false;
      continue;
    }
    const task = TASK.exec(line);
    if (task) {
      inList = true;
      items.push(itemOf(task[3]!, task[2] !== ' ', i + 1, section));
      continue;
    }
    if (LIST.test(line)) {
      inList = true;
      continue;
    }
    if (indent === 0) inList = false;
    choiceLine(line, i + 1, section, items, fields);
  }
  return { items, fields };
}

/** `**Risk Level:** [ ] Low [x] Medium`: one item per box, all under the line's label. */
function choiceLine(
  line: string,
  number: number,
  section: string,
  items: TaskItem[],
  fields: Map<string, string>,
): void {
  const split = splitLabel(line);
  if (!split || !/^\s*(?:\*\*|__)/.test(line)) return;
  const label = normaliseItemText(plainText(split.label));
  if (!label) return;
  const rest = split.rest;
  BOX.lastIndex = 0;
  const boxes: { checked: boolean; start: number; end: number }[] = [];
  for (let m = BOX.exec(rest); m; m = BOX.exec(rest))
    boxes.push({ checked: m[1] !== ' ', start: m.index, end: m.index + 3 });
  if (boxes.length === 0) {
    if (!fields.has(label)) fields.set(label, plainText(rest));
    return;
  }
  // Text before the first box belongs to no option; each option runs to the next box.
  for (const [k, box] of boxes.entries()) {
    const optionRaw = rest.slice(box.end, boxes[k + 1]?.start ?? rest.length);
    const option = plainText(optionRaw);
    const text = `${plainText(split.label)}: ${option}`;
    items.push({
      text,
      key: normaliseItemText(text),
      label,
      value: choiceValue(option),
      checked: box.checked,
      line: number,
      section,
    });
  }
}

/** Every checklist box of a body, in document order. */
export function parseTaskItems(body: string): TaskItem[] {
  return parseBody(body).items;
}

/** A pattern is "Label" (matches the item's label exactly) or "Label: Choice" (label and choice). */
export function compilePattern(pattern: string): (item: TaskItem) => boolean {
  const split = splitLabel(pattern);
  if (split && split.rest.trim()) {
    const label = normaliseItemText(plainText(split.label));
    const value = choiceValue(plainText(split.rest));
    return (item) => item.label === label && item.value === value;
  }
  const wanted = normaliseItemText(plainText(pattern));
  return (item) => wanted !== '' && item.label === wanted;
}

export function itemMatches(item: TaskItem, pattern: string): boolean {
  return compilePattern(pattern)(item);
}

export type ItemState =
  | { state: 'ticked'; items: TaskItem[] }
  | { state: 'unticked'; items: TaskItem[] }
  | { state: 'absent'; items: [] }
  | { state: 'conflicting'; items: TaskItem[] };

/**
 * The state of one checklist entry. A label can recur in different sections with different
 * meanings (the seed template has "Quality gates" under configuration review and again under
 * post-deployment validation), so the first section where it appears decides; duplicates inside
 * that section that disagree are `conflicting` (never ticked).
 */
export function findItem(items: readonly TaskItem[], pattern: string): ItemState {
  const all = items.filter(compilePattern(pattern));
  if (all.length === 0) return { state: 'absent', items: [] };
  const found = all.filter((i) => i.section === all[0]!.section);
  const ticked = found.filter((i) => i.checked).length;
  if (ticked === found.length) return { state: 'ticked', items: found };
  if (ticked === 0) return { state: 'unticked', items: found };
  return { state: 'conflicting', items: found };
}
