/** The organisation's settings lists: sources, archive and close reasons, templates, brands. */
import { DAY, type Generator, iso, time } from './shared.js';

const SOURCE_TYPES = ['Inbound', 'Outbound', 'Referral', 'Agency'];
/** Title and source type (index into {@link SOURCE_TYPES}). */
const SOURCES: ReadonlyArray<readonly [string, number]> = [
  ['LinkedIn', 1],
  ['Company website', 0],
  ['Employee referral', 2],
  ['Indeed', 0],
  ['Agency: Hunt & Co', 3],
  ['Conference 🎤', 1],
  ['GitHub', 1],
  ['Job board "Remote OK"', 0],
  ['Unknown', 0],
  ['Legacy import', 0],
  ['Twitter / X', 1],
  ['Meetup', 1],
];
export const SOURCE_COUNT = SOURCES.length;

const ARCHIVE_REASONS: ReadonlyArray<readonly [string, string]> = [
  ['Not a fit', 'RejectedByOrg'],
  ['Hired elsewhere', 'RejectedByCandidate'],
  ['Compensation', 'RejectedByCandidate'],
  ['Skills gap', 'RejectedByOrg'],
  ['Position filled', 'Other'],
  ['Withdrew — personal reasons', 'RejectedByCandidate'],
  ['Duplicate', 'Other'],
  ['Unresponsive', 'RejectedByCandidate'],
];
export const ARCHIVE_REASON_COUNT = ARCHIVE_REASONS.length;

/** Text and archived; the last is archived. */
const CLOSE_REASONS: ReadonlyArray<readonly [string, boolean]> = [
  ['Position filled', false],
  ['Budget cut', false],
  ['Hiring freeze ❄️', false],
  ['Role "redefined"', false],
  ['Duplicate requisition', true],
];

const COMMUNICATION_TEMPLATES: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['Rejection + Consideration for Future Positions', ['email']],
  ['Interview invitation', ['email']],
  ['Sourcing outreach — 1st touch', ['email', 'inMail']],
  ['LinkedIn connect', ['linkedInConnection']],
  ['Offer follow-up "warm"', ['email', 'inMail']],
  ['Ünïcødé check-in 🚀', ['email']],
];

export const sourceType: Generator = {
  kind: 'sourceType',
  count: () => SOURCE_TYPES.length,
  generate: (_world, index, id) => ({ id, title: SOURCE_TYPES[index] ?? 'Other', isArchived: false }),
};

export const source: Generator = {
  kind: 'source',
  count: () => SOURCES.length,
  generate(world, index, id) {
    const [title, type] = SOURCES[index] ?? ['Other', 0];
    return { id, title, isArchived: index === 9, sourceType: world.generate('sourceType', type) };
  },
};

export const archiveReason: Generator = {
  kind: 'archiveReason',
  count: () => ARCHIVE_REASONS.length,
  generate(_world, index, id) {
    const [text, reasonType] = ARCHIVE_REASONS[index] ?? ['Other', 'Other'];
    return { id, text, reasonType, isArchived: index === 6 };
  },
};

export const closeReason: Generator = {
  kind: 'closeReason',
  count: () => CLOSE_REASONS.length,
  generate(_world, index, id) {
    const [reasonText, archived] = CLOSE_REASONS[index] ?? ['Other', false];
    return { id, reasonText, isArchived: archived };
  },
};

export const communicationTemplate: Generator = {
  kind: 'communicationTemplate',
  count: () => COMMUNICATION_TEMPLATES.length,
  generate(world, index, id, rng) {
    const [title, intendedTypes] = COMMUNICATION_TEMPLATES[index] ?? ['Template', ['email']];
    const created = time(world, 'communicationTemplate', index, rng);
    return {
      id,
      title,
      intendedTypes: [...intendedTypes],
      createdAt: iso(created),
      updatedAt: iso(created + rng.int(0, 90) * DAY),
    };
  },
};

export const sourceTrackingLink: Generator = {
  kind: 'sourceTrackingLink',
  count: () => 10,
  generate: (world, index, id) => ({
    id,
    code: `src-${index}`,
    enabled: index !== 3,
    sourceId: world.id('source', index % world.seeded('source')),
    link: `https://jobs.ashbyhq.com/sandbox?utm_source=src-${index}`,
  }),
};

export const brand: Generator = {
  kind: 'brand',
  count: () => 2,
  generate: (_world, index, id) => ({
    id,
    name: index === 0 ? 'Sandbox Inc.' : 'Sandbox Labs — "Research" 🔬',
    hostedJobsPageSlug: index === 0 ? 'sandbox' : 'sandbox-labs',
  }),
};
