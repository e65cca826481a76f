// Every CLI command, named with a one-line summary and a loader. `--help` and `--version` read only
// this list; a command's module (and the packages behind it) is imported only when that command
// runs, which keeps start-up under 0.15 s (bench/cli-startup.mjs). To add a command: write
// commands/<name>.ts exporting `register<Name>(program, ctx)` and add one entry here.
import type { Command } from 'commander';
import type { CliContext } from './context.js';

export type Register = (program: Command, ctx: CliContext) => void;

export interface CommandEntry {
  /** What the operator types after `guarded-rollout`. */
  name: string;
  /** Shown by `guarded-rollout --help` (the module's own description is shown by `<name> --help`). */
  summary: string;
  /** Imports the module and returns its register function (one module may register several names). */
  load: () => Promise<Register>;
}

const backup = async (): Promise<Register> => (await import('./commands/backup.js')).registerBackup;
const deploy = async (): Promise<Register> => (await import('./commands/deploy.js')).registerDeploy;

export const COMMANDS: CommandEntry[] = [
  { name: 'backup', summary: 'write a verified backup zip + .sha256 of an environment', load: backup },
  {
    name: 'verify-backup',
    summary: 'check a backup without restoring it',
    load: async () => (await import('./commands/verify-backup.js')).registerVerifyBackup,
  },
  { name: 'latest-backup', summary: 'print the newest complete backup of an environment', load: backup },
  {
    name: 'rollback',
    summary: 'restore a backup into the live tree, restart, require consecutive OK health checks',
    load: async () => (await import('./commands/rollback.js')).registerRollback,
  },
  {
    name: 'deploy',
    summary: 'run the migrate and deploy commands with timeouts; record a Deployment',
    load: deploy,
  },
  { name: 'migrate', summary: 'run only the migrate command with its timeout', load: deploy },
  {
    name: 'monitor',
    summary: 'watch a deploy: poll health and metrics, evaluate the quality gates, roll back on violation',
    load: async () => (await import('./commands/monitor.js')).registerMonitor,
  },
  {
    name: 'guarded-deploy',
    summary: 'the whole guarded deploy: backup, deploy, critical smoke, gated watch, verified rollback',
    load: async () => (await import('./commands/guarded-deploy.js')).registerGuardedDeploy,
  },
  {
    name: 'smoke',
    summary: 'run the smoke checks of an environment (critical or all)',
    load: async () => (await import('./commands/smoke.js')).registerSmoke,
  },
  {
    name: 'validate-logging',
    summary: 'check that the service writes structured JSON logs without secrets',
    load: async () => (await import('./commands/validate-logging.js')).registerValidateLogging,
  },
  {
    name: 'notify',
    summary: 'announce a rollout event on Slack, Teams, Discord, email and a webhook',
    load: async () => (await import('./commands/notify.js')).registerNotify,
  },
  {
    name: 'verify-artifacts',
    summary: 'judge a directory of pre-merge evidence (backups, logs, bundles) as one set',
    load: async () => (await import('./commands/verify-artifacts.js')).registerVerifyArtifacts,
  },
  {
    name: 'pr-check',
    summary: 'check a PR for the checklist, artifact evidence, approvals and sign-off',
    load: async () => (await import('./commands/pr-check.js')).registerPrCheck,
  },
  {
    name: 'gates',
    summary: 'validate (check) and re-evaluate (replay) quality-gate configuration',
    load: async () => {
      const [{ registerGates }, { registerGatesReplay }] = await Promise.all([
        import('./commands/gates.js'),
        import('./commands/gates-replay.js'),
      ]);
      return (program, ctx) => {
        registerGates(program, ctx);
        registerGatesReplay(
          program.commands.find((c) => c.name() === 'gates')!,
          ctx,
        );
      };
    },
  },
  {
    name: 'quick-deploy',
    summary: 'backup-first deploy of an environment, then its critical smoke tests',
    load: async () => (await import('./commands/quick-deploy.js')).registerQuickDeploy,
  },
  {
    name: 'baseline',
    summary: 'record the pre-deploy baseline that baseline gates compare the new release with',
    load: async () => (await import('./commands/baseline.js')).registerBaseline,
  },
  {
    name: 'watchdog',
    summary: 'mark GitHub deployments left in progress past the monitor window as error',
    load: async () => (await import('./commands/watchdog.js')).registerWatchdog,
  },
  {
    name: 'config',
    summary: 'show the resolved rollout settings of an environment and where each came from',
    load: async () => (await import('./commands/config-check.js')).registerConfig,
  },
];
