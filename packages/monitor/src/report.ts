// Renders a monitor summary for people: Markdown (the job summary: a table per gate and a Mermaid
// xychart-beta of each gate over the window) and a self-contained HTML page (inline SVG charts,
// no scripts, no external assets), so the report opens anywhere, offline.
import { formatDuration } from '@guarded-rollout/config';
import { formatGateValue } from '@guarded-rollout/gates';
import type { GateSummary, MonitorSummary } from './summary.js';
import { tPlus } from './summary.js';

// Plain glyphs every stock font has (DejaVu, Liberation): no emoji font needed in a headless
// browser or a terminal.
const ICON: Record<string, string> = {
  ok: '✓',
  violated: '✗',
  'insufficient-data': '!',
  'not polled': '–',
};
const RESULT_TEXT: Record<string, string> = {
  passed: '✓ passed',
  violated: '✗ violated',
  cancelled: '■ cancelled',
  error: '! error',
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

/** Events a chart marks: the violation, the escalations and the rollback, in virtual ms. */
interface Marks {
  violationMs: number | null;
  escalationsMs: number[];
  rollback: { atMs: number; status: string } | null;
}

function marksOf(s: MonitorSummary, g: GateSummary): Marks {
  const first = s.violations[0];
  return {
    violationMs: g.detectedMs ?? null,
    escalationsMs: s.escalations.map((e) => e.atMs),
    rollback:
      s.rollback && first
        ? { atMs: Math.max(first.detectedMs, s.elapsedMs), status: s.rollback.status }
        : null,
  };
}

/** Mermaid's xychart has no gaps and no annotations, so: the x axis is categorical and a poll
 *  without a value is left out (the line joins its neighbours; the title names the gaps), and a
 *  bar marks the poll that confirmed the violation. */
export function mermaidChart(g: GateSummary, marks?: Marks): string {
  const all = downsample(g.series);
  if (all.length === 0) return '';
  const points = all.filter(([, v]) => chartValue(g, v) !== null);
  const gaps = all.length - points.length;
  if (points.length === 0) return '';
  const limit = chartValue(g, g.threshold) ?? 0;
  const values = points.map(([, v]) => chartValue(g, v)!);
  const top = Math.ceil(Math.max(limit * 1.5, ...values) || 1);
  const labels = points.map(([at]) => `"${at === 0 ? 'T+0' : tPlus(at)}"`);
  const violationAt = marks?.violationMs ?? null;
  const notes = [
    `limit ${formatGateValue({ kind: g.kind, unit: g.unit }, g.threshold)}`,
    ...(violationAt !== null ? [`bar = violation ${tPlus(violationAt)}`] : []),
    ...(gaps ? [`${gaps} poll(s) without data left out`] : []),
  ];
  const bar =
    violationAt !== null
      ? [`    bar [${points.map(([at]) => (at === violationAt ? top : 0)).join(', ')}]`]
      : [];
  return [
    '```mermaid',
    'xychart-beta',
    `    title "${g.gate} (${notes.join('; ').replace(/"/g, "'")})"`,
    `    x-axis "since deploy" [${labels.join(', ')}]`,
    `    y-axis "${unitLabel(g)}" 0 --> ${top}`,
    ...bar,
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
    `Watched T+0 → ${tPlus(s.elapsedMs)} of a ${formatDuration(s.windowMs)} window, ${s.polls} polls${s.sentinels ? ` and ${s.sentinels} sentinel checks` : ''} via ${s.provider}` +
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
    const chart = mermaidChart(g, marksOf(s, g));
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

/** One gate over the watched range (T+0 to the last check), its limit, the gaps where a check had
 *  no value (drawn as gaps, shaded), and vertical marks for the violation, escalations and rollback. */
export function svgChart(g: GateSummary, spanMs: number, marks: Marks): string {
  const w = 720;
  const h = 220;
  const left = 48;
  const right = 16;
  const topPad = 28;
  const bottom = 36;
  const limit = chartValue(g, g.threshold) ?? 0;
  const values = g.series.map(([at, v]) => [at, chartValue(g, v)] as const);
  const top = Math.max(limit * 1.5, ...values.map(([, v]) => v ?? 0)) || 1;
  const span = Math.max(spanMs, ...values.map(([at]) => at), 1);
  const x = (at: number): number => left + ((w - left - right) * at) / span;
  const y = (v: number): number => h - bottom - ((h - bottom - topPad) * Math.min(v, top)) / top;
  const f = (n: number): string => n.toFixed(1);
  // Runs of consecutive valued points become separate polylines; a null breaks the line.
  const runs: Array<Array<readonly [number, number]>> = [];
  const gaps: Array<[number, number]> = [];
  let current: Array<readonly [number, number]> = [];
  for (let i = 0; i < values.length; i++) {
    const [at, v] = values[i]!;
    if (v === null) {
      if (current.length) runs.push(current);
      current = [];
      const from = i > 0 ? values[i - 1]![0] : at;
      const to = i + 1 < values.length ? values[i + 1]![0] : at;
      gaps.push([from, to]);
    } else current.push([at, v]);
  }
  if (current.length) runs.push(current);
  const lines = runs
    .map((run) =>
      run.length === 1
        ? ''
        : `<polyline fill="none" stroke="#2e86de" stroke-width="2" points="${run.map(([at, v]) => `${f(x(at))},${f(y(v))}`).join(' ')}"/>`,
    )
    .join('');
  const dots = runs
    .flat()
    .map(
      ([at, v]) =>
        `<circle cx="${f(x(at))}" cy="${f(y(v))}" r="2.2" fill="${v > limit ? '#c0392b' : '#2e86de'}"/>`,
    )
    .join('');
  const gapRects = gaps
    .map(
      ([from, to]) =>
        `<rect x="${f(x(from))}" y="${topPad}" width="${f(Math.max(2, x(to) - x(from)))}" height="${h - bottom - topPad}" fill="#999" fill-opacity="0.18"><title>no data</title></rect>`,
    )
    .join('');
  const vmark = (at: number, color: string, label: string, row: number, dash = ''): string =>
    `<line x1="${f(x(at))}" y1="${topPad - 4}" x2="${f(x(at))}" y2="${h - bottom}" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>` +
    `<text x="${f(Math.min(x(at) + 3, w - right - 90))}" y="${topPad - 8 + row * 11}" font-size="10" fill="${color}">${esc(label)}</text>`;
  const markSvg = [
    ...marks.escalationsMs
      .filter((m) => m <= span)
      .map((m) => vmark(m, '#d35400', `escalation ${tPlus(m)}`, 0, '4 3')),
    ...(marks.violationMs !== null
      ? [vmark(marks.violationMs, '#c0392b', `violation ${tPlus(marks.violationMs)}`, 1)]
      : []),
    ...(marks.rollback
      ? [vmark(marks.rollback.atMs, '#6c3483', `rollback ${marks.rollback.status}`, 2, '2 2')]
      : []),
  ].join('');
  const ticks = [0, 0.25, 0.5, 0.75, 1]
    .map(
      (t) =>
        `<line x1="${f(x(span * t))}" y1="${h - bottom}" x2="${f(x(span * t))}" y2="${h - bottom + 4}" stroke="#999"/><text x="${f(x(span * t))}" y="${h - bottom + 16}" font-size="10" text-anchor="${t === 0 ? 'start' : t === 1 ? 'end' : 'middle'}">${t === 0 ? 'T+0' : tPlus(Math.round(span * t))}</text>`,
    )
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="${esc(g.gate)} from T+0 to ${tPlus(span)}">
<rect x="0" y="0" width="${w}" height="${h}" fill="#fff"/>
<line x1="${left}" y1="${h - bottom}" x2="${w - right}" y2="${h - bottom}" stroke="#999"/>
<line x1="${left}" y1="${topPad}" x2="${left}" y2="${h - bottom}" stroke="#999"/>
${gapRects}
<line x1="${left}" y1="${f(y(limit))}" x2="${w - right}" y2="${f(y(limit))}" stroke="#c0392b" stroke-dasharray="6 4"/>
<text x="${w - right}" y="${f(y(limit) - 4)}" font-size="10" text-anchor="end" fill="#c0392b">limit ${esc(String(limit))} ${esc(unitLabel(g))}</text>
<text x="${left - 4}" y="${topPad + 4}" font-size="10" text-anchor="end">${esc(String(Math.ceil(top)))}</text>
<text x="${left - 4}" y="${h - bottom}" font-size="10" text-anchor="end">0</text>
${lines}${dots}${markSvg}${ticks}
<text x="${(w + left) / 2}" y="${h - 4}" font-size="10" text-anchor="middle" fill="#555">time since deploy (watched T+0 to ${tPlus(span)}; shaded: no data)</text>
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
        `<figure><figcaption>${esc(g.gate)} — ${esc(g.limit)}</figcaption>${svgChart(g, s.elapsedMs, marksOf(s, g))}</figure>`,
    )
    .join('\n');
  const violations = s.violations.length
    ? `<h2>Violations</h2><ul>${s.violations.map((v) => `<li><b>${esc(v.gate)}</b>: ${esc(v.reason)} — first seen ${tPlus(v.firstSeenMs)}, confirmed ${tPlus(v.detectedMs)} (${esc(v.detected)})</li>`).join('')}</ul>`
    : '';
  const rollback = s.rollback
    ? `<h2>Rollback</h2><p>${esc(s.rollback.status)}: ${esc(s.rollback.detail)}</p>`
    : '';
  const escalations = s.escalations.length
    ? `<h2>Escalations</h2><ul>${s.escalations.map((e) => `<li>${tPlus(e.atMs)}: ${esc(e.gates.join(', '))}</li>`).join('')}</ul>`
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
<style>body{font-family:'DejaVu Sans','Liberation Sans',Arial,sans-serif;margin:2em;max-width:60em;color:#222}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top;overflow-wrap:anywhere}td:last-child{min-width:14em}tr.violated td{background:#fdecea}tr.ok td:nth-child(5){color:#1e7e34}figure{margin:1em 0}figcaption{font-weight:600}.result{font-size:1.3em}</style>
</head><body>
<h1>Monitor gates: ${esc(s.environment)}</h1>
<p class="result">${esc(RESULT_TEXT[s.result] ?? s.result)} — ${esc(s.reason)}</p>
<p>Watched T+0 → ${tPlus(s.elapsedMs)} of a ${formatDuration(s.windowMs)} window; ${s.polls} polls${s.sentinels ? ` and ${s.sentinels} sentinel check${s.sentinels === 1 ? '' : 's'}` : ''} via ${esc(s.provider)}${s.timeScale !== 1 ? `, time compressed ${s.timeScale}×` : ''}. Started ${esc(s.startedAt)}, ended ${esc(s.endedAt)}.</p>
<table><tr><th>gate</th><th>limit</th><th>last value</th><th>worst</th><th>status</th><th>detected</th><th>reason</th></tr>
${rows}
</table>
${violations}
${escalations}
${rollback}
${notes}
<h2>Gates over the window</h2>
${charts}
<p>Log: <code>${esc(s.log)}</code></p>
</body></html>
`;
}
