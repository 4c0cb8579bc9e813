/** The key itself, users, departments, locations and hiring team roles. */
import { describeScope } from '../../ashby/catalogue.js';
import type { Handlers } from '../context.js';
import { invalidInput } from '../errors.js';
import type { Rec } from '../world/store.js';
import { flag, includeArchived, listHandler, parentId } from './lists.js';
import { all, infoOf, now, optExisting, requiredId } from './shared.js';
import { type Body, optBoolean, optString, reqEnum, reqString } from './validate.js';

export const organizationHandlers: Handlers = {
  'apiKey.info': (ctx) => ({
    results: {
      title: ctx.key.title ?? 'Sandbox key',
      createdAt: ctx.world.createdAt,
      // 2026 form (`candidates:read`), per SPEC-2026.
      scopes: ctx.key.scopes.map((s) => {
        const d = describeScope(s);
        const prefix = s.slice(0, -d.access.length);
        return `${prefix}:${d.access.toLowerCase()}`;
      }),
    },
  }),

  'user.list': listHandler({
    kind: 'user',
    filter: (rec, ctx) => flag(ctx, 'includeDeactivated') === true || rec.isEnabled !== false,
  }),
  'user.info': (ctx) => ({ results: infoOf(ctx, 'user', requiredId(ctx, 'userId')) }),
  'user.search': (ctx) => {
    const email = ctx.body.email;
    if (typeof email !== 'string') throw invalidInput('Missing required field "email"');
    return { results: ctx.world.allOf('user').filter((u) => u.email === email) };
  },
  // Nobody in the sandbox organisation has paused interviewing: the documented envelope with no
  // records, after checking the user as Ashby does.
  'user.listInterviewerPauses': (ctx) => {
    parentId(ctx, 'userId', 'user');
    return { results: [] };
  },

  // department.list and location.list take `cursor` and `limit` since 2026.
  'department.list': listHandler({ kind: 'department', paged: true, filter: includeArchived }),
  'department.info': (ctx) => ({ results: infoOf(ctx, 'department', requiredId(ctx, 'departmentId')) }),
  'department.create': (ctx) => {
    const name = reqString(ctx.body, 'name');
    const externalName = optString(ctx.body, 'externalName');
    const parent = optExisting(ctx, 'department', 'parentId');
    const rec = ctx.world.create('department', (id) => {
      const out: Rec = { id, name, isArchived: false, createdAt: now(), updatedAt: now() };
      if (parent) out.parentId = parent.id;
      if (externalName !== undefined) out.externalName = externalName;
      return out;
    });
    return { results: rec, naturalKey: name };
  },

  // Regions (the location hierarchy) only with `includeLocationHierarchy`.
  'location.list': listHandler({
    kind: 'location',
    paged: true,
    filter: all(
      includeArchived,
      (rec, ctx) => flag(ctx, 'includeLocationHierarchy') === true || rec.type !== 'LocationHierarchy',
    ),
  }),
  'location.info': (ctx) => ({ results: infoOf(ctx, 'location', requiredId(ctx, 'locationId')) }),
  'location.create': (ctx) => {
    const name = reqString(ctx.body, 'name');
    const type = reqEnum(ctx.body, 'type', ['Location', 'LocationHierarchy'] as const);
    const isRemote = optBoolean(ctx.body, 'isRemote') ?? false;
    if (isRemote && type === 'LocationHierarchy')
      throw invalidInput('"isRemote" cannot be true for a LocationHierarchy');
    const parent = optExisting(ctx, 'location', 'parentLocationId');
    const address = ctx.body.address;
    let postalAddress: Record<string, string> | undefined;
    if (address !== undefined && address !== null) {
      if (typeof address !== 'object' || Array.isArray(address))
        throw invalidInput('"address" must be an object');
      const pa = (address as Body).postalAddress;
      if (pa !== undefined && pa !== null) {
        if (typeof pa !== 'object' || Array.isArray(pa))
          throw invalidInput('"address.postalAddress" must be an object');
        postalAddress = {};
        for (const f of ['addressCountry', 'addressRegion', 'addressLocality']) {
          const v = optString(pa as Body, f);
          if (v !== undefined) postalAddress[f] = v;
        }
      }
    }
    const rec = ctx.world.create('location', (id) => {
      const out: Rec = { id, name, isArchived: false, isRemote, type };
      if (postalAddress) out.address = { postalAddress };
      if (parent) out.parentLocationId = parent.id;
      return out;
    });
    return { results: rec, naturalKey: name };
  },

  // `namesOnly` defaults to true: bare titles; `namesOnly:false` gives {id, title} (SPEC-2024/2026).
  'hiringTeamRole.list': (ctx) => {
    const namesOnly = ctx.body.namesOnly;
    if (namesOnly !== undefined && namesOnly !== null && typeof namesOnly !== 'boolean')
      throw invalidInput('"namesOnly" must be a boolean');
    const roles = ctx.world.allOf('hiringTeamRole');
    return {
      results:
        namesOnly === false ? roles.map((r) => ({ id: r.id, title: r.title })) : roles.map((r) => r.title),
    };
  },
};
