/**
 * The sandbox's data: seeded records generated on demand from (seed, kind, index) by the generators
 * (`generators/`), under the overlay of written records and the change log (`world/store.ts`). How records
 * relate is in `world/relations.ts`, who may see them in `world/confidential.ts`. Nothing here is
 * proportional to the scale.
 */
import { criteriaEvaluationsOf, historyOf } from './generators/applications.js';
import { countsFor, GENERATORS } from './generators/index.js';
import { stagesOfPlan } from './generators/interviews.js';
import type { Kind } from './ids.js';
import { rngFor } from './prng.js';
import { type Rec, Store } from './world/store.js';

export type { Rec, WorldEvent } from './world/store.js';

export class World extends Store {
  /** Number of seeded records built so far: lets tests prove a deep page is O(page size). */
  generated = 0;
  /**
   * Incremental requests whose change set would take more pages than this answer
   * `incremental_sync_too_large`, as Ashby does since May 2026.
   */
  maxIncrementalPages = 50;

  constructor(
    seed: number,
    readonly scale: number,
  ) {
    super(seed, countsFor(scale));
  }

  generate(kind: Kind, index: number): Rec | undefined {
    this.generated++;
    const rng = rngFor(this.seed, kind, index);
    const id = this.id(kind, index);
    return GENERATORS.get(kind)?.generate(this, index, id, rng);
  }

  /** Stage history of an application, oldest first (application.listHistory). */
  historyOf(app: Rec): Rec[] {
    return historyOf(this, app);
  }

  /** The stages of a seeded interview plan, in order. */
  stagesOfPlan(planId: string): Rec[] {
    return stagesOfPlan(this, planId);
  }

  /** AI criteria evaluations of an application (`application.listCriteriaEvaluations`). */
  criteriaEvaluationsOf(appId: string): Rec[] {
    return criteriaEvaluationsOf(this, appId);
  }
}
