// The HTML report as a person sees it: rendered by Debian's chromium (headless) to a PNG that must
// be non-trivial and show the marks; charts span the watched range, gaps are gaps, glyphs are
// plain. The Mermaid charts of the job summary come as close as Mermaid allows.
import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { mermaidChart, renderHtml, renderMarkdown, type MonitorSummary } from '../src/index.js';

const S = 1000;
const M = 60 * S;

/** A run that ended at T+20m: escalation at T+15m, a metrics gap, a violation and a rollback. */
function summary(): MonitorSummary {
  const series = (f: (at: number) => number | null): Array<[number, number | null]> => {
    const out: Array<[number, number | null]> = [];
    for (let at = 0; at <= 20 * M; at += 15 * S) out.push([at, f(at)]);
    return out;
  };
  const gap = (at: number): boolean => at > 8 * M && at < 10 * M;
  return {
    tool: 'guarded-rollout',
    version: '0.1.0',
    environment: 'production',
    config: 'quality-gates-config.json',
    provider: 'exposition',
    result: 'violated',
    reason: 'extraction_failure_rate violated at T+20m',
    rollbackRequired: true,
    startedAt: '2026-12-06T02:00:00.000Z',
    endedAt: '2026-12-06T02:20:00.000Z',
    elapsedMs: 20 * M,
    windowMs: 60 * M,
    timeScale: 60,
    suspicion: true,
    polls: 17,
    sentinels: 64,
    violations: [
      {
        gate: 'extraction_failure_rate',
        value: 0.31,
        limit: 0.05,
        windowMs: 10 * M,
        unit: '',
        reason: 'fast burn: 19/61 = 31% over the last 1m',
        firstSeenMs: 19 * M + 30 * S,
        detectedMs: 20 * M,
        firstSeen: '2026-12-06T02:19:30.000Z',
        detected: '2026-12-06T02:20:00.000Z',
      },
    ],
    gates: [
      {
        gate: 'extraction_failure_rate',
        kind: 'ratio',
        limit: 'extractions_failed/extractions_total > 5% over 10m',
        threshold: 0.05,
        unit: '',
        status: 'violated',
        value: 0.31,
        valueText: '31%',
        worst: 0.31,
        detectedMs: 20 * M,
        reason: 'fast burn',
        series: series((at) => (gap(at) ? null : at >= 19 * M ? 0.1 + (at - 19 * M) / (4 * M) : 0.01)),
      },
      {
        gate: 'health',
        kind: 'consecutive_failures',
        limit: '> 2 consecutive non-OK health checks',
        threshold: 2,
        unit: '',
        status: 'ok',
        value: 0,
        valueText: '0',
        worst: 1,
        detectedMs: null,
        reason: 'health checks OK',
        series: series((at) => (at === 12 * M ? 1 : 0)),
      },
    ],
    escalations: [{ atMs: 15 * M, gates: ['extraction_failure_rate'] }],
    rollback: { status: 'succeeded', detail: 'restored and 3 OK health checks', healthChecksOk: 3 },
    migrationSafety: 'reversible',
    notifications: [],
    log: 'monitor_logs/production.jsonl',
    reports: { summary: 's.json', markdown: 's.md', html: 's.html' },
  };
}

/** Decodes an 8-bit RGB/RGBA, non-interlaced PNG (what chromium writes) into RGBA pixels. */
function decodePng(png: Buffer): { width: number; height: number; pixels: Buffer } {
  expect(png.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
  let offset = 8;
  let width = 0;
  let height = 0;
  let colorType = 0;
  const idat: Buffer[] = [];
  while (offset < png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.toString('latin1', offset + 4, offset + 8);
    const data = png.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      expect(data[8]).toBe(8);
      colorType = data[9]!;
      expect(data[12]).toBe(0);
    } else if (type === 'IDAT') idat.push(data);
    offset += 12 + length;
  }
  const channels = colorType === 6 ? 4 : 3;
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const out = Buffer.alloc(width * height * 4);
  let prev = Buffer.alloc(stride);
  for (let row = 0; row < height; row++) {
    const filter = raw[row * (stride + 1)]!;
    const line = Buffer.from(raw.subarray(row * (stride + 1) + 1, (row + 1) * (stride + 1)));
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? line[i - channels]! : 0;
      const b = prev[i]!;
      const c = i >= channels ? prev[i - channels]! : 0;
      const p = a + b - c;
      const pa = Math.abs(p - a);
      const pb = Math.abs(p - b);
      const pc = Math.abs(p - c);
      const paeth = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      const add = [0, a, b, (a + b) >> 1, paeth][filter]!;
      line[i] = (line[i]! + add) & 0xff;
    }
    for (let x = 0; x < width; x++) {
      for (let ch = 0; ch < 3; ch++) out[(row * width + x) * 4 + ch] = line[x * channels + ch]!;
      out[(row * width + x) * 4 + 3] = channels === 4 ? line[x * channels + 3]! : 255;
    }
    prev = line;
  }
  return { width, height, pixels: out };
}

const chromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
if (!chromium && process.env.CI === 'true') throw new Error('CI=true but Debian chromium is not installed');
const withChromium = chromium ? it : it.skip;

describe('HTML report', () => {
  const html = renderHtml(summary());

  it('spans the watched range, marks violation, escalation and rollback, draws gaps as gaps, uses plain glyphs', () => {
    expect(html).toContain('aria-label="extraction_failure_rate from T+0 to T+20m"');
    expect(html).toMatch(/>T\+20m<\/text>/); // the last tick is the end of the watch, not T+60m
    expect(html).not.toMatch(/>T\+1h<\/text>/);
    expect(html).toContain('violation T+20m');
    expect(html).toContain('escalation T+15m');
    expect(html).toContain('rollback succeeded');
    // The gap is shaded and the line is broken there: two polylines for the ratio gate.
    expect(html).toContain('<title>no data</title>');
    const ratioSvg = html.slice(html.indexOf('extraction_failure_rate from'), html.indexOf('health from'));
    expect(ratioSvg.match(/<polyline/g)).toHaveLength(2);
    expect(html).not.toMatch(/[\u{1F300}-\u{1FAFF}\u{2705}\u{274C}\u{26A0}\u{23F9}]/u);
    expect(html).not.toContain('\u{FE0F}');
    expect(html).toContain('✗ violated');
  });

  withChromium(
    'renders in headless chromium to a non-trivial screenshot showing the marks',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'report-browser-'));
      try {
        const page = join(dir, 'report.html');
        const png = join(dir, 'report.png');
        writeFileSync(page, html);
        const run = spawnSync(
          chromium!,
          [
            '--headless',
            '--no-sandbox',
            '--disable-gpu',
            '--disable-background-networking',
            '--no-first-run',
            `--user-data-dir=${join(dir, 'profile')}`,
            '--hide-scrollbars',
            '--window-size=1000,1600',
            `--screenshot=${png}`,
            `file://${page}`,
          ],
          { encoding: 'utf8', timeout: 90_000 },
        );
        expect(existsSync(png)).toBe(true);
        const { width, height, pixels } = decodePng(readFileSync(png));
        expect([width, height]).toEqual([1000, 1600]);
        const colors = new Set<number>();
        let ink = 0;
        const near = (r: number, g: number, b: number): number => {
          let n = 0;
          for (let i = 0; i < pixels.length; i += 4)
            if (Math.abs(pixels[i]! - r) + Math.abs(pixels[i + 1]! - g) + Math.abs(pixels[i + 2]! - b) < 40)
              n++;
          return n;
        };
        for (let i = 0; i < pixels.length; i += 4) {
          const [r, g, b] = [pixels[i]!, pixels[i + 1]!, pixels[i + 2]!];
          colors.add((r << 16) | (g << 8) | b);
          if (r + g + b < 600) ink++;
        }
        expect(colors.size).toBeGreaterThan(50);
        expect(ink / (width * height)).toBeGreaterThan(0.02);
        expect(near(0xc0, 0x39, 0x2b)).toBeGreaterThan(100); // violation mark + limit lines
        expect(near(0xd3, 0x54, 0x00)).toBeGreaterThan(50); // escalation marks
        expect(near(0x2e, 0x86, 0xde)).toBeGreaterThan(200); // the series
        expect(near(0x6c, 0x34, 0x83)).toBeGreaterThan(20); // rollback mark
        expect(run.status === 0 || run.status === null).toBe(true);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    120_000,
  );
});

describe('Mermaid charts in the job summary', () => {
  it('leave gaps out instead of drawing 0, label the watched range, and mark the violation with a bar', () => {
    const s = summary();
    const chart = mermaidChart(s.gates[0]!, { violationMs: 20 * M, escalationsMs: [15 * M], rollback: null });
    expect(chart).toMatch(/; \d+ poll\(s\) without data left out\)"/);
    expect(chart).toContain('bar = violation T+20m');
    const axis = /x-axis "since deploy" \[(.*)\]/.exec(chart)![1]!.split(', ');
    expect(axis[0]).toBe('"T+0"');
    expect(axis[axis.length - 1]).toBe('"T+20m"');
    expect(axis).not.toContain('"T+9m"');
    const bar = /bar \[(.*)\]/.exec(chart)![1]!.split(', ').map(Number);
    expect(bar[bar.length - 1]).toBeGreaterThan(0);
    expect(bar.slice(0, -1).every((v) => v === 0)).toBe(true);
    expect(renderMarkdown(s)).toContain('| extraction_failure_rate |');
    expect(renderMarkdown(s)).not.toMatch(/[\u{2705}\u{274C}\u{26A0}]/u);
  });
});
