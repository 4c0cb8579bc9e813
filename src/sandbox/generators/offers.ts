/**
 * Offers and their approvals. Every twentieth application, from the eighth, is hired and has an
 * accepted offer; offer n's versions and approval are numbered n as well.
 *
 * Approvals as `approval.list` returns them (2026 spec): the approved entity is an offer *version*
 * (`entityType: "offer"`, `entityId` = the version's id), and the approval runs through steps, each with
 * its approvers and their decisions. Every seeded offer is accepted, so its approval is complete; on a step
 * that needs one approval of two, the second approver never had to decide (`pending`).
 */
import { jobOfApplication } from '../world/relations.js';
import type { Rec } from '../world/store.js';
import { seededCustomFields } from './custom-fields.js';
import { userSummary } from './organization.js';
import { DAY, type Generator, iso, rngOf, time } from './shared.js';

const HOUR = 3_600_000;

/** Offers (and approvals) of a scale: one per hired application. */
const hiredApplications = ({ applications }: { applications: number }) =>
  applications > 7 ? Math.floor((applications - 8) / 20) + 1 : 0;

export const offer: Generator = {
  kind: 'offer',
  count: hiredApplications,
  generate(world, index, id, rng) {
    const app = index * 20 + 7;
    const created = time(world, 'application', app, rngOf(world, 'application', app)) + 30 * DAY;
    const version: Rec = {
      id: world.id('offerVersion', index),
      startDate: new Date(created + 30 * DAY).toISOString().slice(0, 10),
      salary: { currencyCode: 'USD', value: rng.int(80, 300) * 1000 },
      createdAt: iso(created),
      customFields: seededCustomFields(world, 'Offer', rng),
      fileHandles: [],
      author: userSummary(world, rng.int(0, world.seeded('user') - 1)),
      // Seeded opening i belongs to seeded job i.
      openingId: world.id('opening', jobOfApplication(world, app)),
      approvalStatus: 'Approved',
    };
    return {
      id,
      decidedAt: iso(created + 5 * DAY),
      applicationId: world.id('application', app),
      acceptanceStatus: 'Accepted',
      offerStatus: 'CandidateAccepted',
      latestVersion: version,
      versions: [version],
    };
  },
};

export const approval: Generator = {
  kind: 'approval',
  count: hiredApplications,
  generate(world, index, id, rng) {
    const createdAt = iso(time(world, 'application', index * 20 + 7, rng) + 29 * DAY);
    const users = world.seeded('user');
    const created = Date.parse(createdAt);
    const stepCount = index % 3 === 0 ? 2 : 1;
    const steps: Rec[] = [];
    for (let k = 0; k < stepCount; k++) {
      const requested = new Date(created + (1 + k * 24) * HOUR).toISOString();
      const decided = new Date(created + (6 + k * 24) * HOUR).toISOString();
      const pair = k === stepCount - 1 && index % 2 === 1;
      const approvers: Rec[] = [
        {
          id: world.id('approval', 0x200000 + index * 8 + k * 2),
          userId: world.id('user', rng.int(0, users - 1)),
          decision: 'approve',
          decidedAt: decided,
          requestedAt: requested,
        },
      ];
      if (pair) {
        approvers.push({
          id: world.id('approval', 0x200000 + index * 8 + k * 2 + 1),
          userId: world.id('user', rng.int(0, users - 1)),
          decision: 'pending',
          requestedAt: requested,
        });
      }
      steps.push({
        id: world.id('approval', 0x100000 + index * 4 + k),
        approvalsRequired: 1,
        completedAt: decided,
        approvers,
      });
    }
    const last = steps.at(-1);
    return {
      id,
      approvalDefinitionId: world.id('approval', 0x300000 + index),
      entityType: 'offer',
      entityId: world.id('offerVersion', index),
      status: 'Approved',
      createdAt,
      submittedAt: new Date(created + HOUR).toISOString(),
      ...(last ? { completedAt: last.completedAt } : {}),
      steps,
    };
  },
};
