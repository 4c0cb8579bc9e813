import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../src/sandbox/index.js';
import { call, code, ids, walk } from './helpers.js';

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox({ scale: 450, seed: 7 });
});
afterAll(() => sandbox.close());

describe('pagination', () => {
  it('walks every candidate exactly once, in pages of at most the limit', async () => {
    const pages = await walk(sandbox, 'candidate.list', { limit: 40 });
    const seen = ids(pages);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.length).toBe(450);
    for (const p of pages) expect((p.results as unknown[]).length).toBeLessThanOrEqual(40);
  });

  it('caps limit at 100 and defaults to 100', async () => {
    const big = await call(sandbox, 'application.list', { limit: 500 });
    expect((big.body.results as unknown[]).length).toBe(100);
    const dflt = await call(sandbox, 'application.list', {});
    expect((dflt.body.results as unknown[]).length).toBe(100);
    expect(code(await call(sandbox, 'application.list', { limit: 0 }))).toBe('invalid_input');
  });

  it('returns a syncToken only on the last page', async () => {
    const pages = await walk(sandbox, 'application.list', { limit: 100 });
    expect(pages.length).toBeGreaterThan(1);
    for (const p of pages.slice(0, -1)) expect(p.syncToken).toBeUndefined();
    expect(typeof pages.at(-1)?.syncToken).toBe('string');
    expect(pages.at(-1)?.moreDataAvailable).toBe(false);
  });

  it.each([
    // The 2026 spec documents cursor and limit (or answers with nextCursor) for these.
    ['department.list', { includeArchived: true }],
    ['interviewPlan.list', { includeArchived: true }],
    ['location.list', { includeArchived: true, includeLocationHierarchy: true }],
    ['jobBoard.list', {}],
    // The reference connectors page these.
    ['archiveReason.list', { includeArchived: true }],
    ['jobPosting.list', {}],
    ['source.list', { includeArchived: true }],
    ['sourceTrackingLink.list', { includeDisabled: true }],
    ['interviewStageGroup.list', {}],
  ])('pages %s, which its 2024 contract answers in one request', async (endpoint, body) => {
    const whole = ids(await walk(sandbox, endpoint, body));
    expect(whole.length).toBeGreaterThan(1);
    // Pages of the limit asked for.
    const pages = await walk(sandbox, endpoint, { ...body, limit: 1 });
    expect(pages.length).toBe(whole.length);
    for (const p of pages.slice(0, -1)) expect(typeof p.nextCursor).toBe('string');
    expect(ids(pages)).toEqual(whole);
  });

  it("pages a schedule's interview events (2026)", async () => {
    const schedule = (sandbox.records('interviewSchedule.list') as Array<Record<string, unknown>>).find(
      (s) => (s.interviewEvents as unknown[]).length >= 3,
    );
    if (!schedule) throw new Error('no schedule with three events');
    const pages = await walk(sandbox, 'interviewEvent.list', { interviewScheduleId: schedule.id, limit: 2 });
    expect(pages.length).toBe(2);
    expect(ids(pages)).toEqual((schedule.interviewEvents as Array<{ id: string }>).map((e) => e.id));
  });

  it('rejects garbled cursors and sync tokens with their documented codes', async () => {
    expect(code(await call(sandbox, 'candidate.list', { cursor: 'garbage' }))).toBe('invalid_next_cursor');
    expect(code(await call(sandbox, 'candidate.list', { syncToken: 'garbage' }))).toBe('sync_token_invalid');
    const first = await call(sandbox, 'candidate.list', { limit: 5 });
    // A cursor of one endpoint is not valid for another.
    expect(code(await call(sandbox, 'application.list', { cursor: first.body.nextCursor }))).toBe(
      'invalid_next_cursor',
    );
  });

  it('excludes Draft jobs unless status includes Draft', async () => {
    const all = sandbox.records('job.list', {
      body: { status: ['Draft', 'Open', 'Closed', 'Archived'] },
    }) as Array<{ status: string }>;
    const dflt = sandbox.records('job.list') as Array<{ status: string }>;
    expect(all.some((j) => j.status === 'Draft')).toBe(true);
    expect(dflt.some((j) => j.status === 'Draft')).toBe(false);
    expect(dflt.length).toBe(all.filter((j) => j.status !== 'Draft').length);
  });

  it('records() equals what a full HTTP walk returns', async () => {
    const http = ids(await walk(sandbox, 'candidate.list', {}, 'sandbox-read'));
    const direct = (
      sandbox.records('candidate.list', { apiKey: 'sandbox-read' }) as Array<{ id: string }>
    ).map((r) => r.id);
    expect(http).toEqual(direct);
  });
});

describe('incremental sync', () => {
  it('returns only the records changed after the token, then nothing', async () => {
    const pages = await walk(sandbox, 'candidate.list');
    const token = String(pages.at(-1)?.syncToken);
    const before = ids(pages);
    const changed = [before[3], before[10], before[3]] as string[];
    sandbox.mutate.updateCandidate(changed[0] as string, { position: 'Updated once' });
    sandbox.mutate.updateCandidate(changed[1] as string, { position: 'Updated' });
    sandbox.mutate.updateCandidate(changed[0] as string, { position: 'Updated twice' });
    const created = await call(sandbox, 'candidate.create', {
      name: 'New Person',
      email: 'new.person@example.net',
    });
    const deleted = before[20] as string;
    sandbox.mutate.deleteCandidate(deleted);

    const inc = await walk(sandbox, 'candidate.list', { syncToken: token });
    const incIds = ids(inc);
    expect(incIds.sort()).toEqual(
      [changed[0], changed[1], (created.body.results as { id: string }).id].sort(),
    );
    const rec = inc
      .flatMap((p) => p.results as Array<{ id: string; position: string }>)
      .find((r) => r.id === changed[0]);
    expect(rec?.position).toBe('Updated twice');

    const next = await walk(sandbox, 'candidate.list', { syncToken: inc.at(-1)?.syncToken });
    expect(ids(next)).toEqual([]);

    const full = ids(await walk(sandbox, 'candidate.list'));
    expect(full).not.toContain(deleted);
    expect(full.length).toBe(450);
  });

  it('pages incremental results and still gives the token only at the end', async () => {
    const token = (await walk(sandbox, 'application.list')).at(-1)?.syncToken;
    const { changed } = sandbox.mutate.churn(0.3, 3);
    expect(changed).toBeGreaterThan(100);
    const inc = await walk(sandbox, 'application.list', { syncToken: token, limit: 50 });
    expect(inc.length).toBeGreaterThan(1);
    for (const p of inc.slice(0, -1)) expect(p.syncToken).toBeUndefined();
    const appIds = ids(inc);
    expect(new Set(appIds).size).toBe(appIds.length);
    expect(appIds.length).toBe(Math.round(sandbox.records('application.list').length * 0.3));
  });
});
