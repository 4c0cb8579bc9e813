import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANALYTICS_VIEWS } from '../../src/analytics/index.js';
import type { Sandbox } from '../../src/sandbox/index.js';
import type { Rec } from '../../src/sandbox/world.js';
import type { RunningServer } from '../../src/server/index.js';
import {
  browserSuiteRuns,
  type ConsoleSuite,
  ROOT,
  setAdminPassword,
  startConsoleSuite,
} from '../support/browser.js';
import { worldRecords } from '../support/world-oracle.js';

const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'insights');
const PASSWORD = 'insights admin password';
const STREAMS = [
  'jobs',
  'departments',
  'applications',
  'application_stage_history',
  'offers',
  'interview_schedules',
];

const runs = browserSuiteRuns('insights console test');

describe.skipIf(!runs)('the Insights page', () => {
  let suite: ConsoleSuite | undefined;
  let sandbox: Sandbox;
  let server: RunningServer;
  let page: Page;
  let home: string;
  let credentialId: string;
  let flowId: string;
  const pageErrors: string[] = [];
  let step = 0;

  const shot = async (name: string) => {
    step += 1;
    await page.screenshot({
      path: path.join(ARTIFACTS, `${String(step).padStart(2, '0')}-${name}.png`),
      fullPage: true,
    });
  };
  const fitsWidth = () =>
    page.evaluate<boolean>('document.documentElement.scrollWidth <= document.documentElement.clientWidth');

  // --- the answers, from the sandbox's world directly (never from the views) --------------------------

  const apps = () => worldRecords(sandbox.world, 'application');
  const jobs = () => worldRecords(sandbox.world, 'job');
  const jobIdOf = (a: Rec) => String((a.job as Rec | undefined)?.id ?? a.jobId);
  const historyOf = (a: Rec): Rec[] =>
    Array.isArray(a.applicationHistory) ? (a.applicationHistory as Rec[]) : sandbox.world.historyOf(a);

  /** Per stage title: applications of the jobs `keep` admits that entered the stage. */
  function funnel(keep: (jobId: string) => boolean): Record<string, number> {
    const out: Record<string, number> = {};
    for (const a of apps().filter((x) => keep(jobIdOf(x)))) {
      const stages = new Map(historyOf(a).map((e) => [String(e.stageId), String(e.title)]));
      for (const title of stages.values()) out[title] = (out[title] ?? 0) + 1;
    }
    return out;
  }

  /** Stays that ended, of the jobs `keep` admits. */
  const stays = (keep: (jobId: string) => boolean) =>
    apps()
      .filter((a) => keep(jobIdOf(a)))
      .reduce((n, a) => n + historyOf(a).filter((e) => typeof e.leftStageAt === 'string').length, 0);

  /** Hired applications: their source's title and the day they entered their latest stage. */
  const hires = () =>
    apps()
      .filter((a) => a.status === 'Hired')
      .map((a) => {
        const latest = [...historyOf(a)].sort((x, y) =>
          String(y.enteredStageAt).localeCompare(String(x.enteredStageAt)),
        )[0];
        const source = a.source as Rec | undefined;
        return {
          source: typeof source?.title === 'string' ? source.title : 'No source',
          day: String(latest?.enteredStageAt).slice(0, 10),
        };
      });

  /** How the page names a job: by title, with status and the id's end where two jobs share the title. */
  const jobName = (j: Rec) =>
    jobs().filter((o) => o.title === j.title).length > 1
      ? `${String(j.title)} (${String(j.status)} …${j.id.slice(-4)})`
      : String(j.title);

  const countBy = (items: string[]) => {
    const out: Record<string, number> = {};
    for (const i of items) out[i] = (out[i] ?? 0) + 1;
    return out;
  };

  // --- the page's numbers, read from its tables --------------------------------------------------------

  /** The rows of a table as its cells' text. */
  const table = (label: string) =>
    page
      .getByRole('table', { name: label })
      .locator('tbody tr')
      .evaluateAll((rows) =>
        rows.map((r) => [...r.querySelectorAll('th, td')].map((c) => (c.textContent ?? '').trim())),
      );
  /** First column → the numeric column `col`, summed where a key repeats. */
  const keyed = async (label: string, col: number) => {
    const out: Record<string, number> = {};
    for (const r of await table(label)) out[r[0] ?? ''] = (out[r[0] ?? ''] ?? 0) + Number(r[col]);
    return out;
  };
  const funnelShown = () => keyed('Funnel numbers', 1);
  const hiresShown = async () => {
    const out: Record<string, number> = {};
    for (const [, source, n] of await table('Hires by source numbers'))
      out[source ?? ''] = (out[source ?? ''] ?? 0) + Number(n);
    return out;
  };
  const staysShown = async () => (await table('Time in stage numbers')).reduce((n, r) => n + Number(r[1]), 0);

  async function runFlow(id: string) {
    const run = await server.deps.scheduler.trigger(id, 'manual');
    const done = await server.deps.scheduler.waitFor(run.id);
    expect(done?.errors).toEqual([]);
    expect(done?.status).toBe('succeeded');
    return run.id;
  }

  beforeAll(async () => {
    suite = await startConsoleSuite({
      artifacts: 'insights',
      // Scale 100: 5 jobs in 3 departments, 130 applications with their stage history, 7 hired.
      sandbox: { scale: 100, seed: 7 },
      masterKeyByte: 9,
    });
    ({ sandbox, server, page, home } = suite);
    credentialId = (await server.deps.services.credentials.add({ name: 'sandbox', apiKey: 'sandbox-full' }))
      .id;
    flowId = (
      await server.deps.store.createFlow({
        kind: 'source',
        name: 'Hiring data',
        credentialId,
        schedule: null,
        options: {},
        streams: STREAMS,
        target: { type: 'sqlite', path: path.join(home, 'data', 'hiring.db') },
      })
    ).id;
    await runFlow(flowId);
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
  }, 180_000);

  afterAll(async () => {
    await suite?.close();
  });

  it('is reached from the flows list, and installs the views in one click', async () => {
    await setAdminPassword(page, server.url, PASSWORD);
    await page.goto(`${server.url}/#/flows`);
    await page.locator('tr[data-flow="Hiring data"]').getByRole('link', { name: 'Insights' }).click();
    await page.getByRole('heading', { level: 1, name: 'Insights — Hiring data' }).waitFor();
    const empty = page.getByTestId('insights-not-installed');
    expect(await empty.textContent()).toContain('The analytics views are not installed');
    await shot('not-installed');
    await page.getByRole('button', { name: 'Install analytics views' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Installed ${ANALYTICS_VIEWS.length} analytics views.` })
      .waitFor();
    await page.getByRole('table', { name: 'Funnel numbers' }).waitFor();
  });

  it('charts the funnel, time in stage, hires by source and open jobs with the numbers of the world', async () => {
    const all = () => true;
    expect(await funnelShown()).toEqual(funnel(all));
    // Stages in the plan's order, the archive stage after them (Ashby's stageNumber counts moves, so an
    // application archived from its second stage gives the archive stage a low number).
    // Stages live inside plans (no list of their own in the world): the first plan's stage slots.
    const planOrder = Array.from({ length: 8 }, (_, k) => sandbox.world.generate('interviewStage', k) as Rec)
      .sort(
        (x, y) =>
          Number(x.type === 'Archived') - Number(y.type === 'Archived') ||
          Number(x.orderInInterviewPlan) - Number(y.orderInInterviewPlan),
      )
      .map((st) => String(st.title));
    const shownOrder = (await table('Funnel numbers')).map((r) => r[0] ?? '');
    expect(shownOrder).toEqual([...new Set(planOrder)].filter((t) => shownOrder.includes(t)));
    expect(shownOrder.at(-1)).toBe('Archived');
    expect(await staysShown()).toBe(stays(all));
    // Every sandbox stay lasts three days: median and p90 alike.
    for (const r of await table('Time in stage numbers')) expect([r[2], r[3]]).toEqual(['3', '3']);
    expect(await hiresShown()).toEqual(countBy(hires().map((h) => h.source)));
    const open = jobs().filter((j) => j.status === 'Open');
    const active = (jobId: string) =>
      apps().filter((a) => jobIdOf(a) === jobId && a.status === 'Active').length;
    expect(await keyed('Open jobs aging numbers', 4)).toEqual(
      Object.fromEntries(open.map((j) => [jobName(j), active(j.id)])),
    );
    // Each chart is drawn, with a name for assistive technology and value labels on its bars.
    for (const id of ['insight-funnel', 'insight-time', 'insight-hires', 'insight-aging']) {
      const figure = page.getByTestId(id);
      expect(await figure.locator('[role="img"][aria-label]').count()).toBe(1);
      expect(await figure.locator('svg.recharts-surface .recharts-bar-rectangle').count()).toBeGreaterThan(0);
      expect(await figure.locator('svg.recharts-surface .recharts-label-list').count()).toBeGreaterThan(0);
    }
    // The first funnel bar's label is the first stage's count.
    const first = Object.values(await funnelShown())[0];
    expect(
      await page.getByTestId('insight-funnel').locator('.recharts-label-list text').first().textContent(),
    ).toBe(String(first));
    expect(await fitsWidth(), 'the Insights page scrolls sideways at 1366×768').toBe(true);
    await shot('all-jobs');
  });

  it('filters by department, job and date range, and the numbers follow', async () => {
    const all = jobs();
    // The department with the most jobs, and in it a job with applications.
    const departments = countBy(all.map((j) => String(j.departmentId)));
    const department = Object.entries(departments).sort((a, b) => b[1] - a[1])[0]?.[0] as string;
    const inDepartment = new Set(all.filter((j) => j.departmentId === department).map((j) => j.id));
    await page.getByLabel('Department', { exact: true }).selectOption(department);
    await expect.poll(funnelShown).toEqual(funnel((id) => inDepartment.has(id)));
    expect(await staysShown()).toBe(stays((id) => inDepartment.has(id)));
    expect(Object.keys(await keyed('Open jobs aging numbers', 4)).sort()).toEqual(
      all
        .filter((j) => j.status === 'Open' && j.departmentId === department)
        .map(jobName)
        .sort(),
    );
    await shot('department');

    const job = all.find((j) => inDepartment.has(j.id) && apps().some((a) => jobIdOf(a) === j.id)) as Rec;
    await page.getByLabel('Job', { exact: true }).selectOption(job.id);
    await expect.poll(funnelShown).toEqual(funnel((id) => id === job.id));
    expect(await staysShown()).toBe(stays((id) => id === job.id));
    await shot('job');

    await page.getByRole('button', { name: 'Clear filters' }).click();
    await expect.poll(funnelShown).toEqual(funnel(() => true));
    // From the middle hire on: only the later hires; the funnel, which has no date, stays whole.
    const days = hires()
      .map((h) => h.day)
      .sort();
    const from = days[Math.floor(days.length / 2)] as string;
    await page.getByLabel('From', { exact: true }).fill(from);
    const later = countBy(
      hires()
        .filter((h) => h.day >= from)
        .map((h) => h.source),
    );
    await expect.poll(hiresShown).toEqual(later);
    expect(Object.values(later).reduce((n, v) => n + v, 0)).toBeLessThan(hires().length);
    expect(await funnelShown()).toEqual(funnel(() => true));
    // A range before any hire: the empty state says so.
    await page.getByLabel('From', { exact: true }).fill('');
    await page.getByLabel('To', { exact: true }).fill('2000-01-01');
    await page.getByTestId('insight-hires').getByText('No hires for these filters').waitFor();
    expect(await fitsWidth(), 'the filtered Insights page scrolls sideways at 1366×768').toBe(true);
    await shot('no-hires-in-range');
  });

  it('says a JSONL flow cannot have insights', async () => {
    const files = (
      await server.deps.store.createFlow({
        kind: 'source',
        name: 'Hiring files',
        credentialId,
        schedule: null,
        options: {},
        streams: ['jobs'],
        target: { type: 'jsonl', path: path.join(home, 'data', 'files') },
      })
    ).id;
    await page.goto(`${server.url}/#/flows/${files}/insights`);
    await page.getByRole('heading', { level: 1, name: 'Insights — Hiring files' }).waitFor();
    expect(await page.getByTestId('insights-unsupported').textContent()).toContain(
      'Insights need a SQLite or PostgreSQL target.',
    );
    await shot('jsonl');
  });

  it('lists on the run page the views a run installed, and the flows list still fits', async () => {
    const withOption = (
      await server.deps.store.createFlow({
        kind: 'source',
        name: 'Hiring with analytics',
        credentialId,
        schedule: null,
        options: { analytics: true },
        streams: STREAMS,
        target: { type: 'sqlite', path: path.join(home, 'data', 'hiring-views.db') },
      })
    ).id;
    const runId = await runFlow(withOption);
    await page.goto(`${server.url}/#/runs/${runId}`);
    const listed = page.getByTestId('run-analytics');
    await listed.waitFor();
    const text = (await listed.textContent()) ?? '';
    for (const v of ANALYTICS_VIEWS) expect(text).toContain(v.name);
    expect(await fitsWidth()).toBe(true);
    await shot('run-views');
    await listed.getByRole('link', { name: 'See the insights' }).click();
    await page.getByRole('heading', { level: 1, name: 'Insights — Hiring with analytics' }).waitFor();
    await expect.poll(funnelShown).toEqual(funnel(() => true));
    await page.goto(`${server.url}/#/flows`);
    await page.locator('tr[data-flow="Hiring with analytics"]').waitFor();
    expect(await fitsWidth(), 'the flows list scrolls sideways at 1366×768').toBe(true);
    await shot('flows');
    expect(pageErrors).toEqual([]);
  });
});
