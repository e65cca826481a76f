// The one-command guarded rollout on this machine (scripts/demo.mjs bundles and runs this):
// start release 1.0.0 under live traffic → notify → backup (+sha256) → deploy 1.1.0 → watch it
// with time-compressed monitoring → on a violation, automatic verified rollback → notifications
// to local Slack/Teams/Discord/SMTP sinks plus one unreachable channel that lands in the fallback
// file → a final report (markdown, JSON, HTML). Leaves no process running.
//
// Backups and the verified restore are packages/archive's, notifications packages/notify's, the
// watch packages/monitor's: the same code the actions and the CLI run.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { basename, join, resolve } from 'node:path';
import { createBackup } from '@guarded-rollout/archive';
import { formatDuration } from '@guarded-rollout/config';
import {
  archiveRollback,
  compactTimestamp,
  packageNotifier,
  watchDeployment,
  recordBaseline,
  type MonitorSummary,
} from '@guarded-rollout/monitor';
import { parseGatesConfig, type BaselineSnapshot } from '@guarded-rollout/gates';
import { startSinks } from './sinks.js';

const SCENARIOS = [
  'failing-extractions',
  'slow-hashing',
  'dying-health',
  'growing-queue',
  'subtle-regression',
  'healthy',
] as const;
type Scenario = (typeof SCENARIOS)[number];
const EXPECTED_GATE: Record<Exclude<Scenario, 'healthy'>, string> = {
  'failing-extractions': 'extraction_failure_rate',
  'slow-hashing': 'p95_hash_time',
  'dying-health': 'health',
  'growing-queue': 'low_confidence_queue',
  // Under every fixed limit: only a baseline gate (examples/dhash-service/baseline-gates.json) sees it.
  'subtle-regression': 'hash_time_vs_baseline',
};
/** Scenarios watched with the baseline gates added to the shipped production gates. */
const WITH_BASELINE_GATES: readonly Scenario[] = ['subtle-regression'];

interface Args {
  scenario: Scenario;
  out: string;
  timeScale: number;
  repo: string;
}

function parseArgs(argv: string[]): Args {
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  };
  const repo = resolve(get('repo') ?? process.cwd());
  const scenario = (get('scenario') ?? 'failing-extractions') as Scenario;
  if (!SCENARIOS.includes(scenario)) {
    console.error(`demo: --scenario ${JSON.stringify(scenario)} is not one of ${SCENARIOS.join(', ')}`);
    process.exit(2);
  }
  const timeScale = Number(get('time-scale') ?? '60');
  if (!Number.isFinite(timeScale) || timeScale <= 0) {
    console.error(`demo: --time-scale ${JSON.stringify(get('time-scale'))} is not a positive number`);
    process.exit(2);
  }
  const out = resolve(get('out') ?? join(repo, 'demo-output', `${compactTimestamp(new Date())}-${scenario}`));
  return { scenario, out, timeScale, repo };
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const probe = createServer();
    probe.once('error', rej);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => res(port));
    });
  });
}

const started = Date.now();
const children: ChildProcess[] = [];
const steps: Array<{ step: string; at: string; detail: string }> = [];
function step(name: string, detail = ''): void {
  const at = `${((Date.now() - started) / 1000).toFixed(1)}s`;
  steps.push({ step: name, at, detail });
  console.log(`\n[${at.padStart(6)}] ▶ ${name}${detail ? ` — ${detail}` : ''}`);
}
function info(line: string): void {
  console.log(`          ${line}`);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

async function waitHealthy(url: string, version: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const body = (await (await fetch(url, { signal: AbortSignal.timeout(1000) })).json()) as {
        version?: string;
      };
      if (body.version === version) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not report version ${version} within ${timeoutMs / 1000}s`);
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const service = join(args.repo, 'examples', 'dhash-service', 'src');
  const out = args.out;
  const root = join(out, 'dhash-production');
  const backups = join(out, 'backups');
  mkdirSync(backups, { recursive: true });
  console.log(
    `Guarded rollout demo — scenario ${args.scenario}, monitoring compressed ${args.timeScale}× (1 virtual minute per ${(60 / args.timeScale).toFixed(1)} s)`,
  );
  console.log(`Output: ${out}`);

  const sinks = await startSinks(join(out, 'sinks'));
  // A port nothing listens on: the generic webhook is the deliberately unreachable channel.
  const deadPort = await freePort();
  const channelEnv: NodeJS.ProcessEnv = {
    SLACK_WEBHOOK_URL: sinks.urls.slack,
    TEAMS_WEBHOOK_URL: sinks.urls.teams,
    DISCORD_WEBHOOK_URL: sinks.urls.discord,
    NOTIFY_WEBHOOK_URL: `http://127.0.0.1:${deadPort}/unreachable-webhook`,
    SMTP_URL: sinks.smtpUrl,
    NOTIFY_EMAIL_TO: 'oncall@dhash.local',
    NOTIFY_EMAIL_FROM: 'guarded-rollout@dhash.local',
  };
  const fallbackDir = join(out, 'notify-fallback');
  const notify = packageNotifier({
    environment: 'production',
    env: channelEnv,
    fallbackDir,
    budgetMs: 8000,
    attemptTimeoutMs: 2000,
  });
  let exitCode = 1;
  let summary: MonitorSummary | undefined;
  const backup = { path: '', sha256: '' };
  const verdict: string[] = [];
  try {
    step('start release 1.0.0 under a local supervisor');
    const faultArg = args.scenario === 'healthy' ? 'none' : args.scenario;
    // The fault starts 2 s (2 virtual minutes at 60×) after the new release starts.
    const onset = String(Math.max(1, Math.round(120 / args.timeScale)));
    const init = spawnSync(
      process.execPath,
      [join(service, 'ctl.mjs'), 'init', '--root', root, '--fault', faultArg, '--onset', onset],
      { encoding: 'utf8' },
    );
    if (init.status !== 0) throw new Error(`init failed: ${init.stderr}`);
    const port = await freePort();
    const supervisor = spawn(
      process.execPath,
      [
        join(service, 'supervisor.mjs'),
        '--root',
        root,
        '--port',
        String(port),
        '--log',
        join(out, 'service.log'),
      ],
      { stdio: 'ignore' },
    );
    children.push(supervisor);
    const base = `http://127.0.0.1:${port}`;
    await waitHealthy(`${base}/health`, '1.0.0', 10_000);
    info(`DHash 1.0.0 healthy at ${base} (JSON logs: ${join(out, 'service.log')})`);

    step('start live traffic', '4 workers posting the sample images to POST /hash');
    const traffic = spawn(process.execPath, [join(service, 'traffic.mjs'), '--url', base, '--workers', '4'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    children.push(traffic);
    await new Promise((r) => setTimeout(r, 1500));

    step('notify deploy-started');
    const startedNote = await notify('deploy-started', {
      version: '1.1.0',
      previousVersion: '1.0.0',
      deploymentType: 'standard',
      message: `demo scenario ${args.scenario}`,
    });
    info(`delivered: ${JSON.stringify(startedNote.delivered)}`);

    step(
      'backup (+sha256)',
      'packages/archive: zip with manifest; its .sha256 is written before the zip takes its name',
    );
    // Live traffic keeps appending to data/hashes.jsonl, and the archive rightly refuses a file
    // that changes while it is read; so, like a database dump, take a point-in-time copy first and
    // back that up. supervisor.json is deployment state too: the restart after a restore needs it.
    const snapshot = join(out, 'snapshot');
    cpSync(root, snapshot, { recursive: true });
    const made = await createBackup({
      environment: 'production',
      paths: ['active-release', 'releases.json', 'data', 'supervisor.json'],
      baseDir: snapshot,
      outDir: backups,
      prefix: 'dhash',
      version: '1.0.0',
      cwd: out,
    });
    rmSync(snapshot, { recursive: true, force: true });
    backup.path = made.backupPath;
    backup.sha256 = made.sha256;
    // The seed's runbook check, verbatim, from the output directory.
    const check = spawnSync(
      'sh',
      [
        '-c',
        'LATEST_BACKUP=$(ls -1 backups/dhash_*.zip | sort -r | head -n1); sha256sum -c "${LATEST_BACKUP}.sha256"',
      ],
      { cwd: out, encoding: 'utf8' },
    );
    info(
      `${backup.path} (${made.fileCount} files, ${made.sizeBytes} bytes)\n          sha256 ${backup.sha256} (${check.status === 0 ? `runbook check: ${check.stdout.trim()}` : `sha256sum -c did not pass: ${check.stdout}${check.stderr}`})`,
    );
    if (check.status !== 0 && !/not found/.test(check.stderr))
      throw new Error('the new backup failed its checksum');

    // Baseline gates compare the new release with the old one: record how 1.0.0 behaves under this
    // traffic for the 15 (virtual) minutes before the deploy, from the same /metrics the watch reads.
    let configFile = join(args.repo, 'quality-gates-config.json');
    let baseline: BaselineSnapshot | undefined;
    if (WITH_BASELINE_GATES.includes(args.scenario)) {
      const shipped = JSON.parse(readFileSync(configFile, 'utf8')) as {
        $schema?: string;
        defaults: { gates: Record<string, unknown> };
      };
      delete shipped.$schema;
      const extra = JSON.parse(
        readFileSync(join(args.repo, 'examples', 'dhash-service', 'baseline-gates.json'), 'utf8'),
      ) as Record<string, unknown>;
      shipped.defaults.gates = { ...shipped.defaults.gates, ...extra };
      configFile = join(out, 'quality-gates-with-baseline.json');
      writeFileSync(configFile, `${JSON.stringify(shipped, null, 2)}\n`);
      const gates = parseGatesConfig(JSON.stringify(shipped), 'production', configFile);
      step(
        'record the pre-deploy baseline',
        `${gates.baselineGates!.length} baseline gates; 15 virtual minutes of /metrics from release 1.0.0`,
      );
      baseline = await recordBaseline({
        gates: gates.baselineGates!,
        metricsUrl: `${base}/metrics`,
        timeScale: args.timeScale,
        intervalMs: 30_000,
        outFile: join(out, 'baseline.json'),
        log: (line) => info(line),
      });
    }

    step(
      'deploy release 1.1.0',
      args.scenario === 'healthy'
        ? 'a healthy release'
        : `carrying the "${args.scenario}" fault from ${onset}s after start`,
    );
    const deploy = spawnSync(
      process.execPath,
      [join(service, 'ctl.mjs'), 'deploy', '--root', root, '--version', '1.1.0'],
      { encoding: 'utf8' },
    );
    if (deploy.status !== 0) throw new Error(`deploy failed: ${deploy.stderr}`);
    info(deploy.stdout.trim());

    step('monitor the quality gates', `production gates, 60-minute window compressed ${args.timeScale}×`);
    const outcome = await watchDeployment({
      environment: 'production',
      configFile,
      ...(baseline ? { baseline } : {}),
      healthUrl: `${base}/health`,
      metricsUrl: `${base}/metrics`,
      timeScale: args.timeScale,
      autoRollback: true,
      // The rollback action's code: verify, restore all-or-nothing, restart, 3 OK health checks.
      rollback: archiveRollback({
        environment: 'production',
        latest: true,
        backupDir: backups,
        prefix: 'dhash',
        target: root,
        restartCommand: `${shellQuote(process.execPath)} ${shellQuote(join(service, 'ctl.mjs'))} restart --root ${shellQuote(root)}`,
        healthUrl: `${base}/health`,
        health: { required: 3, intervalMs: 300, timeoutMs: 2000, deadlineMs: 20_000 },
        cwd: out,
        logDir: out,
      }),
      notify,
      outDir: join(out, 'monitor_logs'),
      log: (line) => info(line),
    });
    summary = outcome.summary;

    step('stop traffic');
    await stopChild(traffic);
    const health = (await (await fetch(`${base}/health`, { signal: AbortSignal.timeout(2000) })).json()) as {
      version?: string;
      status?: string;
    };
    info(`service now runs ${health.version} (${health.status})`);

    // Did the demo behave as designed?
    if (args.scenario === 'healthy') {
      if (summary.result === 'passed') verdict.push('healthy release passed the full window');
      else verdict.push(`UNEXPECTED: healthy release ended ${summary.result} (${summary.reason})`);
      if (health.version !== '1.1.0')
        verdict.push(`UNEXPECTED: ${health.version} is running instead of 1.1.0`);
    } else {
      const gate = EXPECTED_GATE[args.scenario];
      if (summary.result === 'violated' && summary.violations.some((v) => v.gate === gate))
        verdict.push(`${gate} tripped as designed`);
      else verdict.push(`UNEXPECTED: expected ${gate} to trip; result ${summary.result} (${summary.reason})`);
      if (WITH_BASELINE_GATES.includes(args.scenario)) {
        // The point of the scenario: the fixed (seed) gates all say ok, only the baseline catches it.
        const fixed = summary.gates.filter((g) => g.kind !== 'baseline');
        const notOk = fixed.filter((g) => g.status !== 'ok');
        if (notOk.length === 0)
          verdict.push(
            `every fixed gate said ok (${fixed.map((g) => `${g.gate} ${g.valueText}`).join(', ')})`,
          );
        else
          verdict.push(
            `UNEXPECTED: fixed gates not ok: ${notOk.map((g) => `${g.gate} ${g.status}`).join(', ')}`,
          );
      }
      if (summary.rollback?.status === 'succeeded' && (summary.rollback.healthChecksOk ?? 0) >= 3)
        verdict.push('rollback restored 1.0.0 and passed 3 consecutive OK health checks');
      else verdict.push(`UNEXPECTED: rollback ${summary.rollback?.status ?? 'not run'}`);
      if (health.version !== '1.0.0')
        verdict.push(`UNEXPECTED: ${health.version} is running instead of 1.0.0`);
    }
    const fallbackFile = join(fallbackDir, 'notifications.jsonl');
    // The file journals every message (pending → delivered/failed); count the undelivered ones.
    const last = new Map<string, string>();
    if (existsSync(fallbackFile))
      for (const line of readFileSync(fallbackFile, 'utf8').trim().split('\n')) {
        const e = JSON.parse(line) as { dedupeKey: string; channel: string; status: string };
        last.set(`${e.dedupeKey} ${e.channel}`, e.status);
      }
    const fallbackLines = [...last.values()].filter((s) => s !== 'delivered').length;
    if (sinks.received.slack && sinks.received.teams && sinks.received.discord && sinks.received.email)
      verdict.push('Slack, Teams, Discord and email sinks received every event');
    else verdict.push(`UNEXPECTED: sinks received ${JSON.stringify(sinks.received)}`);
    if (fallbackLines > 0)
      verdict.push(
        `${fallbackLines} undelivered message(s) from the unreachable webhook kept in ${fallbackFile}`,
      );
    else verdict.push('UNEXPECTED: nothing reached the fallback file');
    exitCode = verdict.some((v) => v.startsWith('UNEXPECTED')) ? 1 : 0;
  } catch (error) {
    verdict.push(`UNEXPECTED: ${(error as Error).message}`);
    console.error(`demo failed: ${(error as Error).message}`);
  } finally {
    step('clean up', 'stop the service, supervisor and sinks');
    for (const child of children.reverse()) await stopChild(child);
    await sinks.close();
  }

  step('final report');
  const report = {
    scenario: args.scenario,
    timeScale: args.timeScale,
    durationSeconds: Math.round((Date.now() - started) / 100) / 10,
    behavedAsDesigned: exitCode === 0,
    verdict,
    steps,
    backup,
    notifications: {
      received: sinks.received,
      sinks: join(out, 'sinks'),
      fallback: join(fallbackDir, 'notifications.jsonl'),
    },
    monitor: summary ?? null,
  };
  writeFileSync(join(out, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  const md = [
    `# Guarded rollout demo — ${args.scenario}`,
    '',
    `${exitCode === 0 ? '✅ behaved as designed' : '❌ did not behave as designed'} in ${report.durationSeconds}s.`,
    '',
    ...verdict.map((v) => `- ${v}`),
    '',
    '| step | at | detail |',
    '|---|---|---|',
    ...steps.map((s) => `| ${s.step} | ${s.at} | ${s.detail.replace(/\|/g, '\\|')} |`),
    '',
    `Backup: \`${basename(backup.path)}\` sha256 \`${backup.sha256}\``,
    '',
    `Notifications received by the sinks: ${Object.entries(sinks.received)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}.`,
    '',
    summary ? readFileSync(summary.reports.markdown, 'utf8') : '(monitoring did not run)',
  ].join('\n');
  writeFileSync(join(out, 'report.md'), md);
  const monitorHtml = summary
    ? readFileSync(summary.reports.html, 'utf8')
    : '<!doctype html><html><body></body></html>';
  const esc = (t: string): string =>
    t.replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]!);
  const demoSection = `<section><h1>Guarded rollout demo — ${esc(args.scenario)}</h1><p>${exitCode === 0 ? '✅ behaved as designed' : '❌ did not behave as designed'} in ${report.durationSeconds}s.</p><ul>${verdict.map((v) => `<li>${esc(v)}</li>`).join('')}</ul><table><tr><th>step</th><th>at</th><th>detail</th></tr>${steps.map((s) => `<tr><td>${esc(s.step)}</td><td>${s.at}</td><td>${esc(s.detail)}</td></tr>`).join('')}</table><p>Backup <code>${esc(basename(backup.path))}</code> sha256 <code>${backup.sha256}</code></p></section>`;
  writeFileSync(join(out, 'report.html'), monitorHtml.replace('<body>', `<body>\n${demoSection}`));
  for (const v of verdict) console.log(`          ${v.startsWith('UNEXPECTED') ? '✗' : '✓'} ${v}`);
  console.log(
    `\nReport: ${join(out, 'report.md')}\n        ${join(out, 'report.json')}\n        ${join(out, 'report.html')}`,
  );
  console.log(
    `Demo ${exitCode === 0 ? 'behaved as designed' : 'did NOT behave as designed'} in ${formatDuration(Date.now() - started)}.`,
  );
  return exitCode;
}

// Leave nothing running, whatever happens.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    for (const child of children) child.kill('SIGTERM');
    process.exit(130);
  });
}
main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    for (const child of children) child.kill('SIGKILL');
    process.exit(1);
  },
);
