// Renders a monitor summary for people: Markdown (the job summary: a table per gate and a Mermaid
// xychart-beta of each gate over the window) and a self-contained HTML page (inline SVG charts,
// no scripts, no external assets), so the report opens anywhere, offline.
import { formatDuration } from '@guarded-rollout/config';
import { formatGateValue } from '@guarded-rollout/gates';
import type { GateSummary, MonitorSummary } from './summary.js';
import { tPlus } from './summary.js';

const ICON: Record<string, string> = {
  ok: '✅',
  violated: '❌',
  'insufficient-data': '⚠️',
  'not polled': '—',
};
const RESULT_TEXT: Record<string, string> = {
  passed: '✅ passed',
  violated: '❌ violated',
  cancelled: '⏹️ cancelled',
  error: '⚠️ error',
};

/** Ratios are charted as percentages; everything else in its own unit. */
function chartValue(g: GateSummary, v: number | null): number | null {
  if (v === null || !Number.isFinite(v)) return null;
  return g.kind === 'ratio' ? Math.round(v * 10000) / 100 : Math.round(v * 100) / 100;
}

function unitLabel(g: GateSummary): string {
  if (g.kind === 'ratio') return '%';
  if (g.kind === 'consecutive_failures') return 'failed checks in a row';
  return g.unit || 'value';
}

/** At most `max` points, keeping the first, the last and every violation. */
function downsample(series: Array<[number, number | null]>, max = 60): Array<[number, number | null]> {
  if (series.length <= max) return series;
  const step = series.length / max;
  const out: Array<[number, number | null]> = [];
  for (let i = 0; i < max; i++) out.push(series[Math.floor(i * step)]!);
  out[out.length - 1] = series[series.length - 1]!;
  return out;
}

function escapeMd(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function mermaidChart(g: GateSummary): string {
  const points = downsample(g.series);
  if (points.length === 0) return '';
  const limit = chartValue(g, g.threshold) ?? 0;
  // Mermaid lines need numbers: a poll without a value is drawn at 0 and named so in the table.
  const values = points.map(([, v]) => chartValue(g, v) ?? 0);
  const top = Math.max(limit * 1.5, ...values) || 1;
  const labels = points.map(([at]) => `"${(at / 60_000).toFixed(at % 60_000 ? 1 : 0)}"`);
  return [
    '```mermaid',
    'xychart-beta',
    `    title "${g.gate} (limit ${formatGateValue({ kind: g.kind, unit: g.unit }, g.threshold).replace(/"/g, "'")})"`,
    `    x-axis "minutes since deploy" [${labels.join(', ')}]`,
    `    y-axis "${unitLabel(g)}" 0 --> ${Math.ceil(top)}`,
    `    line [${values.join(', ')}]`,
    `    line [${values.map(() => limit).join(', ')}]`,
    '```',
  ].join('\n');
}

export function renderMarkdown(s: MonitorSummary): string {
  const lines: string[] = [];
  lines.push(`## Monitor gates: ${s.environment} — ${RESULT_TEXT[s.result] ?? s.result}`);
  lines.push('');
  lines.push(`${escapeMd(s.reason)}.`);
  lines.push('');
  lines.push(
    `Watched T+0 → ${tPlus(s.elapsedMs)} of a ${formatDuration(s.windowMs)} window, ${s.polls} polls via ${s.provider}` +
      `${s.timeScale !== 1 ? `, time compressed ${s.timeScale}×` : ''}; suspicion polling ${s.suspicion ? 'on' : 'off'}. Started ${s.startedAt}.`,
  );
  lines.push('');
  lines.push('| gate | limit | last value | worst | status | detected |');
  lines.push('|---|---|---|---|---|---|');
  for (const g of s.gates) {
    lines.push(
      `| ${g.gate} | ${escapeMd(g.limit)} | ${escapeMd(g.valueText)} | ${escapeMd(formatGateValue({ kind: g.kind, unit: g.unit }, g.worst))} | ${ICON[g.status] ?? ''} ${g.status} | ${tPlus(g.detectedMs)} |`,
    );
  }
  if (s.violations.length) {
    lines.push('');
    lines.push('### Violations');
    lines.push('');
    for (const v of s.violations)
      lines.push(
        `- **${v.gate}**: ${escapeMd(v.reason)} — first seen ${tPlus(v.firstSeenMs)}, confirmed ${tPlus(v.detectedMs)}`,
      );
  }
  if (s.escalations.length) {
    lines.push('');
    lines.push(
      `Escalations: ${s.escalations.map((e) => `${tPlus(e.atMs)} (${e.gates.join(', ')})`).join('; ')}.`,
    );
  }
  if (s.result === 'violated' || s.rollback) {
    lines.push('');
    lines.push('### Rollback');
    lines.push('');
    if (!s.rollback) lines.push('Rollback required; automatic rollback was not enabled for this run.');
    else
      lines.push(
        `${s.rollback.status}: ${escapeMd(s.rollback.detail)}${s.rollback.restoredFrom ? ` (restored from \`${s.rollback.restoredFrom}\`)` : ''}`,
      );
  }
  if (s.notifications.length) {
    lines.push('');
    lines.push('### Notifications');
    lines.push('');
    lines.push('| event | delivered | fallback |');
    lines.push('|---|---|---|');
    for (const n of s.notifications) {
      const channels = Object.entries(n.delivered).map(
        ([c, d]) => `${c}: ${d === true ? 'yes' : d === false ? 'no' : d}`,
      );
      lines.push(
        `| ${n.event} | ${escapeMd(channels.join(', ') || n.error || 'none')} | ${n.fallbackPath ? `\`${n.fallbackPath}\`` : ''} |`,
      );
    }
  }
  lines.push('');
  lines.push('### Gates over the window');
  for (const g of s.gates) {
    const chart = mermaidChart(g);
    if (chart) lines.push('', chart);
  }
  lines.push('');
  lines.push(`Log: \`${s.log}\` · summary: \`${s.reports.summary}\` · HTML report: \`${s.reports.html}\``);
  return `${lines.join('\n')}\n`;
}

function esc(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

function svgChart(g: GateSummary, windowMs: number): string {
  const w = 640;
  const h = 200;
  const pad = 40;
  const limit = chartValue(g, g.threshold) ?? 0;
  const values = g.series.map(([at, v]) => [at, chartValue(g, v)] as const);
  const top = Math.max(limit * 1.5, ...values.map(([, v]) => v ?? 0)) || 1;
  const x = (at: number): number => pad + ((w - 2 * pad) * at) / Math.max(windowMs, 1);
  const y = (v: number): number => h - pad + (-(h - 2 * pad) * v) / top;
  const path = values
    .filter(([, v]) => v !== null)
    .map(([at, v]) => `${x(at).toFixed(1)},${y(v!).toFixed(1)}`)
    .join(' ');
  const dots = values
    .filter(([, v]) => v !== null)
    .map(
      ([at, v]) =>
        `<circle cx="${x(at).toFixed(1)}" cy="${y(v!).toFixed(1)}" r="2.5" fill="${v! > limit ? '#c0392b' : '#2e86de'}"/>`,
    )
    .join('');
  const ticks = [0, 0.25, 0.5, 0.75, 1]
    .map(
      (f) =>
        `<text x="${x(windowMs * f)}" y="${h - pad + 16}" font-size="10" text-anchor="middle">${formatDuration(windowMs * f)}</text>`,
    )
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" role="img" aria-label="${esc(g.gate)} over the window">
<rect x="0" y="0" width="${w}" height="${h}" fill="#fff"/>
<line x1="${pad}" y1="${h - pad}" x2="${w - pad}" y2="${h - pad}" stroke="#999"/>
<line x1="${pad}" y1="${pad}" x2="${pad}" y2="${h - pad}" stroke="#999"/>
<line x1="${pad}" y1="${y(limit).toFixed(1)}" x2="${w - pad}" y2="${y(limit).toFixed(1)}" stroke="#c0392b" stroke-dasharray="6 4"/>
<text x="${w - pad}" y="${(y(limit) - 4).toFixed(1)}" font-size="10" text-anchor="end" fill="#c0392b">limit ${esc(String(limit))} ${esc(unitLabel(g))}</text>
<text x="${pad - 4}" y="${pad}" font-size="10" text-anchor="end">${esc(String(Math.ceil(top)))}</text>
<text x="${pad - 4}" y="${h - pad}" font-size="10" text-anchor="end">0</text>
<polyline fill="none" stroke="#2e86de" stroke-width="2" points="${path}"/>${dots}${ticks}
</svg>`;
}

export function renderHtml(s: MonitorSummary): string {
  const rows = s.gates
    .map(
      (g) =>
        `<tr class="${esc(g.status)}"><td>${esc(g.gate)}</td><td>${esc(g.limit)}</td><td>${esc(g.valueText)}</td><td>${esc(formatGateValue({ kind: g.kind, unit: g.unit }, g.worst))}</td><td>${ICON[g.status] ?? ''} ${esc(g.status)}</td><td>${tPlus(g.detectedMs)}</td><td>${esc(g.reason)}</td></tr>`,
    )
    .join('\n');
  const charts = s.gates
    .map(
      (g) =>
        `<figure><figcaption>${esc(g.gate)} — ${esc(g.limit)}</figcaption>${svgChart(g, s.windowMs)}</figure>`,
    )
    .join('\n');
  const violations = s.violations.length
    ? `<h2>Violations</h2><ul>${s.violations.map((v) => `<li><b>${esc(v.gate)}</b>: ${esc(v.reason)} — first seen ${tPlus(v.firstSeenMs)}, confirmed ${tPlus(v.detectedMs)} (${esc(v.detected)})</li>`).join('')}</ul>`
    : '';
  const rollback = s.rollback
    ? `<h2>Rollback</h2><p>${esc(s.rollback.status)}: ${esc(s.rollback.detail)}</p>`
    : '';
  const notes = s.notifications.length
    ? `<h2>Notifications</h2><table><tr><th>event</th><th>delivered</th><th>fallback</th></tr>${s.notifications
        .map(
          (n) =>
            `<tr><td>${esc(n.event)}</td><td>${esc(
              Object.entries(n.delivered)
                .map(([c, d]) => `${c}: ${String(d)}`)
                .join(', ') ||
                n.error ||
                'none',
            )}</td><td>${esc(n.fallbackPath ?? '')}</td></tr>`,
        )
        .join('')}</table>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Monitor gates: ${esc(s.environment)} — ${esc(s.result)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:60em;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}tr.violated td{background:#fdecea}tr.ok td:nth-child(5){color:#1e7e34}figure{margin:1em 0}figcaption{font-weight:600}.result{font-size:1.3em}</style>
</head><body>
<h1>Monitor gates: ${esc(s.environment)}</h1>
<p class="result">${esc(RESULT_TEXT[s.result] ?? s.result)} — ${esc(s.reason)}</p>
<p>Watched T+0 → ${tPlus(s.elapsedMs)} of a ${formatDuration(s.windowMs)} window; ${s.polls} polls via ${esc(s.provider)}${s.timeScale !== 1 ? `, time compressed ${s.timeScale}×` : ''}. Started ${esc(s.startedAt)}, ended ${esc(s.endedAt)}.</p>
<table><tr><th>gate</th><th>limit</th><th>last value</th><th>worst</th><th>status</th><th>detected</th><th>reason</th></tr>
${rows}
</table>
${violations}
${rollback}
${notes}
<h2>Gates over the window</h2>
${charts}
<p>Log: <code>${esc(s.log)}</code></p>
</body></html>
`;
}
