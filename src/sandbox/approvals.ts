/**
 * Approvals as `approval.list` returns them (2026 spec): the approved entity is an offer *version*
 * (`entityType: "offer"`, `entityId` = the version's id), and the approval runs through steps, each with
 * its approvers and their decisions. Every seeded offer is accepted, so its approval is complete; on a step
 * that needs one approval of two, the second approver never had to decide (`pending`).
 */
import type { Rng } from './prng.js';
import type { Rec, World } from './world.js';

const HOUR = 3_600_000;

export function approvalRecord(world: World, index: number, id: string, rng: Rng, createdAt: string): Rec {
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
}
