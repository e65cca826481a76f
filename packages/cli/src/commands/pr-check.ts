// `guarded-rollout pr-check --repo OWNER/REPO --pr N`: evaluates a PR's checklist, evidence,
// approvals and operator sign-off exactly as the pr-check action does. Read-only unless
// --post-check-run is given (writing check runs needs a GitHub App or workflow token).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError, UsageError } from '@guarded-rollout/config';
import type { Command } from 'commander';
import {
  DEFAULT_POLICY_FILE,
  evaluateBody,
  parsePullNumber,
  parseRepo,
  resolvePolicy,
  runPrCheck,
  STATUS_ICON,
  type PrEvaluation,
} from '@guarded-rollout/premerge';
import type { CliContext } from '../context.js';
import { renderTable } from '../table.js';

const list = (value: string, previous: string[] = []): string[] => [
  ...previous,
  ...value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
];

interface PrCheckCliOptions {
  repo?: string;
  pr?: string;
  bodyFile?: string;
  deploy?: boolean;
  config?: string;
  sre?: string[];
  operators?: string[];
  postCheckRun?: boolean;
  json?: boolean;
}

export function registerPrCheck(program: Command, ctx: CliContext): void {
  program
    .command('pr-check')
    .description(
      'check a PR for the guarded-rollout checklist, artifact evidence, approvals and operator sign-off',
    )
    .option('--repo <owner/repo>', 'repository, e.g. acme/dhash')
    .option('--pr <number>', 'pull request number')
    .option(
      '--body-file <file>',
      'check a PR description file instead of a PR: checklist rules only, no GitHub requests',
    )
    .option('--deploy', 'with --body-file: treat it as a deploy PR ("Ready for deployment: YES" required)')
    .option('--config <file>', `policy and roster file (default: ${DEFAULT_POLICY_FILE} when present)`)
    .option('--sre <members>', 'Ops/SRE set: logins or org/team, comma-separated (repeatable)', list)
    .option(
      '--operators <members>',
      'deploy operator set: logins or org/team, comma-separated (repeatable)',
      list,
    )
    .option(
      '--post-check-run',
      'create/update the "guarded-rollout / pr-check" check run (needs checks: write)',
    )
    .option('--json', 'print the evaluation as JSON')
    .addHelpText(
      'after',
      '\nEnvironment: GITHUB_TOKEN (or GH_TOKEN) reads the PR; GUARDED_ROLLOUT_TEAM_TOKEN reads org team membership\n(Members: read); GITHUB_API_URL points at another API (GitHub Enterprise).\nExit: 0 ready, 1 failing or still waiting for approvals/sign-off, 2 usage or configuration error.',
    )
    .action(async (options: PrCheckCliOptions) => {
      const policy = resolvePolicy({
        ...(options.config
          ? { file: resolve(ctx.cwd, options.config) }
          : { defaultFile: resolve(ctx.cwd, DEFAULT_POLICY_FILE) }),
        ...(options.sre ? { sre: options.sre } : {}),
        ...(options.operators ? { operators: options.operators } : {}),
      });
      if (options.bodyFile) {
        const file = resolve(ctx.cwd, options.bodyFile);
        let body: string;
        try {
          body = readFileSync(file, 'utf8');
        } catch (error) {
          throw new ConfigError(
            `cannot read the PR description (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
            { file },
          );
        }
        report(
          evaluateBody(body, policy, { deploy: options.deploy === true }),
          options.bodyFile,
          undefined,
          options.json === true,
        );
        return;
      }
      if (!options.repo || !options.pr)
        throw new UsageError(
          'pr-check needs --repo OWNER/REPO and --pr N (or --body-file FILE to check a description offline)',
        );
      const ref = parseRepo(options.repo);
      const pull = parsePullNumber(options.pr);
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
      report(
        outcome.evaluation,
        `${ref.owner}/${ref.repo}#${pull} at ${outcome.headSha.slice(0, 7)}`,
        outcome,
        options.json === true,
      );
    });

  function report(
    evaluation: PrEvaluation,
    subject: string,
    outcome: Awaited<ReturnType<typeof runPrCheck>> | undefined,
    json: boolean,
  ): void {
    if (json)
      ctx.stdout(
        `${JSON.stringify({ result: evaluation.result, headSha: outcome?.headSha ?? null, missing: evaluation.missing, rules: evaluation.rules, checkRun: outcome?.checkRun ?? null }, null, 2)}\n`,
      );
    else {
      ctx.stdout(`${subject}: ${evaluation.result}\n\n`);
      ctx.stdout(
        renderTable(
          ['', 'rule', 'why'],
          evaluation.rules.map((r) => [STATUS_ICON[r.status], r.title, r.reason]),
        ),
      );
      if (evaluation.missing.length)
        ctx.stdout(`\nmissing:\n${evaluation.missing.map((m) => `  - ${m}`).join('\n')}\n`);
      if (outcome?.checkRun)
        ctx.stdout(
          `\ncheck run ${outcome.checkRun.id} ${outcome.checkRun.created ? 'created' : 'updated'}\n`,
        );
    }
    if (evaluation.result !== 'success') ctx.exitCode = 1;
    // A roster that cannot be read is a configuration error, not a verdict about the PR.
    if (outcome?.configErrors.length) {
      ctx.stderr(`configuration error: ${outcome.configErrors.join('; ')}\n`);
      ctx.exitCode = 2;
    }
  }
}
