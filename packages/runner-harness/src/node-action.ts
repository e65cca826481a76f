// Runs a JavaScript action the way the GitHub runner does: `node <action>/<runs.main>` as the step's
// direct child with the job's env plus INPUT_* for this process only (names upper-cased, spaces →
// "_", hyphens kept; action.yml defaults applied), the artifact runtime variables only for node
// actions, fresh GITHUB_OUTPUT/GITHUB_STATE/GITHUB_ENV/GITHUB_STEP_SUMMARY files parsed after the
// step, and `runs.post` started with STATE_* from main's state.
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parseStdoutCommands, readCommandFile, type StdoutCommands } from './command-files.js';
import { spawnStep, type RunningProcess, type StepExit } from './step.js';

export class ActionDefinitionError extends Error {
  override name = 'ActionDefinitionError';
}

export interface ActionDefinition {
  dir: string;
  using: string;
  main: string;
  post?: string;
  postIf?: string;
  inputs: Record<string, { default?: string; required?: boolean }>;
}

/** Reads action.yml (or action.yaml) of a node action; errors name the file and field. */
export function readActionDefinition(actionDir: string): ActionDefinition {
  const dir = resolve(actionDir);
  const file = [join(dir, 'action.yml'), join(dir, 'action.yaml')].find((f) => existsSync(f));
  if (!file) throw new ActionDefinitionError(`${dir}: no action.yml or action.yaml`);
  const doc = parseYaml(readFileSync(file, 'utf8')) as {
    runs?: { using?: string; main?: string; post?: string; 'post-if'?: string };
    inputs?: Record<string, { default?: unknown; required?: boolean } | null>;
  };
  const using = doc.runs?.using;
  if (using !== 'node20' && using !== 'node24') {
    throw new ActionDefinitionError(
      `${file}: runs.using is ${JSON.stringify(using)}; runNodeAction runs node20/node24 actions`,
    );
  }
  if (!doc.runs?.main) throw new ActionDefinitionError(`${file}: runs.main is missing`);
  const inputs: ActionDefinition['inputs'] = {};
  for (const [name, spec] of Object.entries(doc.inputs ?? {})) {
    inputs[name] = {
      ...(spec?.default !== undefined ? { default: String(spec.default) } : {}),
      ...(spec?.required ? { required: true } : {}),
    };
  }
  return {
    dir,
    using,
    main: doc.runs.main,
    ...(doc.runs.post ? { post: doc.runs.post } : {}),
    ...(doc.runs['post-if'] ? { postIf: doc.runs['post-if'] } : {}),
    inputs,
  };
}

/** The runner's env name of an input: `INPUT_` + name with spaces as "_", upper-cased (hyphens stay). */
export function inputEnvName(name: string): string {
  return `INPUT_${name.replace(/ /g, '_').toUpperCase()}`;
}

/** The GitHub context a job runs in; defaults describe run 1, attempt 1 of o/r. */
export interface GitHubContext {
  repository?: string;
  runId?: number;
  runAttempt?: number;
  job?: string;
  sha?: string;
  ref?: string;
  token?: string;
  apiUrl?: string;
  serverUrl?: string;
  eventName?: string;
}

export interface NodeActionOptions {
  inputs?: Record<string, string>;
  /** The job's/step's `env:` (visible to every step, unlike INPUT_*). */
  env?: Record<string, string | undefined>;
  workspace: string;
  /** Node binary (the runner's node24). Default: findNode24() ?? this process's node. */
  node?: string;
  /** RUNNER_TEMP; default a fresh temp dir per job (pass the same one to main and post). */
  runnerTemp?: string;
  github?: GitHubContext;
  /** Runtime variables the runner gives node actions (from the local artifact service's envFor()). */
  runtime?: { ACTIONS_RUNTIME_TOKEN: string; ACTIONS_RESULTS_URL: string; ACTIONS_RUNTIME_URL?: string };
  /** Hard bound for the step. Default 120 s. */
  timeoutMs?: number;
  /** Marker put in the step's env so leftoverProcesses() can find everything it started. */
  marker?: string;
  /** Internal: the stage to run and the state it receives. */
  stage?: 'main' | 'post';
  state?: Record<string, string>;
  cancelScale?: number;
}

export interface StepResult extends StepExit {
  outputs: Record<string, string>;
  state: Record<string, string>;
  /** What the step appended to GITHUB_ENV (visible to later steps). */
  exportedEnv: Record<string, string>;
  summary: string;
  commands: StdoutCommands;
  /** The runner's warnings, e.g. "Unexpected input(s) 'x'". */
  runnerWarnings: string[];
  /** The env the process was started with (for asserting what it could see). */
  env: NodeJS.ProcessEnv;
  marker: string;
}

export interface RunningStep extends Omit<RunningProcess, 'exited'> {
  readonly result: Promise<StepResult>;
  readonly marker: string;
}

/** Node 24 from GR_NODE24, the repo's .tmp/node24 (CI) or /work/wt/.node24, when installed. */
export function findNode24(): string | undefined {
  const repo = resolve(new URL('../../..', import.meta.url).pathname);
  const candidates = [
    process.env.GR_NODE24,
    join(repo, '.tmp/node24/node_modules/node/bin/node'),
    resolve(repo, '../.node24/node_modules/node/bin/node'),
  ];
  return candidates.find((c): c is string => !!c && existsSync(c));
}

/** The env every step of a job gets from the runner (no INPUT_*, no artifact runtime token). */
export function jobEnv(workspace: string, runnerTemp: string, github: GitHubContext = {}): NodeJS.ProcessEnv {
  const repository = github.repository ?? 'octo-org/octo-repo';
  const eventPath = join(runnerTemp, '_github_workflow', 'event.json');
  if (!existsSync(eventPath)) {
    mkdirSync(join(runnerTemp, '_github_workflow'), { recursive: true });
    writeFileSync(eventPath, '{}');
  }
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LANG: process.env.LANG ?? 'C.UTF-8',
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    RUNNER_OS: 'Linux',
    RUNNER_ARCH: 'X64',
    RUNNER_TEMP: runnerTemp,
    RUNNER_TOOL_CACHE: join(runnerTemp, '_tool'),
    GITHUB_WORKSPACE: workspace,
    GITHUB_REPOSITORY: repository,
    GITHUB_REPOSITORY_OWNER: repository.split('/')[0],
    GITHUB_RUN_ID: String(github.runId ?? 1),
    GITHUB_RUN_NUMBER: String(github.runId ?? 1),
    GITHUB_RUN_ATTEMPT: String(github.runAttempt ?? 1),
    GITHUB_JOB: github.job ?? 'job',
    GITHUB_SHA: github.sha ?? 'a'.repeat(40),
    GITHUB_REF: github.ref ?? 'refs/heads/main',
    GITHUB_EVENT_NAME: github.eventName ?? 'workflow_dispatch',
    GITHUB_EVENT_PATH: eventPath,
    GITHUB_SERVER_URL: github.serverUrl ?? 'https://github.com',
    GITHUB_API_URL: github.apiUrl ?? 'https://api.github.com',
    GITHUB_WORKFLOW: 'harness',
    GITHUB_ACTOR: 'octocat',
  };
}

function stepFiles(runnerTemp: string): Record<string, string> {
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
  return files;
}

/** Collects a finished step's files and stdout commands. */
export function collectStep(
  exit: StepExit,
  files: Record<string, string>,
  env: NodeJS.ProcessEnv,
  marker: string,
  runnerWarnings: string[],
): StepResult {
  return {
    ...exit,
    outputs: readCommandFile(files.GITHUB_OUTPUT!),
    state: readCommandFile(files.GITHUB_STATE!),
    exportedEnv: readCommandFile(files.GITHUB_ENV!),
    summary: existsSync(files.GITHUB_STEP_SUMMARY!) ? readFileSync(files.GITHUB_STEP_SUMMARY!, 'utf8') : '',
    commands: parseStdoutCommands(exit.stdout),
    runnerWarnings,
    env,
    marker,
  };
}

/** Starts the action's main (or post) as the runner would; `result` resolves when it ends. */
export function runNodeAction(actionDir: string, options: NodeActionOptions): RunningStep {
  const action = readActionDefinition(actionDir);
  const stage = options.stage ?? 'main';
  const entry = stage === 'main' ? action.main : action.post;
  if (!entry) throw new ActionDefinitionError(`${action.dir}/action.yml: runs.post is missing`);
  const runnerTemp = options.runnerTemp ?? mkdtempSync(join(tmpdir(), 'runner-temp-'));
  const marker = options.marker ?? `gr-harness-${randomUUID()}`;
  const files = stepFiles(runnerTemp);
  const env: NodeJS.ProcessEnv = {
    ...jobEnv(options.workspace, runnerTemp, options.github),
    ...options.env,
    ...files,
    GITHUB_ACTION: 'harness-step',
    GITHUB_ACTION_PATH: action.dir,
    GR_HARNESS_MARKER: marker,
  };
  // Only node (and docker) actions get the artifact runtime variables.
  if (options.runtime) Object.assign(env, options.runtime);
  const runnerWarnings: string[] = [];
  const given = options.inputs ?? {};
  const unexpected = Object.keys(given).filter((k) => !(k in action.inputs));
  if (unexpected.length) {
    runnerWarnings.push(
      `Unexpected input(s) ${unexpected.map((k) => `'${k}'`).join(', ')}, valid inputs are [${Object.keys(
        action.inputs,
      )
        .map((k) => `'${k}'`)
        .join(', ')}]`,
    );
  }
  for (const [name, spec] of Object.entries(action.inputs)) {
    const value = name in given ? given[name]! : spec.default;
    if (value === undefined) continue;
    env[inputEnvName(name)] = value.replace(/\$\{\{\s*github\.token\s*\}\}/g, options.github?.token ?? '');
  }
  for (const name of unexpected) env[inputEnvName(name)] = given[name];
  if (stage === 'post') {
    for (const [k, v] of Object.entries(options.state ?? {})) env[`STATE_${k}`] = v;
  }
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  const node = options.node ?? findNode24() ?? process.execPath;
  const proc = spawnStep(node, [join(action.dir, entry)], {
    cwd: options.workspace,
    env,
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.cancelScale ? { cancelScale: options.cancelScale } : {}),
  });
  const result = proc.exited.then((exit) => collectStep(exit, files, env, marker, runnerWarnings));
  const { exited: _exited, ...rest } = proc;
  void _exited;
  return Object.assign(rest, { result, marker });
}

/**
 * Runs `runs.post` after main, as the runner does at the end of the job (post-if defaults to
 * always(), so it runs after a failed or cancelled main too), with STATE_* from main's state.
 */
export function runPostStep(actionDir: string, main: StepResult, options: NodeActionOptions): RunningStep {
  return runNodeAction(actionDir, {
    ...options,
    stage: 'post',
    state: main.state,
    marker: options.marker ?? main.marker,
  });
}
