// `guarded-rollout pr-check --repo OWNER/REPO --pr N`: evaluates a PR's checklist, evidence,
// approvals and operator sign-off exactly as the pr-check action does. Read-only unless
// --post-check-run is given (writing check runs needs a GitHub App or workflow token).
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_POLICY_FILE, parsePullNumber, parseRepo, resolvePolicy, runPrCheck, STATUS_ICON } from '@guarded-rollout/premerge';
import type { CliContext } from '../context.js';
import { renderTable } from '../table.js';

const list = (value: string, previous: string[] = []): string[] => [...previous, ...value.split(',').map((s) => s.trim()).filter(Boolean)];

interface PrCheckCliOptions {
  repo: string;
  pr: string;
  config?: string;
  sre?: string[];
  operators?: string[];
  postCheckRun?: boolean;
  json?: boolean;
}

export function registerPrCheck(program: Command, ctx: CliContext): void {
  program
    .command('pr-check')
    .description('check a PR for the guarded-rollout checklist, artifact evidence, approvals and operator sign-off')
    .requiredOption('--repo <owner/repo>', 'repository, e.g. acme/dhash')
    .requiredOption('--pr <number>', 'pull request number')
    .option('--config <file>', `policy and roster file (default: ${DEFAULT_POLICY_FILE} when present)`)
    .option('--sre <members>', 'Ops/SRE set: logins or org/team, comma-separated (repeatable)', list)
    .option('--operators <members>', 'deploy operator set: logins or org/team, comma-separated (repeatable)', list)
    .option('--post-check-run', 'create/update the "guarded-rollout / pr-check" check run (needs checks: write)')
    .option('--json', 'print the evaluation as JSON')
    .addHelpText('after', '\nEnvironment: GITHUB_TOKEN (or GH_TOKEN) reads the PR; GUARDED_ROLLOUT_TEAM_TOKEN reads org team membership\n(Members: read); GITHUB_API_URL points at another API (GitHub Enterprise).\nExit: 0 ready, 1 failing or still waiting for approvals/sign-off, 2 usage or configuration error.')
    .action(async (options: PrCheckCliOptions) => {
      const ref = parseRepo(options.repo);
      const pull = parsePullNumber(options.pr);
      const policy = resolvePolicy({
        ...(options.config ? { file: resolve(ctx.cwd, options.config) } : { defaultFile: resolve(ctx.cwd, DEFAULT_POLICY_FILE) }),
        ...(options.sre ? { sre: options.sre } : {}),
        ...(options.operators ? { operators: options.operators } : {}),
      });
      const teamToken = ctx.env.GUARDED_ROLLOUT_TEAM_TOKEN;
      const outcome = await runPrCheck({
        repo: `${ref.owner}/${ref.repo}`,
        pull,
        token: ctx.env.GITHUB_TOKEN || ctx.env.GH_TOKEN || '',
        ...(teamToken ? { teamToken } : {}),
        ...(ctx.env.GITHUB_API_URL ? { apiUrl: ctx.env.GITHUB_API_URL } : {}),
        policy,
        postCheckRun: options.postCheckRun === true,
        now: ctx.now,
      });
      const { evaluation } = outcome;
      if (options.json) ctx.stdout(`${JSON.stringify({ result: evaluation.result, headSha: outcome.headSha, missing: evaluation.missing, rules: evaluation.rules, checkRun: outcome.checkRun ?? null }, null, 2)}\n`);
      else {
        ctx.stdout(`${ref.owner}/${ref.repo}#${pull} at ${outcome.headSha.slice(0, 7)}: ${evaluation.result}\n\n`);
        ctx.stdout(renderTable(['', 'rule', 'why'], evaluation.rules.map((r) => [STATUS_ICON[r.status], r.title, r.reason])));
        if (evaluation.missing.length) ctx.stdout(`\nmissing:\n${evaluation.missing.map((m) => `  - ${m}`).join('\n')}\n`);
        if (outcome.checkRun) ctx.stdout(`\ncheck run ${outcome.checkRun.id} ${outcome.checkRun.created ? 'created' : 'updated'}\n`);
      }
      if (evaluation.result !== 'success') ctx.exitCode = 1;
    });
}
