import type { Kind } from '../ids.js';
import { type Rng, rngFor } from '../prng.js';
import type { Rec } from '../world/store.js';
import type { World } from '../world.js';

export const DAY = 86_400_000;
/** Seeded history spans 2019-01-01 … 2025-06-01 so that date filters have something to cut. */
export const EPOCH = Date.UTC(2019, 0, 1);
export const SPAN = Date.UTC(2025, 5, 1) - EPOCH;

/** The seeded counts every other count derives from. */
interface ScaleBase {
  candidates: number;
  applications: number;
  jobs: number;
}

/** How one kind of seeded record is made: one entry per kind in the registry (`generators/index.ts`). */
export interface Generator {
  kind: Kind;
  /**
   * How many seeded records of the kind a scale implies. Absent for records that exist only inside
   * others (interview stages, interview events): they are built, never listed or found by id.
   */
  count?: (base: ScaleBase) => number;
  /** Builds seeded record `index`; `rng` is the record's own random stream. */
  generate(world: World, index: number, id: string, rng: Rng): Rec | undefined;
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** The random stream of one seeded record. */
export function rngOf(world: World, kind: Kind, index: number): Rng {
  return rngFor(world.seed, kind, index);
}

/** When a seeded record was made: its position spread over the seeded history, plus up to a day. */
export function time(world: World, kind: Kind, index: number, rng: Rng): number {
  const count = Math.max(1, world.seeded(kind));
  return EPOCH + Math.floor((index / count) * SPAN) + rng.int(0, DAY);
}

/** `createdAt` and a later `updatedAt` of a seeded record, spread over the seeded history. */
export function createdAndUpdated(
  world: World,
  kind: Kind,
  index: number,
  rng: Rng,
): { createdAt: string; updatedAt: string } {
  const created = time(world, kind, index, rng);
  return { createdAt: iso(created), updatedAt: iso(created + rng.int(0, 200) * DAY) };
}
