// The pr-check rules as pure functions of what GitHub says about a PR: its body, reviews,
// comments, the premerge run's artifacts and who belongs to the Ops/SRE and operator sets.
// No I/O here; the GitHub edge gathers a PullSnapshot and these decide.
import { MAX_BODY_CHARS, findItem, normaliseItemText, parseBody, type TaskItem } from './checklist.js';
import type { EvidenceBundle } from './evidence-bundle.js';
import type { ChecklistEntry, PrCheckPolicy } from './policy.js';

export type RuleStatus = 'pass' | 'fail' | 'pending' | 'skipped';

export interface RuleResult {
  id: string;
  title: string;
  status: RuleStatus;
  reason: string;
  /** What is missing, one entry per thing a PR author must fix or wait for. */
  missing: string[];
}

export type ReviewState = 'APPROVED' | 'CHANGES_REQUESTED' | 'COMMENTED' | 'DISMISSED' | 'PENDING';

export interface Review {
  id: number;
  user: string;
  state: ReviewState | string;
  commitId: string | null;
  submittedAt: string | null;
}

export interface IssueComment {
  id: number;
  user: string;
  body: string;
  createdAt: string;
}

export interface PremergeRun {
  id: number;
  runNumber: number;
  status: string | null;
  conclusion: string | null;
  createdAt: string;
  htmlUrl: string;
}

export interface PremergeEvidence {
  run: PremergeRun | undefined;
  /** The premerge_artifacts bundle of that run, read by content. */
  bundle: EvidenceBundle | undefined;
  /** Why the bundle could not be had (none uploaded, expired, unreadable, download failed). */
  problem?: string;
}

export interface PullSnapshot {
  number: number;
  author: string;
  headSha: string;
  body: string | null;
  labels: string[];
  reviews: Review[];
  comments: IssueComment[];
  /** When the head commit was pushed (server time), if known; sign-off comments must be newer. */
  pushedAt: string | undefined;
  evidence: PremergeEvidence | undefined;
}

/** Logins (lower case) known to belong to each set; resolved by the edge from users and teams. */
export interface RosterMembership {
  sre: ReadonlySet<string>;
  operators: ReadonlySet<string>;
}

export type PrCheckResult = 'success' | 'pending' | 'failure';

export interface PrEvaluation {
  result: PrCheckResult;
  rules: RuleResult[];
  missing: string[];
}

const short = (sha: string | null): string => (sha ?? 'unknown').slice(0, 7);
const lc = (s: string): string => s.toLowerCase();

// ---------------------------------------------------------------------------------------------
// Checklist

function groupRule(id: string, title: string, entries: ChecklistEntry[], items: TaskItem[]): RuleResult {
  const missing: string[] = [];
  const problems: string[] = [];
  for (const entry of entries.filter((e) => e.required)) {
    const found = findItem(items, entry.text);
    if (found.state === 'ticked') continue;
    missing.push(entry.text);
    if (found.state === 'absent') problems.push(`"${entry.text}" is not in the checklist`);
    else if (found.state === 'unticked') problems.push(`"${entry.text}" is not ticked`);
    else
      problems.push(
        `"${entry.text}" appears ${found.items.length} times (lines ${found.items.map((i) => i.line).join(', ')}), ticked and unticked`,
      );
  }
  if (entries.filter((e) => e.required).length === 0)
    return { id, title, status: 'skipped', reason: 'no required boxes configured', missing: [] };
  return problems.length
    ? { id, title, status: 'fail', reason: problems.join('; '), missing }
    : {
        id,
        title,
        status: 'pass',
        reason: `all ${entries.filter((e) => e.required).length} required boxes ticked`,
        missing: [],
      };
}

export function evaluateChecklist(
  body: string | null,
  policy: PrCheckPolicy,
  isDeployPr: boolean,
): { rules: RuleResult[]; items: TaskItem[]; fields: Map<string, string> } {
  const text = body ?? '';
  if (text.length > MAX_BODY_CHARS) {
    return {
      rules: [
        {
          id: 'checklist',
          title: 'Checklist',
          status: 'fail',
          reason: `the PR body is ${text.length} characters; GitHub allows ${MAX_BODY_CHARS} and pr-check judges no more — shorten it (move logs to the premerge artifacts)`,
          missing: ['checklist: PR body too long'],
        },
      ],
      items: [],
      fields: new Map(),
    };
  }
  const { items, fields } = text.trim() ? parseBody(text) : { items: [], fields: new Map<string, string>() };
  if (items.length === 0) {
    const reason = text.trim()
      ? 'the PR body has no task-list checklist; start from the template action-templates/PR_BODY.md ("- [x] item" lines)'
      : 'the PR body is empty; fill in the template action-templates/PR_BODY.md';
    return {
      rules: [
        {
          id: 'checklist',
          title: 'Checklist',
          status: 'fail',
          reason,
          missing: ['checklist: PR body has no checklist'],
        },
      ],
      items,
      fields,
    };
  }
  const { checklist } = policy;
  const rules = [
    groupRule(
      'checklist-artifacts',
      'Checklist: required artifacts',
      checklist.items.filter((e) => e.group === 'artifact'),
      items,
    ),
    groupRule(
      'checklist-ci',
      'Checklist: CI status',
      checklist.items.filter((e) => e.group === 'ci'),
      items,
    ),
    groupRule(
      'checklist-config',
      'Checklist: configuration review',
      checklist.items.filter((e) => e.group === 'config'),
      items,
    ),
  ].map((r) => ({ ...r, missing: r.missing.map((m) => `checklist: ${m}`) }));

  const risk = checklist.riskLevels.map((level) => ({ level, found: findItem(items, level) }));
  const ticked = risk.filter((r) => r.found.state === 'ticked');
  const conflicting = risk.filter((r) => r.found.state === 'conflicting');
  const levelName = (level: string): string => level.replace(/^.*:\s*/, '');
  if (ticked.length === 1 && conflicting.length === 0) {
    rules.push({
      id: 'risk-level',
      title: 'Risk level',
      status: 'pass',
      reason: `exactly one risk level ticked: ${levelName(ticked[0]!.level)}`,
      missing: [],
    });
  } else {
    const reason =
      ticked.length === 0
        ? `no risk level ticked; tick exactly one of ${checklist.riskLevels.map(levelName).join(', ')}`
        : `${ticked.length + conflicting.length} risk levels ticked (${[...ticked, ...conflicting].map((r) => levelName(r.level)).join(', ')}); tick exactly one`;
    rules.push({
      id: 'risk-level',
      title: 'Risk level',
      status: 'fail',
      reason,
      missing: ['checklist: exactly one risk level'],
    });
  }

  if (!isDeployPr) {
    rules.push({
      id: 'ready',
      title: 'Ready for deployment',
      status: 'skipped',
      reason: `not a deploy PR (no label ${policy.deployLabels.map((l) => `"${l}"`).join(' or ')})`,
      missing: [],
    });
  } else {
    const yes = findItem(items, checklist.readyYes);
    const no = findItem(items, checklist.readyNo);
    if (yes.state === 'ticked' && no.state !== 'ticked' && no.state !== 'conflicting') {
      rules.push({
        id: 'ready',
        title: 'Ready for deployment',
        status: 'pass',
        reason: `"${checklist.readyYes}" ticked`,
        missing: [],
      });
    } else {
      const reason =
        no.state === 'ticked' || no.state === 'conflicting'
          ? `"${checklist.readyNo}" is ticked`
          : `"${checklist.readyYes}" is not ticked`;
      rules.push({
        id: 'ready',
        title: 'Ready for deployment',
        status: 'fail',
        reason,
        missing: [`checklist: ${checklist.readyYes}`],
      });
    }
  }
  // "**Backup verification result:** [ ] PASS / [ ] FAIL": when the line is there, PASS alone.
  const pass = findItem(items, checklist.backupPass);
  const fail = findItem(items, checklist.backupFail);
  if (pass.state !== 'absent' || fail.state !== 'absent') {
    const ok = pass.state === 'ticked' && fail.state !== 'ticked' && fail.state !== 'conflicting';
    rules.push({
      id: 'backup-verification',
      title: 'Backup verification result',
      status: ok ? 'pass' : 'fail',
      reason: ok
        ? `"${checklist.backupPass}" ticked`
        : fail.state === 'ticked' || fail.state === 'conflicting'
          ? `"${checklist.backupFail}" is ticked`
          : `"${checklist.backupPass}" is not ticked`,
      missing: ok ? [] : [`checklist: ${checklist.backupPass}`],
    });
  }
  return { rules, items, fields };
}

// ---------------------------------------------------------------------------------------------
// Evidence: ticked artifact boxes against the latest premerge run's artifacts

/** The PR's environment from its `**Environment:** staging` line; undefined when not one name. */
export function environmentOf(fields: ReadonlyMap<string, string>): string | undefined {
  const value = normaliseItemText(fields.get('environment') ?? '');
  return /^[a-z0-9][a-z0-9_-]*$/.test(value) ? value : undefined;
}

/** Judges one ticked box against the bundle: undefined when backed, else what it lacks. */
function judgeArtifact(
  artifact: string,
  bundle: EvidenceBundle,
  environment: string,
  headSha: string,
): string | undefined {
  const where = 'in the premerge_artifacts bundle';
  if (artifact === 'premerge_artifacts/' || artifact === 'premerge_artifacts') return undefined;
  if (artifact.includes('*')) {
    const dir = artifact.slice(0, artifact.lastIndexOf('/') + 1);
    const backups = bundle.backups.filter((b) => b.name.startsWith(dir));
    if (backups.length === 0) return `no ${artifact} ${where}`;
    const good = backups.filter((b) => b.ok);
    if (good.length === 0) return backups.map((b) => b.reason).join('; ');
    if (!good.some((b) => b.environment === environment))
      return `${good.map((b) => `${b.name} is a backup of ${b.environment ?? 'an unknown environment'}`).join('; ')}, the PR names ${environment}`;
    return undefined;
  }
  if (artifact.endsWith('/')) {
    return bundle.files.some((f) => f.startsWith(artifact)) ? undefined : `no ${artifact} ${where}`;
  }
  if (artifact.endsWith('.log')) {
    const log = bundle.logs.get(artifact);
    if (!log) return `no ${artifact} ${where}`;
    if (log.problems.length || !log.header || !log.result)
      return `${artifact} cannot be trusted: ${log.problems.join('; ') || 'unreadable'}`;
    if (log.header.environment !== environment)
      return `${artifact} was written for environment ${log.header.environment}, the PR names ${environment}`;
    if (log.header.commit !== headSha)
      return log.header.commit
        ? `${artifact} is evidence of commit ${short(log.header.commit)}, not the head ${short(headSha)}`
        : `${artifact} names no commit (premerge.yml must set GUARDED_ROLLOUT_EVIDENCE_COMMIT to the head SHA)`;
    if (log.result.status !== 'pass')
      return `${artifact} result is ${log.result.status}: ${String(log.result.summary ?? '').slice(0, 200)}`;
    return undefined;
  }
  return bundle.files.includes(artifact) ? undefined : `no ${artifact} ${where}`;
}

export function evaluateEvidence(
  items: TaskItem[],
  fields: ReadonlyMap<string, string>,
  snapshot: Pick<PullSnapshot, 'headSha' | 'evidence'>,
  policy: PrCheckPolicy,
): RuleResult {
  const title = 'Evidence for ticked artifact boxes';
  const ticked = policy.checklist.items.filter(
    (e) => e.group === 'artifact' && e.artifact && findItem(items, e.text).state === 'ticked',
  );
  if (ticked.length === 0)
    return { id: 'evidence', title, status: 'skipped', reason: 'no artifact box is ticked', missing: [] };
  const notFound = (why: string): string[] => ticked.map((e) => `evidence: ${e.text} (${why})`);
  const evidence = snapshot.evidence;
  const run = evidence?.run;
  if (!evidence || !run) {
    return {
      id: 'evidence',
      title,
      status: 'fail',
      reason: `no ${policy.premergeWorkflow} run (event pull_request) for head ${short(snapshot.headSha)}; ticked boxes cannot be backed by evidence`,
      missing: notFound('no premerge run for the head'),
    };
  }
  if (run.status !== 'completed') {
    return {
      id: 'evidence',
      title,
      status: 'pending',
      reason: `premerge run #${run.runNumber} for ${short(snapshot.headSha)} is ${run.status ?? 'not finished'}; evidence is checked when it completes`,
      missing: [`evidence: premerge run #${run.runNumber} to finish`],
    };
  }
  const problems: string[] = [];
  const missing: string[] = [];
  if (run.conclusion !== 'success') {
    problems.push(
      `premerge run #${run.runNumber} for ${short(snapshot.headSha)} concluded ${run.conclusion ?? 'without a conclusion'}`,
    );
    missing.push(`evidence: a successful ${policy.premergeWorkflow} run for ${short(snapshot.headSha)}`);
  }
  const environment = environmentOf(fields);
  if (!evidence.bundle) {
    problems.push(`premerge run #${run.runNumber}: ${evidence.problem ?? 'no premerge_artifacts bundle'}`);
    missing.push(...notFound(evidence.problem ?? 'no premerge_artifacts bundle'));
  } else if (!environment) {
    problems.push(
      'the PR body does not name one environment ("**Environment:** staging"); evidence is judged against it',
    );
    missing.push("evidence: the PR's environment (**Environment:** line)");
  } else {
    for (const entry of ticked) {
      const lack = judgeArtifact(entry.artifact!, evidence.bundle, environment, snapshot.headSha);
      if (!lack) continue;
      problems.push(`"${entry.text}" ticked but ${lack}`);
      missing.push(`evidence: ${entry.text} (${lack})`);
    }
  }
  return problems.length
    ? { id: 'evidence', title, status: 'fail', reason: problems.join('; '), missing }
    : {
        id: 'evidence',
        title,
        status: 'pass',
        reason: `${ticked.length} ticked boxes backed by passing ${environment} evidence of ${short(snapshot.headSha)} in premerge run #${run.runNumber}`,
        missing: [],
      };
}

// ---------------------------------------------------------------------------------------------
// Approvals and sign-off

const STATE_CHANGING = new Set(['APPROVED', 'CHANGES_REQUESTED', 'DISMISSED']);

/** Each reviewer's latest state-changing review (COMMENTED and PENDING never change state). */
export function latestReviewStates(reviews: readonly Review[]): Map<string, Review> {
  const ordered = reviews
    .filter((r) => STATE_CHANGING.has(r.state) && r.submittedAt)
    .sort((a, b) => Date.parse(a.submittedAt!) - Date.parse(b.submittedAt!) || a.id - b.id);
  const latest = new Map<string, Review>();
  for (const review of ordered) latest.set(lc(review.user), review);
  return latest;
}

export interface ApprovalTally {
  approvers: string[];
  stale: Review[];
  blocking: Review[];
}

export function tallyApprovals(
  snapshot: Pick<PullSnapshot, 'author' | 'headSha' | 'reviews'>,
  headOnly: boolean,
): ApprovalTally {
  const tally: ApprovalTally = { approvers: [], stale: [], blocking: [] };
  for (const [user, review] of latestReviewStates(snapshot.reviews)) {
    if (user === lc(snapshot.author)) continue; // self-approval never counts
    if (review.state === 'CHANGES_REQUESTED') tally.blocking.push(review);
    else if (review.state === 'APPROVED') {
      if (!headOnly || review.commitId === snapshot.headSha) tally.approvers.push(user);
      else tally.stale.push(review);
    }
  }
  tally.approvers.sort();
  return tally;
}

export function evaluateApprovals(
  snapshot: PullSnapshot,
  policy: PrCheckPolicy,
  roster: RosterMembership,
): RuleResult[] {
  const tally = tallyApprovals(snapshot, policy.approvalsOnHeadOnly);
  const rules: RuleResult[] = [];
  const staleNote = tally.stale.length
    ? `; stale (approved ${tally.stale.map((r) => `@${r.user} on ${short(r.commitId)}`).join(', ')}, head is ${short(snapshot.headSha)})`
    : '';
  const approvedBy = tally.approvers.length ? ` (${tally.approvers.map((u) => `@${u}`).join(', ')})` : '';
  if (tally.blocking.length) {
    rules.push({
      id: 'approvals',
      title: `Approvals (≥ ${policy.requiredApprovals}, no changes requested)`,
      status: 'fail',
      reason: `changes requested by ${tally.blocking.map((r) => `@${r.user}`).join(', ')}; they must approve or the review must be dismissed`,
      missing: tally.blocking.map((r) => `approvals: changes requested by @${r.user}`),
    });
  } else if (tally.approvers.length >= policy.requiredApprovals) {
    rules.push({
      id: 'approvals',
      title: `Approvals (≥ ${policy.requiredApprovals}, no changes requested)`,
      status: 'pass',
      reason: `${tally.approvers.length} approvals on ${short(snapshot.headSha)}${approvedBy}`,
      missing: [],
    });
  } else {
    const need = policy.requiredApprovals - tally.approvers.length;
    rules.push({
      id: 'approvals',
      title: `Approvals (≥ ${policy.requiredApprovals}, no changes requested)`,
      status: 'pending',
      reason: `${tally.approvers.length} of ${policy.requiredApprovals} approvals from people other than the author${approvedBy}${staleNote}`,
      missing: [`approvals: ${need} more approval${need === 1 ? '' : 's'}`],
    });
  }
  if (policy.sreApprovals > 0) {
    const title = `Ops/SRE approval (≥ ${policy.sreApprovals})`;
    const sre = tally.approvers.filter((u) => roster.sre.has(u));
    if (policy.roster.sre.length === 0) {
      rules.push({
        id: 'sre-approval',
        title,
        status: 'fail',
        reason:
          'no Ops/SRE roster configured: set roster.sre in .github/guarded-rollout.yml or the "sre" input',
        missing: ['approvals: Ops/SRE roster not configured'],
      });
    } else if (sre.length >= policy.sreApprovals) {
      rules.push({
        id: 'sre-approval',
        title,
        status: 'pass',
        reason: `approved by ${sre.map((u) => `@${u}`).join(', ')} (Ops/SRE)`,
        missing: [],
      });
    } else {
      const others = tally.approvers.filter((u) => !roster.sre.has(u));
      rules.push({
        id: 'sre-approval',
        title,
        status: 'pending',
        reason: `no approval yet from the Ops/SRE set (${policy.roster.sre.join(', ')})${others.length ? `; ${others.map((u) => `@${u}`).join(', ')} approved but ${others.length === 1 ? 'is' : 'are'} not in it` : ''}`,
        missing: ['approvals: an approval from the Ops/SRE set'],
      });
    }
  }
  return rules;
}

/** A sign-off comment is the command alone on its first non-empty line (e.g. "/signoff"). */
export function isSignoffComment(body: string, command: string): boolean {
  const first =
    body
      .replace(/\r\n/g, '\n')
      .split('\n')
      .find((l) => l.trim() !== '') ?? '';
  const word = first.trim().split(/\s+/)[0] ?? '';
  return word.toLowerCase() === command.toLowerCase();
}

export function evaluateSignoff(
  snapshot: PullSnapshot,
  policy: PrCheckPolicy,
  roster: RosterMembership,
): RuleResult {
  const title = 'Deploy operator sign-off';
  if (policy.roster.operators.length === 0) {
    return {
      id: 'signoff',
      title,
      status: 'fail',
      reason:
        'no operator roster configured: set roster.operators in .github/guarded-rollout.yml or the "operators" input',
      missing: ['signoff: operator roster not configured'],
    };
  }
  const author = lc(snapshot.author);
  const byReview = [...latestReviewStates(snapshot.reviews).values()].find(
    (r) =>
      r.state === 'APPROVED' &&
      r.commitId === snapshot.headSha &&
      lc(r.user) !== author &&
      roster.operators.has(lc(r.user)),
  );
  if (byReview)
    return {
      id: 'signoff',
      title,
      status: 'pass',
      reason: `@${byReview.user} (operator) approved ${short(snapshot.headSha)}`,
      missing: [],
    };
  const pushedAt = snapshot.pushedAt ? Date.parse(snapshot.pushedAt) : undefined;
  const commands = snapshot.comments.filter(
    (c) => isSignoffComment(c.body, policy.signoffCommand) && lc(c.user) !== author,
  );
  const byComment = commands.find(
    (c) => pushedAt !== undefined && Date.parse(c.createdAt) > pushedAt && roster.operators.has(lc(c.user)),
  );
  if (byComment)
    return {
      id: 'signoff',
      title,
      status: 'pass',
      reason: `@${byComment.user} (operator) commented ${policy.signoffCommand} at ${byComment.createdAt}, after the latest push`,
      missing: [],
    };
  const notes: string[] = [];
  const stale = commands.filter(
    (c) =>
      roster.operators.has(lc(c.user)) && (pushedAt === undefined || Date.parse(c.createdAt) <= pushedAt),
  );
  if (stale.length)
    notes.push(
      pushedAt === undefined
        ? `${policy.signoffCommand} by ${stale.map((c) => `@${c.user}`).join(', ')} cannot be dated against the latest push`
        : `${policy.signoffCommand} by ${stale.map((c) => `@${c.user}`).join(', ')} predates the latest push`,
    );
  const outsiders = [
    ...new Set(commands.filter((c) => !roster.operators.has(lc(c.user))).map((c) => `@${c.user}`)),
  ];
  if (outsiders.length)
    notes.push(`${outsiders.join(', ')} ${outsiders.length === 1 ? 'is' : 'are'} not in the operator set`);
  return {
    id: 'signoff',
    title,
    status: 'pending',
    reason: `waiting for an operator (${policy.roster.operators.join(', ')}) to approve ${short(snapshot.headSha)} or comment ${policy.signoffCommand}${notes.length ? `; ${notes.join('; ')}` : ''}`,
    missing: ['signoff: deploy operator sign-off'],
  };
}

// ---------------------------------------------------------------------------------------------

export function isDeployPull(labels: readonly string[], policy: PrCheckPolicy): boolean {
  const wanted = new Set(policy.deployLabels.map(lc));
  return labels.some((l) => wanted.has(lc(l)));
}

/** Evaluates every enabled rule; the overall result is failure > pending > success. */
export function evaluatePull(
  snapshot: PullSnapshot,
  policy: PrCheckPolicy,
  roster: RosterMembership,
): PrEvaluation {
  const rules: RuleResult[] = [];
  const {
    rules: checklistRules,
    items,
    fields,
  } = evaluateChecklist(snapshot.body, policy, isDeployPull(snapshot.labels, policy));
  if (policy.rules.checklist) rules.push(...checklistRules);
  if (policy.rules.evidence) rules.push(evaluateEvidence(items, fields, snapshot, policy));
  if (policy.rules.approvals) rules.push(...evaluateApprovals(snapshot, policy, roster));
  if (policy.rules.signoff) rules.push(evaluateSignoff(snapshot, policy, roster));
  const result: PrCheckResult = rules.some((r) => r.status === 'fail')
    ? 'failure'
    : rules.some((r) => r.status === 'pending')
      ? 'pending'
      : 'success';
  return { result, rules, missing: rules.flatMap((r) => r.missing) };
}

/** The checklist rules alone, for a PR description checked before (or without) a PR. */
export function evaluateBody(
  body: string | null,
  policy: PrCheckPolicy,
  options: { deploy: boolean },
): PrEvaluation {
  const { rules } = evaluateChecklist(body, policy, options.deploy);
  const result: PrCheckResult = rules.some((r) => r.status === 'fail') ? 'failure' : 'success';
  return { result, rules, missing: rules.flatMap((r) => r.missing) };
}
