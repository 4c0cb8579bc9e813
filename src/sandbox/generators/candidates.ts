/** Candidates and what hangs off them: tags, notes, the client an application was sent from, projects. */

import {
  CITIES,
  COMPANIES,
  FIRST_NAMES,
  LAST_NAMES,
  longText,
  POSITIONS,
  SCHOOLS,
  slug,
  TIMEZONES,
} from '../text.js';
import { applicationsOfCandidate, candidateOfApplication, parentOf } from '../world/relations.js';
import type { Rec } from '../world/store.js';
import type { World } from '../world.js';
import { seededCustomFields } from './custom-fields.js';
import { SOURCE_COUNT } from './metadata.js';
import { userSummary } from './organization.js';
import { DAY, type Generator, iso, rngOf, time } from './shared.js';

const TAGS = [
  'Top talent',
  'top talent',
  'Silver medalist',
  '"drop table"; --',
  'a.b',
  'Ünïcødé 🚀',
  ' \u00a0 ',
  'Boomerang',
  'Needs visa',
  'Referral',
  'Diversity sourcing',
  'Relocation',
  'Remote only',
  'Return offer',
  'Do not contact',
  'Campus 2024',
  'Campus 2025',
  'Leadership',
  'Back\\slash',
  'Line\nbreak',
];

export const candidate: Generator = {
  kind: 'candidate',
  count: ({ candidates }) => candidates,
  generate(world, index, id, rng) {
    const first = rng.pick(FIRST_NAMES);
    const last = rng.pick(LAST_NAMES);
    const name = index % 97 === 13 ? `  ${first}\t${last}  ` : `${first} ${last}`;
    const created = time(world, 'candidate', index, rng);
    const [from, to] = applicationsOfCandidate(world, index);
    const applicationIds: string[] = [];
    for (let a = from; a < to; a++) applicationIds.push(world.id('application', a));
    const hasEmail = index % 20 !== 19;
    const email = {
      value: `${slug(first)}.${slug(last)}.${index}@example.com`,
      type: 'Personal',
      isPrimary: true,
    };
    const workEmail = { value: `c${index}@work.example.org`, type: 'Work', isPrimary: false };
    const phone = {
      value: `+1 (555) ${String(index % 1000).padStart(3, '0')}-${String(index % 10000).padStart(4, '0')}`,
      type: 'Personal',
      isPrimary: true,
    };
    const [city, region, country] = rng.pick(CITIES);
    const tags = rng.chance(0.3) ? [world.generate('candidateTag', rng.int(0, TAGS.length - 1))] : [];
    const source = world.generate('source', rng.int(0, SOURCE_COUNT - 1));
    const rec: Rec = {
      id,
      createdAt: iso(created),
      updatedAt: iso(created + rng.int(0, 90) * DAY),
      name,
      ...(hasEmail ? { primaryEmailAddress: email } : {}),
      emailAddresses: hasEmail ? (rng.chance(0.2) ? [email, workEmail] : [email]) : [],
      ...(rng.chance(0.7) ? { primaryPhoneNumber: phone } : {}),
      phoneNumbers: [],
      socialLinks: rng.chance(0.5)
        ? [{ type: 'LinkedIn', url: `https://www.linkedin.com/in/c-${index}` }]
        : [],
      tags,
      position: index === 3 ? longText('position') : rng.pick(POSITIONS),
      company: rng.pick(COMPANIES),
      school: rng.pick(SCHOOLS),
      applicationIds,
      fileHandles: [],
      customFields: seededCustomFields(world, 'Candidate', rng, index === 2 ? 'long' : ''),
      profileUrl: `https://app.ashbyhq.com/candidates/${id}`,
      ...(source ? { source } : {}),
      timezone: rng.pick(TIMEZONES),
      primaryLocation: {
        id: world.id('location', 1000 + (index % 8)),
        locationSummary: `${city}, ${region}, ${country}`,
        locationComponents: [
          { type: 'Country', name: country },
          { type: 'Region', name: region },
          { type: 'City', name: city },
        ],
      },
    };
    if (rec.primaryPhoneNumber) rec.phoneNumbers = [rec.primaryPhoneNumber];
    if (rng.chance(0.4)) {
      const handle = { id: world.id('file', index), name: `résumé ${index}.pdf`, handle: `fh_${index}` };
      rec.resumeFileHandle = handle;
      rec.fileHandles = [handle];
    }
    if (rng.chance(0.3)) rec.creditedToUser = userSummary(world, rng.int(0, world.seeded('user') - 1));
    // The 2026 spec calls the primary location `location`; the 2024 spec called it `primaryLocation`.
    // Which one an account sends depends on its API version, so the sandbox sends both.
    rec.location = rec.primaryLocation;
    rec.fraudStatus = index % 10 === 0 ? 'PassedFraudCheck' : index % 50 === 25 ? 'Unreviewed' : null;
    return rec;
  },
};

/** A candidate embedded in an application. */
export function candidateSummary(world: World, candidateId: string): Rec {
  const c = world.get(candidateId, 'candidate');
  const out: Rec = { id: candidateId, name: typeof c?.name === 'string' ? c.name : '' };
  if (c?.primaryEmailAddress) out.primaryEmailAddress = c.primaryEmailAddress;
  if (c?.primaryPhoneNumber) out.primaryPhoneNumber = c.primaryPhoneNumber;
  return out;
}

export const candidateTag: Generator = {
  kind: 'candidateTag',
  count: () => TAGS.length,
  generate: (_world, index, id) => ({ id, title: TAGS[index] ?? `Tag ${index}`, isArchived: index === 15 }),
};

/** Notes, spread over the candidates in order (`parentOf`). */
export const note: Generator = {
  kind: 'note',
  count: ({ candidates }) => Math.floor(candidates * 0.8),
  generate(world, index, id, rng) {
    const candidate = parentOf(index, world.seeded('candidate'), world.seeded('note'));
    const author = userSummary(world, rng.int(0, world.seeded('user') - 1));
    return {
      id,
      createdAt: iso(
        time(world, 'candidate', candidate, rngOf(world, 'candidate', candidate)) + rng.int(1, 30) * DAY,
      ),
      content:
        index === 1
          ? longText('note')
          : rng.pick([
              '<p>Great call!</p>',
              'Follow up in Q3 🚀',
              'Said: "let\'s talk"\nNext line',
              'C:\\path\\to\\cv',
            ]),
      isPrivate: index % 25 === 24,
      author: { id: author.id, firstName: author.firstName, lastName: author.lastName, email: author.email },
    };
  },
};

/** One client-info record per seeded application: the IP and browser of the application form. */
export const clientInfo: Generator = {
  kind: 'clientInfo',
  count: ({ applications }) => applications,
  generate(world, index, id, rng) {
    const app = world.id('application', index);
    const candidate = candidateOfApplication(world, index);
    return {
      id,
      ipAddress: index % 4 === 3 ? `2001:db8::${(index % 0xffff).toString(16)}` : `198.51.100.${index % 250}`,
      userAgent: rng.pick([
        'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/135.0.0.0 Safari/537.36',
        'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
        'curl/8.5.0',
      ]),
      relatedEntityType: 'application',
      relatedEntityId: app,
      candidateId: world.id('candidate', candidate),
      createdAt: iso(time(world, 'application', index, rngOf(world, 'application', index))),
    };
  },
};

export const project: Generator = {
  kind: 'project',
  count: ({ candidates }) => Math.max(3, Math.floor(candidates / 500)),
  generate: (world, index, id, rng) => ({
    id,
    title: `Project ${index}${index === 0 ? ' — “Confidential” search' : ''}`,
    description: index === 1 ? longText('project') : 'Sourcing project',
    isArchived: index % 9 === 8,
    confidential: index === 0,
    authorId: world.id('user', index % world.seeded('user')),
    createdAt: iso(time(world, 'project', index, rng)),
    // Projects keep their custom field values here, not in `customFields` (2026 spec).
    customFieldEntries: seededCustomFields(world, 'Talent_Project', rng, index === 1 ? 'long' : ''),
  }),
};
