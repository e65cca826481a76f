// The pr-check policy: which checklist boxes are required, how many approvals from whom, who may
// sign off a deploy. Defaults follow our PR template (action-templates/PR_BODY.md); a repository
// overrides them in `.github/guarded-rollout.yml` (validated, errors name path and value).
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError, SchemaValidator } from '@guarded-rollout/config';

export type ChecklistGroup = 'artifact' | 'ci' | 'config';

export interface ChecklistEntry {
  id: string;
  /** Text the item starts with (matched after normalisation: case, emoji, bold, punctuation). */
  text: string;
  group: ChecklistGroup;
  required: boolean;
  /** For artifact boxes: what backs it inside the premerge_artifacts bundle — a log
   *  (`deploy-dryrun.log`), backups (`backups/*.zip`), a directory (`monitor_logs/`), or
   *  `premerge_artifacts/` for the bundle itself. */
  artifact?: string;
}

export interface PrCheckPolicy {
  rules: { checklist: boolean; evidence: boolean; approvals: boolean; signoff: boolean };
  checklist: {
    items: ChecklistEntry[];
    riskLevels: string[];
    readyYes: string;
    readyNo: string;
    backupPass: string;
    backupFail: string;
  };
  requiredApprovals: number;
  sreApprovals: number;
  approvalsOnHeadOnly: boolean;
  signoffCommand: string;
  deployLabels: string[];
  premergeWorkflow: string;
  roster: { sre: string[]; operators: string[] };
}

const artifact = (id: string, text: string, name: string, required = true): ChecklistEntry => ({
  id,
  text,
  group: 'artifact',
  required,
  artifact: name,
});

export const DEFAULT_CHECKLIST: ChecklistEntry[] = [
  artifact('backups', 'Backups', 'backups/*.zip'),
  artifact('deploy-dryrun', 'deploy-dryrun.log', 'deploy-dryrun.log'),
  artifact('migrate-dryrun', 'migrate-dryrun.log', 'migrate-dryrun.log'),
  artifact('backup-dryrun', 'backup-dryrun.log', 'backup-dryrun.log'),
  artifact('rollback-dryrun', 'rollback-dryrun.log', 'rollback-dryrun.log'),
  artifact('postdeploy-smoketests', 'postdeploy-smoketests.log', 'postdeploy-smoketests.log'),
  artifact('test-logging', 'test_logging.log', 'test_logging.log'),
  artifact('premerge-artifacts', 'premerge_artifacts/', 'premerge_artifacts/'),
  artifact('monitor-logs', 'monitor_logs/', 'monitor_logs/', false),
  { id: 'ci-platforms', text: 'Cross-platform validation', group: 'ci', required: true },
  { id: 'ci-security', text: 'Security & quality checks', group: 'ci', required: true },
  { id: 'ci-integration', text: 'Integration tests', group: 'ci', required: true },
  { id: 'ci-branch-protection', text: 'Branch protection', group: 'ci', required: true },
  { id: 'config-gates', text: 'Quality gates', group: 'config', required: true },
  { id: 'config-monitoring', text: 'Monitoring window', group: 'config', required: true },
  { id: 'config-notifications', text: 'Notification setup', group: 'config', required: true },
  { id: 'config-env', text: 'Environment variables', group: 'config', required: true },
];

export function defaultPolicy(): PrCheckPolicy {
  return {
    rules: { checklist: true, evidence: true, approvals: true, signoff: true },
    checklist: {
      items: structuredClone(DEFAULT_CHECKLIST),
      riskLevels: ['Risk level: Low', 'Risk level: Medium', 'Risk level: High', 'Risk level: Critical'],
      readyYes: 'Ready for deployment: YES',
      readyNo: 'Ready for deployment: NO',
      backupPass: 'Backup verification result: PASS',
      backupFail: 'Backup verification result: FAIL',
    },
    requiredApprovals: 2,
    sreApprovals: 1,
    approvalsOnHeadOnly: true,
    signoffCommand: '/signoff',
    deployLabels: ['deploy'],
    premergeWorkflow: 'premerge.yml',
    roster: { sre: [], operators: [] },
  };
}

const stringList = { type: 'array', items: { type: 'string', minLength: 1 } };
const member = {
  type: 'string',
  pattern: '^@?[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\\[bot\\])?(?:/[A-Za-z0-9._-]+)?$',
};

export const POLICY_FILE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    roster: {
      type: 'object',
      additionalProperties: false,
      properties: { sre: { type: 'array', items: member }, operators: { type: 'array', items: member } },
    },
    'pr-check': {
      type: 'object',
      additionalProperties: false,
      properties: {
        rules: {
          type: 'object',
          additionalProperties: false,
          properties: {
            checklist: { type: 'boolean' },
            evidence: { type: 'boolean' },
            approvals: { type: 'boolean' },
            signoff: { type: 'boolean' },
          },
        },
        'required-approvals': { type: 'integer', minimum: 0, maximum: 20 },
        'sre-approvals': { type: 'integer', minimum: 0, maximum: 20 },
        'approvals-on-head-only': { type: 'boolean' },
        'signoff-command': { type: 'string', pattern: '^/[A-Za-z][A-Za-z0-9-]*$' },
        'deploy-labels': stringList,
        'premerge-workflow': { type: 'string', minLength: 1 },
        checklist: {
          type: 'object',
          additionalProperties: false,
          properties: {
            items: {
              type: 'array',
              items: {
                type: 'object',
                additionalProperties: false,
                required: ['id', 'text', 'group'],
                properties: {
                  id: { type: 'string', minLength: 1 },
                  text: { type: 'string', minLength: 1 },
                  group: { enum: ['artifact', 'ci', 'config'] },
                  required: { type: 'boolean' },
                  artifact: { type: 'string', minLength: 1 },
                },
              },
            },
            'risk-levels': { ...stringList, minItems: 1 },
            'ready-yes': { type: 'string', minLength: 1 },
            'ready-no': { type: 'string', minLength: 1 },
          },
        },
      },
    },
  },
} as const;

interface PolicyFile {
  roster?: { sre?: string[]; operators?: string[] };
  'pr-check'?: {
    rules?: Partial<PrCheckPolicy['rules']>;
    'required-approvals'?: number;
    'sre-approvals'?: number;
    'approvals-on-head-only'?: boolean;
    'signoff-command'?: string;
    'deploy-labels'?: string[];
    'premerge-workflow'?: string;
    checklist?: {
      items?: (Omit<ChecklistEntry, 'required'> & { required?: boolean })[];
      'risk-levels'?: string[];
      'ready-yes'?: string;
      'ready-no'?: string;
    };
  };
}

let validator: SchemaValidator<PolicyFile> | undefined;

/** Applies a parsed policy file (already-read YAML/JSON value) over the defaults. */
export function policyFromValue(
  value: unknown,
  file: string,
  base: PrCheckPolicy = defaultPolicy(),
): PrCheckPolicy {
  validator ??= new SchemaValidator<PolicyFile>(POLICY_FILE_SCHEMA);
  const parsed = validator.assert(value ?? {}, file);
  const policy = structuredClone(base);
  if (parsed.roster?.sre) policy.roster.sre = parsed.roster.sre;
  if (parsed.roster?.operators) policy.roster.operators = parsed.roster.operators;
  const pc = parsed['pr-check'];
  if (pc) {
    Object.assign(policy.rules, pc.rules ?? {});
    policy.requiredApprovals = pc['required-approvals'] ?? policy.requiredApprovals;
    policy.sreApprovals = pc['sre-approvals'] ?? policy.sreApprovals;
    policy.approvalsOnHeadOnly = pc['approvals-on-head-only'] ?? policy.approvalsOnHeadOnly;
    policy.signoffCommand = pc['signoff-command'] ?? policy.signoffCommand;
    policy.deployLabels = pc['deploy-labels'] ?? policy.deployLabels;
    policy.premergeWorkflow = pc['premerge-workflow'] ?? policy.premergeWorkflow;
    const cl = pc.checklist;
    if (cl?.items) {
      const ids = new Set<string>();
      policy.checklist.items = cl.items.map((item, i) => {
        if (ids.has(item.id))
          throw new ConfigError(
            `pr-check.checklist.items[${i}].id: "${item.id}" is used twice; ids must be unique`,
            { file },
          );
        ids.add(item.id);
        if (item.group === 'artifact' && !item.artifact) {
          throw new ConfigError(
            `pr-check.checklist.items[${i}].artifact: missing; an artifact box names the artifact the premerge run uploads`,
            { file },
          );
        }
        return { ...item, required: item.required ?? true };
      });
    }
    policy.checklist.riskLevels = cl?.['risk-levels'] ?? policy.checklist.riskLevels;
    policy.checklist.readyYes = cl?.['ready-yes'] ?? policy.checklist.readyYes;
    policy.checklist.readyNo = cl?.['ready-no'] ?? policy.checklist.readyNo;
  }
  return policy;
}

/** Reads `.github/guarded-rollout.yml` (YAML or JSON); a missing file yields the defaults. */
export function loadPolicyFile(file: string, options: { optional?: boolean } = {}): PrCheckPolicy {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && options.optional) return defaultPolicy();
    throw new ConfigError(
      (error as NodeJS.ErrnoException).code === 'ENOENT'
        ? 'file not found'
        : `cannot read file: ${(error as Error).message}`,
      { file },
    );
  }
  let value: unknown;
  try {
    value = parseYaml(text, { prettyErrors: true });
  } catch (error) {
    throw new ConfigError(`is not valid YAML: ${(error as Error).message.split('\n')[0]}`, { file });
  }
  return policyFromValue(value, file);
}

/** A roster entry is a team when it has the form `org/team` (with or without a leading @). */
export function parseMember(
  entry: string,
): { kind: 'user'; login: string } | { kind: 'team'; org: string; team: string } {
  const bare = entry.replace(/^@/, '');
  const slash = bare.indexOf('/');
  if (slash < 0) return { kind: 'user', login: bare.toLowerCase() };
  return { kind: 'team', org: bare.slice(0, slash), team: bare.slice(slash + 1) };
}

export const DEFAULT_POLICY_FILE = '.github/guarded-rollout.yml';

export interface PolicySources {
  /** Explicit policy file (must exist); otherwise `defaultFile` is used when present. */
  file?: string;
  defaultFile?: string;
  /** Roster entries given on the command line / as action inputs; they replace the file's. */
  sre?: string[];
  operators?: string[];
}

/** The one way both doorways assemble a policy: file (if any), then explicit roster overrides. */
export function resolvePolicy(sources: PolicySources): PrCheckPolicy {
  const policy = sources.file
    ? loadPolicyFile(sources.file)
    : sources.defaultFile
      ? loadPolicyFile(sources.defaultFile, { optional: true })
      : defaultPolicy();
  const checkEntries = (entries: string[], field: string): string[] => {
    for (const entry of entries) {
      if (!/^@?[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\[bot\])?(?:\/[A-Za-z0-9._-]+)?$/.test(entry)) {
        throw new ConfigError(
          `${field}: ${JSON.stringify(entry)} is not a GitHub login or org/team (e.g. alice, @acme/sre)`,
          { field },
        );
      }
    }
    return entries;
  };
  if (sources.sre?.length) policy.roster.sre = checkEntries(sources.sre, 'sre');
  if (sources.operators?.length) policy.roster.operators = checkEntries(sources.operators, 'operators');
  return policy;
}
