/** Candidates, their notes, tags, projects and the clients their applications came from. */
import type { Handlers, RequestContext } from '../context.js';
import { invalidInput } from '../errors.js';
import { userSummary } from '../generators/organization.js';
import { visible } from '../world/confidential.js';
import { childIdsOf, projectIdsOf } from '../world/relations.js';
import type { Rec } from '../world/store.js';
import type { World } from '../world.js';
import { createdAfter, includeArchived, listHandler, paginateArray, parentId } from './lists.js';
import { existing, infoOf, now, optExisting, requiredId } from './shared.js';
import {
  type Body,
  isEmail,
  optArray,
  optBoolean,
  optDateTime,
  optEmail,
  optString,
  reqEnum,
  reqString,
  reqUuid,
} from './validate.js';

const SOCIAL_TYPES = ['LinkedIn', 'GitHub', 'Twitter', 'Medium', 'StackOverflow', 'Website'] as const;

/** The fields `candidate.create` and `candidate.update` share, validated. */
function candidateFields(ctx: RequestContext, body: Body): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const name = optString(body, 'name');
  if (name !== undefined) {
    if (name.trim() === '') throw invalidInput('"name" must not be empty');
    out.name = name;
  }
  const email = optEmail(body, 'email');
  const alternates = optArray(body, 'alternateEmailAddresses') ?? [];
  alternates.forEach((a, i) => {
    if (!isEmail(a)) throw invalidInput(`"alternateEmailAddresses[${i}]" must be a valid email address`);
  });
  const alternate = optEmail(body, 'alternateEmail');
  if (alternate !== undefined) alternates.push(alternate);
  if (email !== undefined || alternates.length > 0) {
    const primary = email ? [{ value: email, type: 'Personal', isPrimary: true }] : [];
    out.emailAddresses = [
      ...primary,
      ...alternates.map((a) => ({ value: String(a), type: 'Other', isPrimary: false })),
    ];
    if (email) out.primaryEmailAddress = primary[0];
  }
  const phone = optString(body, 'phoneNumber');
  if (phone !== undefined) {
    out.primaryPhoneNumber = { value: phone, type: 'Personal', isPrimary: true };
    out.phoneNumbers = [out.primaryPhoneNumber];
  }
  const links: Array<{ type: unknown; url: string }> = [];
  const linkedIn = optString(body, 'linkedInUrl');
  if (linkedIn) links.push({ type: 'LinkedIn', url: linkedIn });
  const github = optString(body, 'githubUrl');
  if (github) links.push({ type: 'GitHub', url: github });
  const website = optString(body, 'website') ?? optString(body, 'websiteUrl');
  if (website) links.push({ type: 'Website', url: website });
  const social = optArray(body, 'socialLinks');
  social?.forEach((l, i) => {
    const link = (typeof l === 'object' && l !== null ? l : {}) as Body;
    reqEnum(link, 'type', SOCIAL_TYPES);
    if (typeof link.url !== 'string') throw invalidInput(`"socialLinks[${i}].url" must be a string`);
    links.push({ type: link.type, url: link.url });
  });
  if (links.length > 0) out.socialLinks = links;
  const source = optExisting(ctx, 'source', 'sourceId');
  if (source) out.source = source;
  const credited = optExisting(ctx, 'user', 'creditedToUserId');
  if (credited) out.creditedToUser = credited;
  const createdAt = optDateTime(body, 'createdAt');
  if (createdAt) out.createdAt = createdAt;
  const location = body.location;
  if (location !== undefined && location !== null) {
    if (typeof location !== 'object') throw invalidInput('"location" must be an object');
    const l = location as Body;
    const parts = ['city', 'region', 'country'].map((f) => optString(l, f));
    out.primaryLocation = {
      id: ctx.world.id('location', 5000),
      locationSummary: parts.filter(Boolean).join(', '),
      locationComponents: [
        ...(parts[2] ? [{ type: 'Country', name: parts[2] }] : []),
        ...(parts[1] ? [{ type: 'Region', name: parts[1] }] : []),
        ...(parts[0] ? [{ type: 'City', name: parts[0] }] : []),
      ],
    };
  }
  return out;
}

/**
 * candidate.search: email and name combine with AND; at most 100 results. An email lookup costs O(1)
 * (seeded addresses carry their index; written ones are indexed), a name-only search scans.
 */
function searchCandidates(
  world: World,
  email: string | undefined,
  name: string | undefined,
  accept: (rec: Rec) => boolean,
): Rec[] {
  const out: Rec[] = [];
  const matchesName = (rec: Rec) =>
    name === undefined || String(rec.name).toLowerCase().includes(name.trim().toLowerCase());
  const hasEmail = (rec: Rec) =>
    email === undefined ||
    (Array.isArray(rec.emailAddresses) &&
      rec.emailAddresses.some((e) => String((e as Rec).value).toLowerCase() === email.trim().toLowerCase()));
  if (email !== undefined) {
    const wanted = email.trim().toLowerCase();
    const ids = new Set(world.candidatesWithEmail(wanted));
    const m = /\.(\d+)@example\.com$/.exec(wanted) ?? /^c(\d+)@work\.example\.org$/.exec(wanted);
    if (m) {
      const index = Number(m[1]);
      if (index < world.seeded('candidate')) ids.add(world.id('candidate', index));
    }
    for (const id of ids) {
      const rec = world.get(id, 'candidate');
      if (rec && hasEmail(rec) && matchesName(rec) && accept(rec)) out.push(rec);
    }
    return out.slice(0, 100);
  }
  const size = world.size('candidate');
  for (let p = 0; p < size && out.length < 100; p++) {
    const rec = world.at('candidate', p);
    if (rec && matchesName(rec) && accept(rec)) out.push(rec);
  }
  return out;
}

export const candidateHandlers: Handlers = {
  'candidate.list': listHandler({ kind: 'candidate', filter: createdAfter }),
  'candidate.info': (ctx) => {
    const id = ctx.body.id ?? ctx.body.externalMappingId;
    if (typeof id !== 'string') throw invalidInput('Missing required field "id"');
    return { results: infoOf(ctx, 'candidate', id) };
  },
  'candidate.search': (ctx) => {
    const email = ctx.body.email;
    const name = ctx.body.name;
    if ((email === undefined || email === null) && (name === undefined || name === null)) {
      throw invalidInput('At least one of "email" or "name" is required');
    }
    if (email !== undefined && email !== null && typeof email !== 'string')
      throw invalidInput('"email" must be a string');
    if (name !== undefined && name !== null && typeof name !== 'string')
      throw invalidInput('"name" must be a string');
    const results = searchCandidates(
      ctx.world,
      typeof email === 'string' ? email : undefined,
      typeof name === 'string' ? name : undefined,
      (rec) => visible(ctx.world, ctx.key, 'candidate', rec),
    );
    return { results };
  },
  'candidate.listNotes': listHandler({
    kind: 'note',
    children: (ctx) => ({
      ids: childIdsOf(ctx.world, 'candidate', 'note', parentId(ctx, 'candidateId', 'candidate')),
    }),
  }),
  'candidate.listClientInfo': listHandler({
    kind: 'clientInfo',
    children: (ctx) => ({
      ids: childIdsOf(ctx.world, 'candidate', 'clientInfo', parentId(ctx, 'candidateId', 'candidate')),
    }),
  }),
  'candidate.listProjects': (ctx) => {
    const candidate = parentId(ctx, 'candidateId', 'candidate');
    const projects = projectIdsOf(ctx.world, candidate)
      .map((id) => ctx.world.get(id, 'project'))
      .filter((p): p is Rec => p !== undefined && visible(ctx.world, ctx.key, 'project', p));
    return paginateArray(ctx, projects);
  },
  // The sandbox organisation has Fraud Detection turned off: the documented envelope with no records,
  // after checking the candidate as Ashby does.
  'candidate.listFraudChecks': (ctx) => {
    parentId(ctx, 'candidateId', 'candidate');
    return paginateArray(ctx, []);
  },

  'candidate.create': (ctx) => {
    const name = reqString(ctx.body, 'name');
    const fields = candidateFields(ctx, ctx.body);
    const rec = ctx.world.create('candidate', (id) => ({
      id,
      createdAt: now(),
      updatedAt: now(),
      name,
      emailAddresses: [],
      phoneNumbers: [],
      socialLinks: [],
      tags: [],
      applicationIds: [],
      fileHandles: [],
      customFields: [],
      profileUrl: `https://app.ashbyhq.com/candidates/${id}`,
      ...fields,
    }));
    return {
      results: rec,
      naturalKey: typeof ctx.body.email === 'string' ? ctx.body.email.toLowerCase() : name,
    };
  },
  'candidate.update': (ctx) => {
    const id = reqUuid(ctx.body, 'candidateId');
    existing(ctx, 'candidate', id, 'candidateId');
    optBoolean(ctx.body, 'sendNotifications');
    const rec = ctx.world.update(id, candidateFields(ctx, ctx.body));
    return { results: rec, naturalKey: id };
  },
  'candidate.addTag': (ctx) => {
    const id = reqUuid(ctx.body, 'candidateId');
    const tagId = reqUuid(ctx.body, 'tagId');
    const candidate = existing(ctx, 'candidate', id, 'candidateId');
    const tag = existing(ctx, 'candidateTag', tagId, 'tagId');
    const tags = Array.isArray(candidate.tags) ? (candidate.tags as Rec[]) : [];
    const rec = tags.some((t) => t.id === tagId) ? candidate : ctx.world.update(id, { tags: [...tags, tag] });
    return { results: rec, naturalKey: `${id}:${tagId}` };
  },
  'candidate.createNote': (ctx) => {
    const candidateId = reqUuid(ctx.body, 'candidateId');
    existing(ctx, 'candidate', candidateId, 'candidateId');
    const note = ctx.body.note;
    let content: string;
    if (typeof note === 'string') content = note;
    else if (typeof note === 'object' && note !== null) {
      const n = note as Body;
      reqEnum(n, 'type', ['text/plain', 'text/html'] as const);
      content = reqString(n, 'value');
    } else throw invalidInput('Missing required field "note"');
    if (content.trim() === '') throw invalidInput('"note" must not be empty');
    optBoolean(ctx.body, 'sendNotifications');
    const createdAt = optDateTime(ctx.body, 'createdAt') ?? now();
    const rec = ctx.world.create(
      'note',
      (id) => {
        const u = userSummary(ctx.world, 0);
        const author = { id: u.id, firstName: u.firstName, lastName: u.lastName, email: u.email };
        return { id, createdAt, content, author };
      },
      candidateId,
    );
    return { results: rec, naturalKey: candidateId };
  },
  'candidate.addProject': (ctx) => {
    const candidateId = reqUuid(ctx.body, 'candidateId');
    const projectId = reqUuid(ctx.body, 'projectId');
    existing(ctx, 'candidate', candidateId, 'candidateId');
    existing(ctx, 'project', projectId, 'projectId');
    ctx.world.addProject(candidateId, projectId);
    // Membership is not a candidate field, but the candidate did change: incremental syncs see it.
    const rec = ctx.world.update(candidateId, {});
    return { results: rec, naturalKey: `${candidateId}:${projectId}` };
  },

  'candidateTag.list': listHandler({ kind: 'candidateTag', filter: includeArchived }),
  'candidateTag.create': (ctx) => {
    const title = reqString(ctx.body, 'title');
    // "If a tag already exists with that title, the existing tag will be returned." (SPEC-2024)
    const found = ctx.world.allOf('candidateTag').find((t) => t.title === title);
    const rec = found ?? ctx.world.create('candidateTag', (id) => ({ id, title, isArchived: false }));
    return { results: rec, naturalKey: title };
  },

  'project.list': listHandler({ kind: 'project', filter: createdAfter }),
  'project.info': (ctx) => ({ results: infoOf(ctx, 'project', requiredId(ctx, 'projectId')) }),
  'project.search': (ctx) => {
    const title = ctx.body.title;
    if (typeof title !== 'string') throw invalidInput('Missing required field "title"');
    const needle = title.toLowerCase();
    return {
      results: ctx.world
        .allOf('project')
        .filter(
          (p) => String(p.title).toLowerCase().includes(needle) && visible(ctx.world, ctx.key, 'project', p),
        )
        .slice(0, 100),
    };
  },
};
