export * from './events.js';
export * from './templates.js';
export * from './markup.js';
export * from './message.js';
export * from './retry.js';
export * from './deliver.js';
export * from './channels.js';
export * from './fallback.js';
export * from './send.js';
export * from './summary.js';
export { renderSlack, SLACK_LIMITS, type SlackPayload } from './channels/slack.js';
export { renderTeams, TEAMS_LIMITS, payloadBytes, type TeamsPayload } from './channels/teams.js';
export {
  renderDiscord,
  DISCORD_LIMITS,
  embedChars,
  type DiscordPayload,
  type DiscordEmbed,
} from './channels/discord.js';
export { renderEmail, type EmailContent } from './channels/email.js';
export { renderWebhook, signBody, SIGNATURE_HEADER, WEBHOOK_SCHEMA_VERSION } from './channels/webhook.js';
export { sendEmail, smtpFailure, type SmtpTarget } from './email-send.js';
export {
  withDeadline,
  deadlineController,
  settleWithin,
  DeadlineExceededError,
  type DeadlineOutcome,
} from '@guarded-rollout/config';
export {
  ALLOW_LINK_LOCAL_VARIABLE,
  assertResolvedHostAllowed,
  destinationProblem,
  DestinationRefusedError,
  forbiddenAddress,
  policyFromEnv,
  type UrlPolicy,
} from './url-policy.js';
