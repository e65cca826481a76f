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

/**
 * Every evaluation completes the check run: `success` only when everything holds; while it only
 * waits for people it is `action_required` (not green, says why); anything else is `failure`.
 * Never a bare "in progress", which would leave GitHub showing the previous conclusion.
 */
export function checkConclusion(result: PrCheckResult): 'success' | 'failure' | 'action_required' {
  if (result === 'pending') return 'action_required';
  return result;
}
