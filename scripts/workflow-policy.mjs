#!/usr/bin/env node
// The supply-chain and injection policy every workflow (and composite action) in this repository
// must meet, as code: least-privilege permissions, third-party actions pinned by commit SHA with a
// readable version comment, no untrusted expression expanded inside a shell script, and no
// privileged trigger that runs pull-request code. `node scripts/workflow-policy.mjs` prints findings.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Scopes a workflow may grant at top level: nothing, or read-only. */
const READ_ONLY = new Set(['read', 'none']);

/**
 * Contexts that are safe to expand inside `run:`: values the workflow author or the runner controls.
 * Everything else (github.event.*, inputs.*, github.head_ref, steps.*.outputs, needs.*.outputs,
 * env.*) can carry attacker- or operator-typed text and must reach a script through `env:` so the
 * shell treats it as data, never as code.
 */
const SAFE_IN_RUN = [
  /^matrix\.[\w-]+$/,
  /^runner\.(os|arch|temp|tool_cache)$/,
  // Not github.ref_name / github.head_ref: branch names may contain `$(...)` and `;`.
  /^github\.(workspace|action_path|run_id|run_number|run_attempt|sha|repository|repository_owner|server_url|api_url|job|event_name)$/,
  /^strategy\.[\w-]+$/,
];

/** Triggers whose token can write to the repository while the event comes from outside. */
const PRIVILEGED_TRIGGERS = new Set([
  'pull_request_target',
  'workflow_run',
  'issue_comment',
  'pull_request_review',
]);

const FULL_SHA = /^[0-9a-f]{40}$/;
/**
 * The one exception: consumer templates call this suite by its moving major tag, because a template
 * cannot know which release commit its reader picks. The comment beside each such line tells the
 * reader to pin the SHA (RELEASING.md shows how); our own workflows use `./actions/<name>`.
 */
const SUITE_TEMPLATE_USES = /^[\w.-]+\/guarded-rollout\/actions\/[\w-]+@v\d+$/;
const VERSION_COMMENT = /^v\d+(\.\d+){0,2}\b/;

/**
 * First-party actions and the first major that runs on node24 (GitHub moves runners off Node 20):
 * a pin below it is a finding. Each pinned SHA was checked against its tag in actions/<name>.
 */
export const NODE24_MAJORS = {
  'actions/checkout': 5,
  'actions/setup-node': 5,
  'actions/upload-artifact': 6,
  'actions/download-artifact': 7,
  'actions/cache': 5,
  'actions/github-script': 8,
};

/** Refs that are the repository's own trusted code, not the version an operator or event chose. */
const DEFAULT_BRANCH_REF = /^\$\{\{\s*github\.event\.repository\.default_branch\s*\}\}$/;
const TRUSTED_REF = /^\$\{\{\s*(github\.event\.repository\.default_branch|github\.sha)\s*\}\}$/;

function triggersOf(on) {
  if (typeof on === 'string') return [on];
  if (Array.isArray(on)) return on.map(String);
  if (on && typeof on === 'object') return Object.keys(on);
  return [];
}

function expressionsIn(text) {
  const found = [];
  const re = /\$\{\{\s*([\s\S]*?)\s*\}\}/g;
  for (let m = re.exec(text); m; m = re.exec(text)) found.push(m[1]);
  return found;
}

function unsafeExpression(expr) {
  if (/^secrets\./.test(expr))
    return 'a secret (pass it through env: so it is masked and never part of the script text)';
  if (SAFE_IN_RUN.some((re) => re.test(expr))) return undefined;
  return expr;
}

/** Checks every `uses:` line of the raw text (comments are lost by the YAML parser). */
function checkPins(text, file) {
  const findings = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((line, index) => {
    const m = /^\s*(?:-\s+)?uses:\s*['"]?([^'"\s#]+)['"]?\s*(?:#\s*(.*))?$/.exec(line);
    if (!m) return;
    const [, ref, comment] = m;
    if (ref.startsWith('./') || ref.startsWith('docker://')) return;
    const at = ref.lastIndexOf('@');
    const where = `${file}:${index + 1}`;
    if (at < 0) {
      findings.push(`${where}: \`uses: ${ref}\` has no @ref; pin it to a full commit SHA`);
      return;
    }
    const sha = ref.slice(at + 1);
    if (file.startsWith('action-templates/') && SUITE_TEMPLATE_USES.test(ref)) {
      if (!comment || !/pin/i.test(comment))
        findings.push(
          `${where}: \`uses: ${ref}\` in a template needs a comment telling the reader to pin the release SHA`,
        );
      return;
    }
    if (!FULL_SHA.test(sha))
      findings.push(
        `${where}: \`uses: ${ref}\` is pinned to "${sha}", not a 40-hex commit SHA (tags and branches can move)`,
      );
    if (!comment || !VERSION_COMMENT.test(comment.trim()))
      findings.push(`${where}: \`uses: ${ref}\` needs a version comment such as "# v4.3.0"`);
    const name = ref.slice(0, at);
    const major = Number(/^v(\d+)/.exec(comment?.trim() ?? '')?.[1]);
    if (NODE24_MAJORS[name] && major < NODE24_MAJORS[name])
      findings.push(
        `${where}: \`${name}\` ${comment.trim()} runs on Node 20; pin v${NODE24_MAJORS[name]} or later (node24) by its commit SHA`,
      );
  });
  return findings;
}

function checkRunScripts(steps, where) {
  const findings = [];
  for (const [i, step] of (steps ?? []).entries()) {
    if (!step || typeof step.run !== 'string') continue;
    for (const expr of expressionsIn(step.run)) {
      const bad = unsafeExpression(expr);
      if (bad)
        findings.push(
          `${where} step ${i + 1}${step.name ? ` "${step.name}"` : ''}: run: expands \${{ ${expr} }} directly; pass ${bad === expr ? 'it' : bad} through env: instead`,
        );
    }
  }
  return findings;
}

function checkPermissionsBlock(permissions, where, { topLevel }) {
  if (permissions === undefined)
    return [`${where}: no \`permissions:\` (declare least privilege explicitly)`];
  if (typeof permissions === 'string') {
    if (permissions === 'write-all') return [`${where}: permissions: write-all`];
    if (topLevel && permissions !== 'read-all')
      return [`${where}: top-level permissions must be {} or read-only`];
    if (!topLevel && permissions === 'read-all')
      return [`${where}: read-all grants every scope; name the scopes the job reads`];
    return [];
  }
  if (permissions === null || typeof permissions !== 'object')
    return [`${where}: permissions must be a mapping`];
  const findings = [];
  for (const [scope, level] of Object.entries(permissions)) {
    if (!['read', 'write', 'none'].includes(level))
      findings.push(`${where}: permissions.${scope}: "${level}" is not read|write|none`);
    if (topLevel && !READ_ONLY.has(level))
      findings.push(`${where}: top-level permissions.${scope}: ${level} (grant writes per job)`);
  }
  return findings;
}

/**
 * Returns the policy findings of one workflow. `allowedWrites` maps job id → scopes that job may
 * write (anything else written is a finding), so every write grant is a reviewed decision.
 */
export function checkWorkflow(text, file, allowedWrites = {}) {
  const findings = [...checkPins(text, file)];
  let doc;
  try {
    doc = parse(text);
  } catch (error) {
    return [...findings, `${file}: not valid YAML: ${error.message}`];
  }
  if (!doc || typeof doc !== 'object') return [...findings, `${file}: empty workflow`];
  findings.push(...checkPermissionsBlock(doc.permissions, `${file}: top level`, { topLevel: true }));
  const triggers = triggersOf(doc.on);
  const privileged = triggers.filter((t) => PRIVILEGED_TRIGGERS.has(t));
  for (const [jobId, job] of Object.entries(doc.jobs ?? {})) {
    const where = `${file}: job ${jobId}`;
    if (!job || typeof job !== 'object') continue;
    if (job.uses) {
      // A reusable-workflow call: its permissions are capped by the caller's job block.
      findings.push(...checkPermissionsBlock(job.permissions, where, { topLevel: false }));
      continue;
    }
    findings.push(...checkPermissionsBlock(job.permissions, where, { topLevel: false }));
    if (job.permissions && typeof job.permissions === 'object') {
      const allowed = new Set(allowedWrites[jobId] ?? []);
      for (const [scope, level] of Object.entries(job.permissions)) {
        if (level === 'write' && !allowed.has(scope))
          findings.push(
            `${where}: permissions.${scope}: write is not in the reviewed allow-list for this job`,
          );
      }
    }
    findings.push(...checkRunScripts(job.steps, where));
    findings.push(...checkReleaseCheckouts(job, where));
    for (const [i, step] of (job.steps ?? []).entries()) {
      const uses = typeof step?.uses === 'string' ? step.uses : '';
      if (!uses.startsWith('actions/checkout@')) continue;
      const ref = String(step.with?.ref ?? '');
      const prCode = /github\.event\.pull_request\.head|github\.head_ref|refs\/pull\//.test(ref);
      if (privileged.length && prCode)
        findings.push(
          `${where} step ${i + 1}: checks out pull-request code (${ref}) under ${privileged.join(', ')}, whose token can write`,
        );
      // Under pull_request_target only a sparse checkout of the default branch is allowed (the
      // action and its configuration, never PR files); the PR itself is read through the API.
      const defaultBranchOnly =
        /^\$\{\{\s*github\.event\.repository\.default_branch\s*\}\}$/.test(ref) &&
        typeof step.with?.['sparse-checkout'] === 'string' &&
        step.with['sparse-checkout'].trim() !== '';
      if (triggers.includes('pull_request_target') && !defaultBranchOnly)
        findings.push(
          `${where} step ${i + 1}: actions/checkout under pull_request_target; read the PR through the API instead (only a sparse checkout of \${{ github.event.repository.default_branch }} is allowed)`,
        );
      if (step.with?.['persist-credentials'] !== false)
        findings.push(
          `${where} step ${i + 1}: actions/checkout without \`persist-credentials: false\` leaves the token in .git/config`,
        );
    }
  }
  return findings;
}

/**
 * The suite's own actions never come from the ref being deployed: in a job that runs local actions
 * (`uses: ./…`), a checkout of any other ref (an input, an event field, a job output) goes under a
 * `path:` no local action is loaded from; and a job holding an environment's secrets checks the
 * suite out from the default branch explicitly (a dispatch may pick any branch's commit).
 */
function checkReleaseCheckouts(job, where) {
  const findings = [];
  const steps = (job.steps ?? []).filter((s) => s && typeof s === 'object');
  const local = steps
    .map((s) => (typeof s.uses === 'string' ? s.uses : ''))
    .filter((u) => u.startsWith('./'));
  if (!local.length) return findings;
  const norm = (p) =>
    String(p ?? '')
      .replace(/^\.\//, '')
      .replace(/\/+$/, '');
  let rootCheckout;
  for (const step of steps) {
    if (typeof step.uses !== 'string' || !step.uses.startsWith('actions/checkout@')) continue;
    const ref = String(step.with?.ref ?? '');
    const path = norm(step.with?.path);
    if (step.with?.repository) continue;
    if (!path || path === '.') rootCheckout = ref;
    if (!ref || TRUSTED_REF.test(ref)) continue;
    if (!path || path === '.')
      findings.push(
        `${where}: checks out ${ref} at the workspace root while the job runs local actions (${local.join(', ')}), which would then come from that ref; check it out under a path (e.g. release/) and the suite from the default branch`,
      );
    else if (local.some((u) => norm(u) === path || norm(u).startsWith(`${path}/`)))
      findings.push(`${where}: runs a local action from ${path}/, which holds ${ref}`);
  }
  if (job.environment && !DEFAULT_BRANCH_REF.test(rootCheckout ?? ''))
    findings.push(
      `${where}: holds an environment's secrets and runs local actions: check the suite out with ref: \${{ github.event.repository.default_branch }}`,
    );
  return findings;
}

/** Checks a composite action's metadata: pins and run: scripts (permissions belong to the caller). */
export function checkCompositeAction(text, file) {
  const findings = [...checkPins(text, file)];
  const doc = parse(text);
  if (doc?.runs?.using !== 'composite') return findings;
  findings.push(...checkRunScripts(doc.runs.steps, `${file}: runs`));
  for (const [i, step] of (doc.runs.steps ?? []).entries()) {
    if (typeof step?.run === 'string' && !step.shell)
      findings.push(`${file}: step ${i + 1}: composite run: steps need an explicit shell`);
  }
  return findings;
}

/** Every workflow file this repository ships: its own and the consumer templates. */
export function workflowFiles() {
  const dirs = ['.github/workflows', 'action-templates/workflows'];
  const files = [];
  for (const dir of dirs) {
    const abs = join(root, dir);
    if (!existsSync(abs)) continue;
    for (const f of readdirSync(abs).sort()) if (/\.ya?ml$/.test(f)) files.push(`${dir}/${f}`);
  }
  return files;
}

/** Every action.yml: the published actions and this repository's internal composite actions. */
export function actionMetadataFiles() {
  const files = [];
  for (const dir of ['actions', '.github/actions']) {
    if (!existsSync(join(root, dir))) continue;
    for (const name of readdirSync(join(root, dir)).sort())
      if (existsSync(join(root, dir, name, 'action.yml'))) files.push(`${dir}/${name}/action.yml`);
  }
  return files;
}

/**
 * The reviewed write grants, per workflow file and job. Adding a write permission to a workflow
 * means adding it here too, in the same review.
 */
export const ALLOWED_WRITES = {
  '.github/workflows/pr-check.yml': { 'pr-check': ['checks'] },
  '.github/workflows/deploy.yml': { deploy: ['deployments'] },
  '.github/workflows/rollback.yml': { rollback: ['deployments'] },
  '.github/workflows/watchdog.yml': { watchdog: ['deployments'] },
  '.github/workflows/release.yml': { release: ['contents'] },
  'action-templates/workflows/guarded-deploy.yml': { deploy: ['deployments'] },
  'action-templates/workflows/rollback.yml': { rollback: ['deployments'] },
  'action-templates/workflows/pr-check.yml': { 'pr-check': ['checks'] },
  'action-templates/workflows/watchdog.yml': { watchdog: ['deployments'] },
};

export function checkRepository() {
  const findings = [];
  for (const file of workflowFiles())
    findings.push(...checkWorkflow(readFileSync(join(root, file), 'utf8'), file, ALLOWED_WRITES[file]));
  for (const file of actionMetadataFiles())
    findings.push(...checkCompositeAction(readFileSync(join(root, file), 'utf8'), file));
  return findings;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const findings = checkRepository();
  for (const f of findings) console.error(f);
  console.log(`workflow-policy: ${workflowFiles().length} workflow(s), ${findings.length} finding(s)`);
  process.exit(findings.length ? 1 : 0);
}
