/**
 * The organisation's structure: offices and the regions of the location hierarchy. Shapes from the 2026
 * spec (`location.info`): a location is an office (`type: "Location"`) or a region grouping offices and
 * other regions (`type: "LocationHierarchy"`); `location.list` returns regions only with
 * `includeLocationHierarchy: true`.
 */
import type { Rng } from './prng.js';
import { CITIES } from './text.js';

/** Regions of the location hierarchy: name, parent region (index), archived. */
export const REGIONS: ReadonlyArray<{ name: string; parent?: number; archived?: boolean }> = [
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

/** Offices at a scale: the regions follow them at the next positions of the location list. */
export function officeCount(jobs: number): number {
  return Math.min(40, Math.max(CITIES.length, Math.floor(jobs / 10)));
}

/** What a location record needs from the world. */
export interface LocationContext {
  offices: number;
  idOf(position: number): string;
}

/**
 * The location at `index`: an office below {@link LocationContext.offices}, a region after. Office 6 is
 * archived at every scale (the archived filter always has something to cut); later ones at random.
 */
export function locationRecord(ctx: LocationContext, index: number, id: string, rng: Rng) {
  if (index >= ctx.offices) {
    const region = REGIONS[index - ctx.offices] ?? { name: `Region ${index}` };
    return {
      id,
      name: region.name,
      isArchived: region.archived === true,
      isRemote: false,
      type: 'LocationHierarchy',
      ...(region.parent !== undefined ? { parentLocationId: ctx.idOf(ctx.offices + region.parent) } : {}),
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
    parentLocationId: ctx.idOf(ctx.offices + regionOf(country)),
    type: 'Location',
    ...(index % 4 === 1 ? { extraData: { workday_location_code: `LOC-${100 + index}` } } : {}),
  };
}
