// Runbook parity (issue 15): every operator command of the two source documents (docs/seeds/, kept
// verbatim) is typed, exactly as written, from the root of a fresh copy of this repository, after
// the README's set-up and `./scripts/sample-service.sh start`, against the shipped
// guarded-rollout.config.json. Each command must do what the seed says (exit 0 with the expected
// output) or refuse with one line saying what to supply. A seed command this file does not know
// fails the test, so the seeds and the product cannot drift apart.
//
// Time compression (the seeds' monitor runs a 60-minute window): the test sets only variables the
// CLI reads for any command, GUARDED_ROLLOUT_MONITOR_TIME_SCALE=300 (1 h in 12 s, so a 10-minute
// gate window still holds enough requests to judge) and
// GUARDED_ROLLOUT_ROLLBACK_HEALTH_INTERVAL=200ms; the commands themselves stay verbatim. The sample
// service gets a free port (SAMPLE_SERVICE_PORT), written into the copy's config in place of 8080.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureCliBundle } from '../../packages/cli/__tests__/bundle.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const SEEDS = ['docs/seeds/000_5c11d107154ebd1c.txt', 'docs/seeds/001_4dfebdaee2b2d0e6.txt'];
const LATEST = 'LATEST_BACKUP=$(ls -1 backups/dhash_*.zip | sort -r | head -n1)';

/** The operator commands of a seed: each shell-block line (with the block's assignments before
 *  it), and each inline code span that starts like a command (`./…`, `node …`). */
export function seedCommands(text: string): string[] {
  const commands: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (/^```(bash|sh)\s*$/.test(lines[i]!.trim())) {
      const assignments: string[] = [];
      for (i++; i < lines.length && lines[i]!.trim() !== '```'; i++) {
        const line = lines[i]!.trimEnd();
        if (line.trim() === '' || line.trim().startsWith('#')) continue;
        if (/^[A-Z_]+=\S/.test(line)) {
          assignments.push(line);
          // An assignment alone is a command too ("Identify latest backup").
          if (lines[i + 1]?.trim() === '```' && assignments.length === 1 && commands.length >= 0)
            commands.push(line);
          continue;
        }
        const needsLatest = line.includes('$LATEST_BACKUP') || line.includes('${LATEST_BACKUP}');
        const prefix = assignments.length ? assignments : needsLatest ? [LATEST] : [];
        commands.push([...prefix, line].join('\n'));
      }
      continue;
    }
    for (const m of lines[i]!.matchAll(/`((?:\.\/|node )[^`]+)`/g)) commands.push(m[1]!);
  }
  return [...new Set(commands)];
}

/** Files and folders the seeds name (scripts, templates, docs, workflow, gates config). */
export function seedPaths(text: string): string[] {
  const spans = [...text.matchAll(/`([^`\s]+)`/g)].map((m) => m[1]!);
  return [
    ...new Set(
      spans.filter(
        (s) =>
          /^(scripts|templates|\.github)\//.test(s) ||
          /^[A-Z_]+\.md$/.test(s) ||
          s === 'quality-gates-config.json',
      ),
    ),
  ];
}

interface Expectation {
  exit: number;
  /** Run under live traffic (the watch). Backups are taken while the service is quiet: a file that
   *  changes while it is archived is refused, as it should be. */
  traffic?: boolean;
  /** Must appear in stdout+stderr. */
  output: RegExp;
}

// In the order an operator meets them in a release: back up, verify, deploy, watch, roll back, check.
const EXPECTED: Array<[string, Expectation]> = [
  [
    './scripts/backup_dhash.sh --env production',
    { exit: 0, output: /backup-path: .*dhash_production_\d{8}T\d{6}Z.*\.zip\n/ },
  ],
  [LATEST, { exit: 0, output: /^$/ }],
  [
    `${LATEST}\nsha256sum -c "\${LATEST_BACKUP}.sha256"`,
    { exit: 0, output: /^backups\/dhash_production_\S+\.zip: OK\n$/ },
  ],
  ['./quick-deploy.sh production', { exit: 0, output: /deploy succeeded[\s\S]*smoke passed: 1\/1 critical/ }],
  [
    './quick-deploy.sh production --skip-backup  # (not recommended for prod)',
    {
      exit: 2,
      output:
        /^error: quick-deploy: --skip-backup is refused for production; add --force if you really mean to deploy without a backup\n$/,
    },
  ],
  [
    './scripts/deploy_dhash.sh --env production --backup-first',
    { exit: 0, output: /deploy succeeded[\s\S]*backup: .*dhash_production_/ },
  ],
  [
    'node scripts/monitor_dhash.js --env production',
    { exit: 0, traffic: true, output: /result: passed — every gate held for the 1h window/ },
  ],
  [
    `${LATEST}\n./scripts/rollback_dhash.sh --backup "$LATEST_BACKUP" --env production --force`,
    { exit: 0, output: /status: succeeded\n[\s\S]*health-checks-ok: 3\n/ },
  ],
  [
    `${LATEST}\n./scripts/rollback_dhash.sh --backup "$LATEST_BACKUP" --env production`,
    { exit: 0, output: /status: succeeded\n[\s\S]*health-checks-ok: 3\n/ },
  ],
  [
    './scripts/smoke_tests.sh --env production --tier critical',
    { exit: 0, output: /smoke passed: 1\/1 critical/ },
  ],
  ['./scripts/smoke_tests.sh --env production --tier all', { exit: 0, output: /smoke passed: 2\/2/ }],
  ['node scripts/validate_logging.js --env production', { exit: 0, output: /test_logging\.log/ }],
];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** A fresh checkout: the repository's files (tracked and new, as git would check them out) without
 *  bundles, plus the set-up's results (node_modules and the CLI bundle) linked in. */
function freshCheckout(dir: string): void {
  const list = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: root,
    encoding: 'utf8',
  });
  if (list.status !== 0) throw new Error(`git ls-files: ${list.stderr}`);
  for (const file of list.stdout.split('\0').filter(Boolean)) {
    if (/^actions\/[^/]+\/dist\//.test(file) || !existsSync(join(root, file))) continue;
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    if (lstatSync(join(root, file)).isSymbolicLink())
      symlinkSync(readlinkSync(join(root, file)), join(dir, file));
    else copyFileSync(join(root, file), join(dir, file));
  }
  for (const linked of ['node_modules', 'examples/dhash-service/node_modules', 'packages/cli/dist'])
    symlinkSync(join(root, linked), join(dir, linked));
}

let checkout = '';
let port = 0;
let env: NodeJS.ProcessEnv = {};
let traffic: ChildProcess | undefined;

function run(
  script: string,
  timeoutMs = 120_000,
): Promise<{ status: number | null; output: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', script], {
      cwd: checkout,
      env,
    });
    let output = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => ((output += d.toString()), (stderr += d.toString())));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, output, stderr });
    });
  });
}

const describeOnPosix = process.platform === 'win32' ? describe.skip : describe;

describeOnPosix('the seeds, typed verbatim from a fresh checkout', () => {
  beforeAll(async () => {
    ensureCliBundle();
    checkout = mkdtempSync(join(tmpdir(), 'seed-commands-'));
    freshCheckout(checkout);
    port = await freePort();
    const config = join(checkout, 'guarded-rollout.config.json');
    writeFileSync(config, readFileSync(config, 'utf8').replaceAll('127.0.0.1:8080', `127.0.0.1:${port}`));
    env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: checkout,
      LANG: 'C.UTF-8',
      SAMPLE_SERVICE_PORT: String(port),
      GUARDED_ROLLOUT_MONITOR_TIME_SCALE: '300',
      GUARDED_ROLLOUT_ROLLBACK_HEALTH_INTERVAL: '200ms',
    };
    const start = await run('./scripts/sample-service.sh start', 60_000);
    if (start.status !== 0) throw new Error(`sample-service start failed:\n${start.output}`);
    // Live traffic while the commands run, as in production (bounded: 10 minutes at most).
    traffic = spawn(
      process.execPath,
      [
        'examples/dhash-service/src/traffic.mjs',
        '--url',
        `http://127.0.0.1:${port}`,
        '--seconds',
        '600',
        '--workers',
        '3',
      ],
      { cwd: checkout, stdio: 'ignore' },
    );
  }, 300_000);

  afterAll(async () => {
    if (traffic && traffic.exitCode === null) {
      const exited = new Promise((r) => traffic!.once('exit', r));
      traffic.kill('SIGTERM');
      await exited;
    }
    if (checkout) {
      const stop = await run('./scripts/sample-service.sh stop', 30_000);
      expect(stop.status).toBe(0);
      if (!process.env.KEEP_SEED_CHECKOUT) rmSync(checkout, { recursive: true, force: true });
    }
  }, 60_000);

  it('knows every operator command of both seeds, and no other', () => {
    const found = SEEDS.flatMap((s) => seedCommands(readFileSync(join(root, s), 'utf8')));
    expect([...new Set(found)].sort()).toEqual(EXPECTED.map(([c]) => c).sort());
  });

  it.each(EXPECTED)(
    '%s',
    async (command, expectation) => {
      const r = await run(command);
      expect({ command, status: r.status, output: r.output.slice(-3000) }).toMatchObject({
        status: expectation.exit,
        output: expect.stringMatching(expectation.output),
      });
      // A refusal is one line that says what to supply.
      if (expectation.exit !== 0) expect(r.stderr.trim().split('\n')).toHaveLength(1);
    },
    130_000,
  );

  it('every file and folder the seeds name exists, and every script shim starts', async () => {
    const paths = SEEDS.flatMap((s) => seedPaths(readFileSync(join(root, s), 'utf8')));
    expect(paths).toEqual(
      expect.arrayContaining([
        'scripts/monitor_dhash.js',
        'scripts/deploy/deploy-notify.js',
        'templates/PR_BODY.md',
      ]),
    );
    for (const path of paths)
      expect({ path, exists: existsSync(join(checkout, path)) }).toEqual({ path, exists: true });
    for (const script of paths.filter((p) => /^scripts\/.*\.(sh|js)$/.test(p))) {
      const r = await run(`${script.endsWith('.js') ? 'node ' : './'}${script} --help`, 30_000);
      expect({ script, status: r.status }).toEqual({ script, status: 0 });
      expect(r.output).toMatch(/^Usage: guarded-rollout /);
    }
    const notify = await run(
      'node scripts/deploy/deploy-notify.js --event deploy-started --env production --dry-run',
    );
    expect(notify.status).toBe(0);
    expect(notify.output).toContain('[dry-run]');
  }, 120_000);
});

describe("templates/ (the seeds' paths) is action-templates/", () => {
  it.each(['PR_BODY.md', 'notifications'])('templates/%s links to action-templates/%s', (name) => {
    expect(lstatSync(join(root, 'templates', name)).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(root, 'templates', name))).toBe(`../action-templates/${name}`);
  });
  it('every notification template reads the same through templates/', () => {
    const names = readdirSync(join(root, 'action-templates/notifications'));
    expect(names.length).toBeGreaterThan(5);
    for (const name of names)
      expect(readFileSync(join(root, 'templates/notifications', name), 'utf8')).toBe(
        readFileSync(join(root, 'action-templates/notifications', name), 'utf8'),
      );
  });
});

describe('seedCommands', () => {
  it('takes block lines with their assignments and inline commands, skipping comments', () => {
    const text = [
      '- Run: `./a.sh x`',
      '```bash',
      '# c',
      'X=$(y)',
      'cmd "$X"',
      '',
      'node b.js',
      '```',
      'see `notes.md`',
    ].join('\n');
    expect(seedCommands(text)).toEqual(['./a.sh x', 'X=$(y)\ncmd "$X"', 'X=$(y)\nnode b.js']);
  });
});
