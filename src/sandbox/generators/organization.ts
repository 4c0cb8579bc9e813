/**
 * The organisation: users, departments, offices and the regions of the location hierarchy, hiring team
 * roles. Location shapes from the 2026 spec (`location.info`): a location is an office
 * (`type: "Location"`) or a region grouping offices and other regions (`type: "LocationHierarchy"`);
 * `location.list` returns regions only with `includeLocationHierarchy: true`.
 */
import { defined } from '../../util/defined.js';
import { idFor } from '../ids.js';
import type { Rng } from '../prng.js';
import { CITIES, FIRST_NAMES, LAST_NAMES, slug } from '../text.js';
import type { Rec } from '../world/store.js';
import type { World } from '../world.js';
import { employeeFields } from './custom-fields.js';
import { createdAndUpdated, type Generator, iso, rngOf, time } from './shared.js';

/** Regions of the location hierarchy: name, parent region (index), archived. */
const REGIONS: ReadonlyArray<{ name: string; parent?: number; archived?: boolean }> = [
  { name: 'Americas' },
  { name: 'EMEA' },
  { name: 'APAC' },
  { name: 'DACH', parent: 1 },
  { name: 'LATAM (retired)', parent: 0, archived: true },
];

/** The region an office in `country` belongs to (index into {@link REGIONS}). */
function regionOf(country: string): number {
  switch (country) {
    case 'United States':
    case 'Brazil':
      return 0;
    case 'Germany':
    case 'Switzerland':
      return 3;
    case 'Japan':
      return 2;
    default:
      return 1;
  }
}

/** Offices (locations that are not regions): the positions a job or template takes its location from. */
export function offices(world: World): number {
  return world.seeded('location') - REGIONS.length;
}

function userRecord(world: World, index: number, id: string, rng: Rng): Rec {
  const first = rng.pick(FIRST_NAMES);
  const last = rng.pick(LAST_NAMES);
  return {
    id,
    firstName: first,
    lastName: last,
    email: `${slug(first)}.${slug(last)}.${index}@sandbox.example.com`,
    globalRole:
      index === 0
        ? 'Organization Admin'
        : rng.pick(['Elevated Access', 'Limited Access', 'Limited Access', 'External Recruiter']),
    // User 3 is deactivated at every scale, so the deactivated filter always has something to cut.
    isEnabled: index !== 3 && (index < 3 || !rng.chance(0.1)),
    updatedAt: iso(time(world, 'user', index, rng)),
    ...(index > 0 ? { managerId: world.id('user', Math.floor((index - 1) / 4)) } : {}),
    ...(index % 3 === 2 ? {} : { customFields: employeeFields(world, index) }),
  };
}

export const user: Generator = {
  kind: 'user',
  count: ({ candidates }) => Math.max(10, Math.floor(candidates / 200)),
  generate: userRecord,
};

/** A user embedded in another record: the shape of user.info (2026 spec), manager and custom fields included. */
export function userSummary(world: World, index: number): Rec {
  const u =
    world.get(world.id('user', index), 'user') ??
    userRecord(world, index, world.id('user', index), rngOf(world, 'user', index));
  return {
    id: u.id,
    firstName: u.firstName,
    lastName: u.lastName,
    email: u.email,
    globalRole: u.globalRole,
    isEnabled: u.isEnabled,
    updatedAt: u.updatedAt,
    ...defined({ managerId: u.managerId, customFields: u.customFields }),
  };
}

/** A recruiter and a hiring manager, drawn from the users by `seedIndex`. */
export function hiringTeam(world: World, seedIndex: number): Array<Record<string, unknown>> {
  const users = world.seeded('user');
  const roles = ['Recruiter', 'Hiring Manager'];
  return roles.map((role, k) => {
    const u = userSummary(world, (seedIndex * 7 + k * 3) % users);
    return { email: u.email, firstName: u.firstName, lastName: u.lastName, role, userId: u.id };
  });
}

/** The organisation's id, as forms and survey definitions carry it. */
export function organizationId(world: World): string {
  return idFor(world.seed, 'user', 0x7ffffff);
}

export const department: Generator = {
  kind: 'department',
  // At least four departments: department 3 is the archived one.
  count: ({ jobs }) => Math.min(60, Math.max(4, Math.floor(jobs / 5))),
  generate: (world, index, id, rng) => ({
    id,
    name:
      index === 2
        ? 'R&D / "Platform"'
        : `Department ${index} ${rng.pick(['Engineering', 'Sales', 'Ops', 'Talent', 'Ünïcødé'])}`,
    // Department 3 is archived at every scale, so the archived filter always has something to cut.
    isArchived: index === 3 || (index > 3 && rng.chance(0.1)),
    ...(index > 0 ? { parentId: world.id('department', rng.int(0, index - 1)) } : {}),
    externalName: `Dept ${index}`,
    ...createdAndUpdated(world, 'department', index, rng),
    ...(index % 3 === 0 ? { extraData: { hris_department_code: `D-${100 + index}` } } : {}),
  }),
};

/**
 * Offices, then the regions at the next positions. Office 6 is archived at every scale (the archived
 * filter always has something to cut); later ones at random.
 */
export const location: Generator = {
  kind: 'location',
  count: ({ jobs }) => Math.min(40, Math.max(CITIES.length, Math.floor(jobs / 10))) + REGIONS.length,
  generate(world, index, id, rng) {
    const officeCount = offices(world);
    const idOf = (position: number) => world.id('location', position);
    if (index >= officeCount) {
      const region = REGIONS[index - officeCount] ?? { name: `Region ${index}` };
      return {
        id,
        name: region.name,
        isArchived: region.archived === true,
        isRemote: false,
        type: 'LocationHierarchy',
        ...(region.parent !== undefined ? { parentLocationId: idOf(officeCount + region.parent) } : {}),
      };
    }
    const [city, region, country] = CITIES[index % CITIES.length] ?? ['Remote', '', ''];
    const remote = index % 5 === 4;
    const archived = rng.chance(0.2) ? index >= CITIES.length : false;
    return {
      id,
      name: index >= CITIES.length ? `${city} ${Math.floor(index / CITIES.length) + 1}` : city,
      ...(index % 3 === 0 ? { externalName: `${city} office` } : {}),
      isArchived: archived || index === 6,
      address: {
        postalAddress: { addressCountry: country, addressRegion: region, addressLocality: city },
      },
      isRemote: remote,
      workplaceType: remote ? 'Remote' : index % 2 === 0 ? 'OnSite' : 'Hybrid',
      parentLocationId: idOf(officeCount + regionOf(country)),
      type: 'Location',
      ...(index % 4 === 1 ? { extraData: { workday_location_code: `LOC-${100 + index}` } } : {}),
    };
  },
};

export const hiringTeamRole: Generator = {
  kind: 'hiringTeamRole',
  count: () => 4,
  generate: (_world, index, id) => ({
    id,
    title: ['Recruiter', 'Hiring Manager', 'Coordinator', 'Sourcer'][index] ?? 'Member',
  }),
};
