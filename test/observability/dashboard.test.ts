import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, harness } from '../server/helpers.js';

const FILE = path.join(import.meta.dirname, '..', '..', 'docs', 'grafana-dashboard.json');

interface Target {
  refId?: unknown;
  expr?: unknown;
  datasource?: { type?: unknown; uid?: unknown };
}
interface Panel {
  id?: unknown;
  type?: unknown;
  title?: unknown;
  gridPos?: { h?: unknown; w?: unknown; x?: unknown; y?: unknown };
  targets?: Target[];
}

/** Series a histogram family exposes besides its name. */
const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count'];
/** The dashboard's datasource variable, as Grafana spells a reference to it. */
const DATASOURCE = { type: 'prometheus', uid: ['$', '{datasource}'].join('') };

let h: Harness;
/** Metric families `GET /metrics` declares (`# TYPE name kind`). */
let families: Map<string, string>;

beforeAll(async () => {
  h = await harness();
  // The fleet's series exist on a PostgreSQL control store; declared here with an empty queue.
  h.deps.metrics?.observeFleet({ jobCounts: async () => [] });
  const res = await h.app.request('/metrics', {}, { incoming: { socket: { remoteAddress: '127.0.0.1' } } });
  expect(res.status).toBe(200);
  families = new Map(
    [...(await res.text()).matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1] ?? '', m[2] ?? '']),
  );
});
afterAll(async () => {
  await h.close();
});

/** The family a series name of an expression belongs to, or undefined when the server has none. */
function familyOf(series: string): string | undefined {
  if (families.has(series)) return series;
  for (const suffix of HISTOGRAM_SUFFIXES) {
    const base = series.endsWith(suffix) ? series.slice(0, -suffix.length) : undefined;
    if (base !== undefined && families.get(base) === 'histogram') return base;
  }
  return undefined;
}

describe('docs/grafana-dashboard.json', () => {
  const dashboard = JSON.parse(fs.readFileSync(FILE, 'utf8')) as {
    title?: unknown;
    uid?: unknown;
    schemaVersion?: unknown;
    panels?: Panel[];
    templating?: { list?: Array<{ name?: unknown; query?: unknown; definition?: unknown }> };
  };
  const panels = dashboard.panels ?? [];
  const graphs = panels.filter((p) => p.type !== 'row');
  const exprs = graphs.flatMap((p) => (p.targets ?? []).map((t) => String(t.expr)));

  it('is a Grafana dashboard: title, uid, schema version, panels with unique ids and grid positions', () => {
    expect(dashboard.title).toBe('ashpipe');
    expect(typeof dashboard.uid).toBe('string');
    expect(typeof dashboard.schemaVersion).toBe('number');
    expect(graphs.length).toBeGreaterThan(10);
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of panels) {
      expect(typeof p.title, String(p.id)).toBe('string');
      const g = p.gridPos ?? {};
      for (const k of ['h', 'w', 'x', 'y'] as const)
        expect(typeof g[k], `${p.title} gridPos.${k}`).toBe('number');
      expect(Number(g.x) + Number(g.w)).toBeLessThanOrEqual(24);
    }
    for (const p of graphs) {
      expect(p.targets?.length, String(p.title)).toBeGreaterThan(0);
      for (const t of p.targets ?? []) {
        expect(typeof t.refId).toBe('string');
        expect(t.datasource).toEqual(DATASOURCE);
      }
    }
  });

  it('queries only metric families the server exposes, and shows every one of them', () => {
    const variables = (dashboard.templating?.list ?? []).map((v) => String(v.definition ?? ''));
    const used = new Set<string>();
    for (const expr of [...exprs, ...variables.filter((v) => v !== '')]) {
      const names = [...expr.matchAll(/\bashpipe_[a-z0-9_]+/g)].map((m) => m[0]);
      if (!variables.includes(expr)) expect(names.length, expr).toBeGreaterThan(0);
      for (const name of names) {
        const family = familyOf(name);
        expect(family, `${name} in ${expr}`).toBeDefined();
        used.add(family ?? '');
      }
    }
    const ours = [...families.keys()].filter((f) => f.startsWith('ashpipe_'));
    expect(ours.length).toBeGreaterThan(10);
    expect([...used].sort()).toEqual(ours.sort());
  });
});
