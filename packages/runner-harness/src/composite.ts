// A composite action's `run:` step as the runner starts it: the script in a temp file, run by
// `bash --noprofile --norc -eo pipefail <file>` as the step's direct child, with the job's env and
// the step's `env:` — no INPUT_* and no artifact runtime variables. Cancelling it applies the same
// schedule as any step: bash defers SIGINT while it waits for a foreground command, so that
// command keeps running (the reason our guarded deploy is not a composite).
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectStep, jobEnv, type GitHubContext, type RunningStep } from './node-action.js';
import { spawnStep } from './step.js';

export interface RunStepOptions {
  workspace: string;
  /** The step's `env:` (what a composite passes its inputs through). */
  env?: Record<string, string | undefined>;
  /** `bash` (the runner's default) or `sh` (dash here). */
  shell?: 'bash' | 'sh';
  runnerTemp?: string;
  github?: GitHubContext;
  marker?: string;
  timeoutMs?: number;
  cancelScale?: number;
}

export function runCompositeRunStep(script: string, options: RunStepOptions): RunningStep {
  const runnerTemp = options.runnerTemp ?? mkdtempSync(join(tmpdir(), 'runner-temp-'));
  const marker = options.marker ?? `gr-harness-${randomUUID()}`;
  const dir = join(runnerTemp, '_runner_file_commands');
  mkdirSync(dir, { recursive: true });
  const id = randomUUID();
  const files: Record<string, string> = {
    GITHUB_OUTPUT: join(dir, `set_output_${id}`),
    GITHUB_STATE: join(dir, `save_state_${id}`),
    GITHUB_ENV: join(dir, `set_env_${id}`),
    GITHUB_PATH: join(dir, `add_path_${id}`),
    GITHUB_STEP_SUMMARY: join(dir, `step_summary_${id}`),
  };
  for (const f of Object.values(files)) writeFileSync(f, '');
  const scriptFile = join(runnerTemp, `${id}.sh`);
  writeFileSync(scriptFile, script);
  const env: NodeJS.ProcessEnv = {
    ...jobEnv(options.workspace, runnerTemp, options.github),
    ...options.env,
    ...files,
    GR_HARNESS_MARKER: marker,
  };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  const [command, args] =
    options.shell === 'sh'
      ? ['sh', ['-e', scriptFile]]
      : ['bash', ['--noprofile', '--norc', '-eo', 'pipefail', scriptFile]];
  const proc = spawnStep(command, args, {
    cwd: options.workspace,
    env,
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.cancelScale ? { cancelScale: options.cancelScale } : {}),
  });
  const result = proc.exited.then((exit) => collectStep(exit, files, env, marker, []));
  const { exited: _exited, ...rest } = proc;
  void _exited;
  return Object.assign(rest, { result, marker });
}
