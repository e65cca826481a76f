// Converts the templates' light Markdown (**bold**, `code`, ``` blocks, "- " bullets, [text](url))
// to each channel's dialect. Written by hand: full Markdown libraries do not emit Slack mrkdwn,
// and this subset is small enough to convert exactly. Also the truncation rule every channel uses.

export const TRUNCATION_MARKER = '… (truncated)';

/** Cuts `text` to at most `max` characters (UTF-16 units, as the chat APIs count), ending with a
 *  visible marker so a reader knows content is missing. */
export function truncate(text: string, max: number, marker = TRUNCATION_MARKER): string {
  if (text.length <= max) return text;
  if (max <= marker.length) return marker.slice(0, max);
  let cut = max - marker.length;
  // Never split a surrogate pair (an emoji would become an invalid character).
  const code = text.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut -= 1;
  return `${text.slice(0, cut)}${marker}`;
}

const LINK = /\[([^\]\n]+)\]\(([^)\s]+)\)/g;

/** Slack mrkdwn: *bold*, <url|text>, and &, <, > escaped as Slack requires. */
export function toSlackMrkdwn(markdown: string): string {
  return mapOutsideCode(
    markdown,
    (text) => {
      const links: string[] = [];
      const withTokens = text.replace(LINK, (_m, label: string, url: string) => {
        links.push(`<${url}|${escapeSlack(label)}>`);
        return `\uE000${links.length - 1}\uE000`;
      });
      return escapeSlack(withTokens)
        .replace(/\*\*([^*\n]+)\*\*/g, '*$1*')
        .replace(/^- /gm, '• ')
        .replace(/\uE000(\d+)\uE000/g, (_m, i: string) => links[Number(i)]!);
    },
    escapeSlack,
  );
}

function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Plain text (email text part, fallbacks): markers removed, links as "text (url)". */
export function toPlainText(markdown: string): string {
  return mapOutsideCode(markdown, (text) =>
    text
      .replace(LINK, '$1 ($2)')
      .replace(/\*\*([^*\n]+)\*\*/g, '$1')
      .replace(/`([^`\n]+)`/g, '$1'),
  ).replace(/^```\s*$/gm, '');
}

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** HTML for the email body: paragraphs, bullet lists, code blocks; all text escaped. */
export function toHtml(markdown: string): string {
  const out: string[] = [];
  const blocks = markdown.split(/\n{2,}/);
  for (const block of blocks) {
    const fence = /^```[^\n]*\n([\s\S]*?)\n?```$/.exec(block.trim());
    if (fence) {
      out.push(`<pre style="background:#f4f4f4;padding:8px">${escapeHtml(fence[1] ?? '')}</pre>`);
      continue;
    }
    const lines = block.split('\n');
    let para: string[] = [];
    let list: string[] = [];
    const flush = (): void => {
      if (para.length) out.push(`<p>${para.join('<br>')}</p>`);
      if (list.length) out.push(`<ul>${list.map((l) => `<li>${l}</li>`).join('')}</ul>`);
      para = [];
      list = [];
    };
    for (const line of lines) {
      if (line.startsWith('- ')) {
        if (para.length) flush();
        list.push(inlineHtml(line.slice(2)));
      } else {
        if (list.length) flush();
        para.push(inlineHtml(line));
      }
    }
    flush();
  }
  return out.join('\n');
}

function inlineHtml(text: string): string {
  return escapeHtml(text)
    .replace(/\[([^\]\n]+)\]\(([^)\s]+)\)/g, (_m, label: string, url: string) =>
      /^https?:/.test(url.replace(/&amp;/g, '&')) ? `<a href="${url}">${label}</a>` : `${label} (${url})`,
    )
    .replace(/\*\*([^*\n]+)\*\*/g, '<strong>$1</strong>')
    .replace(/`([^`\n]+)`/g, '<code>$1</code>');
}

/** Applies `convert` to text outside ``` fences; fenced code gets `code` (default: unchanged). */
function mapOutsideCode(
  markdown: string,
  convert: (text: string) => string,
  code: (text: string) => string = (t) => t,
): string {
  return markdown
    .split(/(```[\s\S]*?```)/g)
    .map((part, i) => (i % 2 === 1 ? code(part) : convert(part)))
    .join('');
}

/** Splits text into chunks of at most `max` characters, preferring paragraph, then line breaks. */
export function chunkText(text: string, max: number): string[] {
  const chunks: string[] = [];
  let rest = text;
  while (rest.length > max) {
    let cut = rest.lastIndexOf('\n\n', max);
    if (cut < max / 2) cut = rest.lastIndexOf('\n', max);
    if (cut < max / 2) cut = max;
    chunks.push(rest.slice(0, cut).trimEnd());
    rest = rest.slice(cut).replace(/^\n+/, '');
  }
  if (rest.length) chunks.push(rest);
  return chunks;
}
