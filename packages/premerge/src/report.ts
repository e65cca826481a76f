// Renders a pr-check evaluation as the Markdown that goes into the check run and the job summary,
// and maps the overall result onto a check run's status/conclusion.
import type { PrCheckResult, PrEvaluation, RuleStatus } from './rules.js';

export const CHECK_RUN_NAME = 'guarded-rollout / pr-check';

export const STATUS_ICON: Record<RuleStatus, string> = {
  pass: '✅',
  fail: '❌',
  pending: '⏳',
  skipped: '➖',
};

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

export function resultTitle(result: PrCheckResult): string {
  if (result === 'success') return '✅ ready to merge: checklist, evidence, approvals and sign-off complete';
  if (result === 'pending') return '⏳ waiting for approvals or sign-off';
  return '❌ checklist, evidence or approvals need attention';
}

export function renderEvaluation(
  evaluation: PrEvaluation,
  context: { pull: number; headSha: string },
): string {
  const lines = [
    `**PR #${context.pull}** at \`${context.headSha.slice(0, 7)}\`: **${evaluation.result}**`,
    '',
    '| | rule | why |',
    '|---|---|---|',
    ...evaluation.rules.map((r) => `| ${STATUS_ICON[r.status]} | ${cell(r.title)} | ${cell(r.reason)} |`),
  ];
  if (evaluation.missing.length)
    lines.push('', '**Missing:**', '', ...evaluation.missing.map((m) => `- ${m}`));
  return `${lines.join('\n')}\n`;
}

/** A check run stays `in_progress` while it only waits for people; otherwise it completes. */
export function checkRunState(result: PrCheckResult): {
  status: 'in_progress' | 'completed';
  conclusion?: 'success' | 'failure';
} {
  if (result === 'pending') return { status: 'in_progress' };
  return { status: 'completed', conclusion: result };
}
