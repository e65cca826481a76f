// Discord webhook payload: one embed. Limits from Discord's "Embed Limits" documentation; the
// 6000-character total counts title, description, field names and values, footer and author.
import { truncate } from '../markup.js';
import type { NotificationMessage } from '../message.js';
import type { Severity } from '../events.js';

export const DISCORD_LIMITS = {
  content: 2000,
  title: 256,
  description: 4096,
  fields: 25,
  fieldName: 256,
  fieldValue: 1024,
  footer: 2048,
  totalEmbedChars: 6000,
} as const;

const COLORS: Record<Severity, number> = {
  info: 0x3b82f6,
  success: 0x22c55e,
  warning: 0xf59e0b,
  danger: 0xdc2626,
};

export interface DiscordEmbed {
  title: string;
  description: string;
  url?: string;
  color: number;
  timestamp: string;
  fields: { name: string; value: string; inline: boolean }[];
  footer: { text: string };
}

export interface DiscordPayload {
  content: string;
  embeds: DiscordEmbed[];
  allowed_mentions: { parse: string[] };
}

export function embedChars(embed: DiscordEmbed): number {
  return (
    embed.title.length +
    embed.description.length +
    embed.footer.text.length +
    embed.fields.reduce((n, f) => n + f.name.length + f.value.length, 0)
  );
}

export function renderDiscord(message: NotificationMessage): DiscordPayload {
  const embed: DiscordEmbed = {
    title: truncate(message.title, DISCORD_LIMITS.title),
    description: truncate(message.body, DISCORD_LIMITS.description),
    ...(message.runUrl ? { url: message.runUrl } : {}),
    color: COLORS[message.severity],
    timestamp: message.timestamp,
    fields: message.facts.slice(0, DISCORD_LIMITS.fields).map((f) => ({
      name: truncate(f.name, DISCORD_LIMITS.fieldName),
      value: truncate(f.value, DISCORD_LIMITS.fieldValue),
      inline: true,
    })),
    footer: { text: truncate(`guarded-rollout · ref ${message.dedupeKey}`, DISCORD_LIMITS.footer) },
  };
  const over = embedChars(embed) - DISCORD_LIMITS.totalEmbedChars;
  // The description is the only part long enough to give back what the total limit needs.
  if (over > 0) embed.description = truncate(embed.description, Math.max(0, embed.description.length - over));
  return {
    content: truncate(`${message.title}`, DISCORD_LIMITS.content),
    embeds: [embed],
    // Templates may quote user text; never let it ping @everyone.
    allowed_mentions: { parse: [] },
  };
}
