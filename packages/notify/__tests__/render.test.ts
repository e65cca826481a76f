import { describe, expect, it } from '@jest/globals';
import {
  chunkText,
  DISCORD_LIMITS,
  embedChars,
  payloadBytes,
  renderDiscord,
  renderEmail,
  renderSlack,
  renderTeams,
  renderWebhook,
  SLACK_LIMITS,
  TEAMS_LIMITS,
  toHtml,
  toPlainText,
  toSlackMrkdwn,
  truncate,
  TRUNCATION_MARKER,
} from '../src/index.js';
import { message, VIOLATION_DETAILS } from './fixtures.js';

// A message far beyond every channel's limits: 60 000 characters of body, a 500-character title
// (through the custom event), and 40 violated gates with long names.
const HUGE_PARAGRAPH = 'The p95 hash time kept rising while the low-confidence queue grew. '.repeat(40);
const huge = message('custom', {
  title: `Very long title ${'x'.repeat(500)}`,
  message: Array.from({ length: 24 }, (_, i) => `Paragraph ${i}: ${HUGE_PARAGRAPH}`).join('\n\n'),
  version: 'v'.repeat(3000),
  actor: 'a'.repeat(3000),
});

describe('Slack Block Kit payload', () => {
  it('has a header, fact fields, body sections, a context line and a text fallback', () => {
    const p = renderSlack(message('gate-violation', VIOLATION_DETAILS));
    expect(p.blocks.map((b) => b.type)).toEqual(['header', 'section', 'section', 'context']);
    expect(p.text).toContain('Quality gate violated');
    const body = (p.blocks[2] as { text: { text: string } }).text.text;
    expect(body).toContain('• *p95_hash_time*: 2400 ms (limit &gt; 2000 ms over 15m)');
    expect(body).toContain('<https://github.com/acme/dhash/actions/runs/42|Open the workflow run>');
  });

  it('stays within every documented limit for oversized content and marks the cut', () => {
    // 80 paragraphs of 2 700 characters: more than 50 blocks of 3000 could hold.
    const p = renderSlack({
      ...huge,
      body: Array.from({ length: 80 }, (_, i) => `Paragraph ${i}: ${HUGE_PARAGRAPH}`).join('\n\n'),
    });
    expect(p.blocks.length).toBeLessThanOrEqual(SLACK_LIMITS.blocks);
    const header = p.blocks[0] as { text: { text: string } };
    expect(header.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.headerText);
    expect(header.text.text.endsWith(TRUNCATION_MARKER)).toBe(true);
    for (const block of p.blocks) {
      const b = block as { text?: { text: string }; fields?: { text: string }[] };
      if (block.type === 'section' && b.text)
        expect(b.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
      if (b.fields) {
        expect(b.fields.length).toBeLessThanOrEqual(SLACK_LIMITS.fields);
        for (const f of b.fields) expect(f.text.length).toBeLessThanOrEqual(SLACK_LIMITS.fieldText);
      }
    }
    expect(p.text.length).toBeLessThanOrEqual(SLACK_LIMITS.fallbackText);
    const sections = p.blocks.filter((b) => b.type === 'section' && 'text' in b) as {
      text: { text: string };
    }[];
    expect(sections.at(-1)!.text.text).toContain(TRUNCATION_MARKER);
  });
});

describe('Microsoft Teams Workflows payload', () => {
  it('wraps an Adaptive Card 1.4 in the message envelope Workflows expects', () => {
    const p = renderTeams(
      message('rollback-failed', { backup: 'b.zip', runUrl: 'https://example.test/run' }),
    );
    expect(p.type).toBe('message');
    expect(p.attachments).toHaveLength(1);
    const a = p.attachments[0];
    expect(a.contentType).toBe('application/vnd.microsoft.card.adaptive');
    expect(a.contentUrl).toBeNull();
    expect(a.content.type).toBe('AdaptiveCard');
    expect(a.content.version).toBe('1.4');
    expect(JSON.stringify(a.content.actions)).toContain('Action.OpenUrl');
  });

  it('fits 28 KB even with 60 000 characters of multi-byte text', () => {
    const p = renderTeams(message('custom', { message: '🚨 ü '.repeat(15000) }));
    expect(payloadBytes(p)).toBeLessThanOrEqual(TEAMS_LIMITS.payloadBytes);
    expect(JSON.stringify(p)).toContain(TRUNCATION_MARKER);
    expect(payloadBytes(renderTeams(huge))).toBeLessThanOrEqual(TEAMS_LIMITS.payloadBytes);
  });
});

describe('Discord embed payload', () => {
  it('respects title, description, field, footer, content and 6000-character totals', () => {
    const p = renderDiscord(huge);
    const e = p.embeds[0]!;
    expect(p.content.length).toBeLessThanOrEqual(DISCORD_LIMITS.content);
    expect(e.title.length).toBeLessThanOrEqual(DISCORD_LIMITS.title);
    expect(e.description.length).toBeLessThanOrEqual(DISCORD_LIMITS.description);
    expect(e.fields.length).toBeLessThanOrEqual(DISCORD_LIMITS.fields);
    for (const f of e.fields) {
      expect(f.name.length).toBeLessThanOrEqual(DISCORD_LIMITS.fieldName);
      expect(f.value.length).toBeLessThanOrEqual(DISCORD_LIMITS.fieldValue);
    }
    expect(e.footer.text.length).toBeLessThanOrEqual(DISCORD_LIMITS.footer);
    expect(embedChars(e)).toBeLessThanOrEqual(DISCORD_LIMITS.totalEmbedChars);
    expect(e.description.endsWith(TRUNCATION_MARKER)).toBe(true);
    expect(p.allowed_mentions).toEqual({ parse: [] });
  });

  it('keeps a normal message whole', () => {
    const p = renderDiscord(message('gate-violation', VIOLATION_DETAILS));
    expect(p.embeds[0]!.description).toContain('**p95_hash_time**: 2400 ms');
    expect(p.embeds[0]!.url).toBe('https://github.com/acme/dhash/actions/runs/42');
  });
});

describe('email and generic webhook', () => {
  it('renders a subject, an escaped HTML part and a plain text part', () => {
    const m = message('deploy-failed', { reason: '<script>alert(1)</script> & more', version: '1.0' });
    const e = renderEmail(m);
    expect(e.subject).toBe('[guarded-rollout] [production] ❌ Deploy failed: production 1.0');
    expect(e.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &amp; more');
    expect(e.html).not.toContain('<script>');
    expect(e.html).toContain('<strong>Reason:</strong>');
    expect(e.text).toContain('Reason: <script>alert(1)</script> & more');
  });

  it('carries the event, its fields and the caller details as JSON', () => {
    const p = renderWebhook(message('gate-violation', { ...VIOLATION_DETAILS, ticket: 'INC-7' }));
    expect(p).toMatchObject({
      schemaVersion: 1,
      event: 'gate-violation',
      environment: 'production',
      severity: 'danger',
      dedupeKey: 'gr-test-key',
    });
    expect((p.details as Record<string, unknown>).ticket).toBe('INC-7');
    expect((p.fields as { violatedGates: unknown[] }).violatedGates).toHaveLength(2);
  });
});

describe('markup conversion', () => {
  it.each([
    ['**bold** and [run](https://x.test/a?b=1&c=2)', '*bold* and <https://x.test/a?b=1&c=2|run>'],
    ['a < b & c > d', 'a &lt; b &amp; c &gt; d'],
    ['- item', '• item'],
  ])('Slack mrkdwn of %j', (input, expected) => expect(toSlackMrkdwn(input)).toBe(expected));

  it('plain text and HTML', () => {
    expect(toPlainText('**x** `y` [t](https://u.test)')).toBe('x y t (https://u.test)');
    expect(toHtml('para **b**\n\n- one\n- two\n\n```\ncode <x>\n```')).toBe(
      '<p>para <strong>b</strong></p>\n<ul><li>one</li><li>two</li></ul>\n<pre style="background:#f4f4f4;padding:8px">code &lt;x&gt;</pre>',
    );
  });

  it('truncates with a visible marker without splitting an emoji', () => {
    expect(truncate('abcdef', 10)).toBe('abcdef');
    const cut = truncate(`${'a'.repeat(9)}🚨${'b'.repeat(30)}`, 10 + TRUNCATION_MARKER.length);
    expect(cut).toBe(`${'a'.repeat(9)}${TRUNCATION_MARKER}`);
    expect(chunkText('a'.repeat(10) + '\n\n' + 'b'.repeat(10), 15)).toEqual(['a'.repeat(10), 'b'.repeat(10)]);
  });
});
