import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { ConfigError } from '@guarded-rollout/config';
import { buildEventContext, compileTemplate, EVENTS, loadTemplates } from '../src/index.js';
import { message, TEMPLATE_DIR, templates, VIOLATION_DETAILS } from './fixtures.js';

function overrideDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'notify-tpl-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

describe('event templates', () => {
  it('ships one template per event and every one renders with no details at all', () => {
    for (const event of EVENTS) {
      const m = message(event);
      expect(m.title.length).toBeGreaterThan(0);
      expect(m.title).not.toMatch(/\{\{|undefined|null/);
      expect(m.body).not.toMatch(/\{\{|undefined|null/);
    }
  });

  it('renders a gate violation with each gate value against its limit and the runbook', () => {
    const m = message('gate-violation', VIOLATION_DETAILS);
    expect(m.title).toBe('🚨 Quality gate violated: production 1.4.2');
    expect(m.body).toContain('- **p95_hash_time**: 2400 ms (limit > 2000 ms over 15m)');
    expect(m.body).toContain(
      '- **extraction_failure_rate**: 0.083 (limit > 0.05) — 8.3% of 1200 requests failed',
    );
    expect(m.body).toContain('Automatic rollback is starting.');
    expect(m.body).toContain('sha256sum -c "${LATEST_BACKUP}.sha256"');
    expect(m.body).toContain('[Open the workflow run](https://github.com/acme/dhash/actions/runs/42)');
  });

  it('renders the rollback, escalation and T+60 report fields', () => {
    expect(
      message('rollback-started', {
        backup: 'backups/dhash_production_20261123T120000Z.zip',
        reason: 'gate violated',
      }).body,
    ).toContain('using backup `backups/dhash_production_20261123T120000Z.zip`');
    expect(message('escalation', { stage: 'T+15', elapsed: '15m' }).title).toContain('Monitoring T+15');
    expect(message('monitoring-complete', { result: 'passed', duration: '60m' }).title).toBe(
      '📊 Monitoring complete: production — passed',
    );
    expect(message('custom', { title: 'Maintenance window', message: 'DB upgrade at 14:00' }).title).toBe(
      'Maintenance window',
    );
  });

  it('refuses at load time a template that references an unknown field, naming file, line and field', () => {
    const dir = overrideDir({
      'deploy-started.hbs': '# Deploy {{environment}}\n\nby {{actor}} of {{verison}}\n',
    });
    expect(() => loadTemplates({ defaultDir: TEMPLATE_DIR, overrideDir: dir })).toThrow(ConfigError);
    expect(() => loadTemplates({ defaultDir: TEMPLATE_DIR, overrideDir: dir })).toThrow(
      /deploy-started\.hbs: line 3: \{\{verison\}\} is not a field; fields of event "deploy-started": .*version/,
    );
  });

  it("checks fields inside #each against the list item and other events' fields against their own event", () => {
    expect(() =>
      compileTemplate('gate-violation', '# x\n{{#each violatedGates}}{{gate}} {{valeu}}{{/each}}'),
    ).toThrow(/\{\{valeu\}\} is not a field of the list item \(gate, status, value, limit, reason\)/);
    expect(() => compileTemplate('deploy-started', '# x\n{{#each violatedGates}}{{gate}}{{/each}}')).toThrow(
      /\{\{violatedGates\}\} is not a field/,
    );
    expect(() => compileTemplate('deploy-started', '# x\n{{#each environment}}{{this}}{{/each}}')).toThrow(
      /needs a list field/,
    );
    expect(() => compileTemplate('deploy-started', '# x\n{{lookup environment 1}}')).toThrow(
      /helpers are not supported/,
    );
    expect(() => compileTemplate('deploy-started', '# x\n{{> partial}}')).toThrow(
      /PartialStatement is not supported/,
    );
    expect(() => compileTemplate('deploy-started', '# x\n{{#if environment}')).toThrow(
      /template syntax error/,
    );
    expect(() =>
      compileTemplate(
        'gate-violation',
        '# x\n{{#each violatedGates}}{{@index}} {{../environment}} {{@root.version}}{{/each}}',
      ),
    ).not.toThrow();
  });

  it('lets a user override one event and keeps the shipped templates for the rest', () => {
    const dir = overrideDir({
      'deploy-started.hbs': '# Shipping {{version}} to {{environment}}\nHi {{actor}}',
      'README.md': 'ignored',
    });
    const set = loadTemplates({ defaultDir: TEMPLATE_DIR, overrideDir: dir });
    const ctx = buildEventContext({
      event: 'deploy-started',
      environment: 'staging',
      details: { version: 'v2', actor: 'me' },
      timestamp: 't',
      dedupeKey: 'k',
    });
    expect(set['deploy-started'](ctx)).toEqual({ title: 'Shipping v2 to staging', body: 'Hi me' });
    const ctx2 = buildEventContext({
      event: 'deploy-failed',
      environment: 'staging',
      details: {},
      timestamp: 't',
      dedupeKey: 'k',
    });
    expect(set['deploy-failed'](ctx2).title).toBe(templates['deploy-failed'](ctx2).title);
  });

  it('refuses an override file not named after an event, and a missing override directory', () => {
    const dir = overrideDir({ 'deploy-strated.hbs': '# x' });
    expect(() => loadTemplates({ defaultDir: TEMPLATE_DIR, overrideDir: dir })).toThrow(
      /"deploy-strated\.hbs" is not named after an event/,
    );
    expect(() => loadTemplates({ defaultDir: TEMPLATE_DIR, overrideDir: join(dir, 'nope') })).toThrow(
      /template directory does not exist/,
    );
  });

  it('names the details field whose type is wrong', () => {
    expect(() =>
      buildEventContext({
        event: 'gate-violation',
        environment: 'p',
        details: { violatedGates: 'p95' },
        timestamp: 't',
        dedupeKey: 'k',
      }),
    ).toThrow(/details\.violatedGates: must be a list of gates/);
    expect(() =>
      buildEventContext({
        event: 'deploy-started',
        environment: 'p',
        details: { version: { major: 1 } },
        timestamp: 't',
        dedupeKey: 'k',
      }),
    ).toThrow(/details\.version: \{"major":1\} is not text or a number/);
  });
});
