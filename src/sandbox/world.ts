import { approvalRecord } from './approvals.js';
import { type CustomFieldDef, definitionDetails, valueEntry } from './custom-fields.js';
import { idFor, type Kind, parseId } from './ids.js';
import { eventInterviewers, interviewerPoolRecord, interviewRecord } from './interviews.js';
import { locationRecord, officeCount, REGIONS } from './organization.js';
import { type Rng, rngFor } from './prng.js';
import {
  CITIES,
  COMPANIES,
  FIRST_NAMES,
  JOB_TITLES,
  LAST_NAMES,
  longText,
  POSITIONS,
  SCHOOLS,
  slug,
  TIMEZONES,
} from './text.js';

/** What listeners of the world hear: a change-log entry, or an extra event such as a stage change. */
export interface WorldEvent {
  /** The change-log entry; absent for announcements that are not a change of their own. */
  change?: Change;
  /** Webhook action named explicitly by a write (`candidateStageChange`, `candidateHire`…). */
  action?: string;
  /** The record after the change (before it, for deletes and merges). */
  record?: Rec;
  /** For merges: the surviving record. */
  mergedInto?: Rec;
}

/** A record as the API returns it. */
export type Rec = Record<string, unknown> & { id: string };

/** One entry of the change log: every write, delete and merge gets the next sequence number. */
export interface Change {
  seq: number;
  kind: Kind;
  id: string;
  op: 'create' | 'update' | 'delete' | 'merge';
  at: string;
  /** For merges: the surviving record. */
  mergedIntoId?: string;
}

const DAY = 86_400_000;
/** Seeded history spans 2019-01-01 … 2025-06-01 so that date filters have something to cut. */
const EPOCH = Date.UTC(2019, 0, 1);
const SPAN = Date.UTC(2025, 5, 1) - EPOCH;

/** Stage template of every interview plan: title, type. */
export const STAGES: ReadonlyArray<readonly [string, string]> = [
  ['Lead', 'Lead'],
  ['Application Review', 'PreInterviewScreen'],
  ['Phone Screen', 'Active'],
  ['Onsite — "Final" round', 'Active'],
  ['Offer', 'Offer'],
  ['Hired', 'Hired'],
  ['Archived', 'Archived'],
];
const STAGE_SLOTS = 8;

const SOURCE_TYPES = ['Inbound', 'Outbound', 'Referral', 'Agency'];
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

/** Custom field definitions: every field type, on each object type, with titles that break naive code. */
export const CUSTOM_FIELDS: readonly CustomFieldDef[] = [
  { title: 'Willing to relocate', fieldType: 'Boolean', objectType: 'Candidate' },
  { title: 'Available from', fieldType: 'Date', objectType: 'Candidate' },
  { title: '"drop table"; --', fieldType: 'String', objectType: 'Candidate' },
  { title: 'Cover letter', fieldType: 'LongText', objectType: 'Candidate' },
  { title: 'Years of experience', fieldType: 'Number', objectType: 'Candidate', required: true },
  { title: 'Notice period (weeks)', fieldType: 'NumberRange', objectType: 'Candidate' },
  { title: 'Current salary', fieldType: 'Currency', objectType: 'Candidate', private: true },
  { title: 'Expected compensation', fieldType: 'CompensationRange', objectType: 'Candidate', private: true },
  { title: 'Seniority', fieldType: 'ValueSelect', objectType: 'Candidate' },
  { title: 'Languages', fieldType: 'MultiValueSelect', objectType: 'Candidate' },
  { title: 'a.b', fieldType: 'String', objectType: 'Candidate' },
  { title: 'Ünïcødé 🚀', fieldType: 'String', objectType: 'Candidate' },
  { title: ' \u00a0 ', fieldType: 'String', objectType: 'Candidate' },
  { title: 'Seniority ', fieldType: 'String', objectType: 'Candidate', archived: true },
  { title: 'SENIORITY', fieldType: 'String', objectType: 'Candidate', apiOnly: true },
  { title: 'Referral bonus eligible', fieldType: 'Boolean', objectType: 'Application' },
  { title: 'Screening score', fieldType: 'Number', objectType: 'Application', apiOnly: true },
  { title: 'Screening notes', fieldType: 'LongText', objectType: 'Application' },
  { title: 'Interview track', fieldType: 'ValueSelect', objectType: 'Application' },
  { title: 'Budget', fieldType: 'Currency', objectType: 'Job', private: true },
  { title: 'Salary band', fieldType: 'CompensationRange', objectType: 'Job' },
  { title: 'Cost center', fieldType: 'String', objectType: 'Job' },
  { title: 'Headcount plan', fieldType: 'Date', objectType: 'Opening' },
  { title: 'Team size', fieldType: 'NumberRange', objectType: 'Opening' },
  { title: 'Equity', fieldType: 'Number', objectType: 'Offer', private: true },
  { title: 'Benefits', fieldType: 'MultiValueSelect', objectType: 'Offer' },
  // Added after the fields above, so that their ids (by position) stay the same.
  { title: 'Employee ID', fieldType: 'String', objectType: 'Employee', apiOnly: true },
  { title: 'Office', fieldType: 'ValueSelect', objectType: 'Employee' },
  { title: 'Priority', fieldType: 'ValueSelect', objectType: 'Talent_Project' },
  { title: 'Sourcing channel', fieldType: 'String', objectType: 'Talent_Project' },
  { title: 'Hiring priority', fieldType: 'ValueSelect', objectType: 'Job' },
  { title: 'Budget status', fieldType: 'ValueSelect', objectType: 'Opening' },
];

const SELECTABLE: Record<string, string[]> = {
  Seniority: ['Junior', 'Mid', 'Senior', 'Staff', 'Principal'],
  Languages: ['English', 'Deutsch', 'Français', '日本語', 'العربية'],
  'Interview track': ['Standard', 'Fast track', 'Executive'],
  Benefits: ['Health', 'Dental', 'Vision', '401k', 'Equity refresh'],
  Office: ['Berlin', 'Lisbon', 'Remote'],
  Priority: ['High', 'Medium', 'Low'],
  'Hiring priority': ['P0', 'P1', 'P2'],
  'Budget status': ['Approved', 'Pending approval'],
};

/** How many seeded records of each kind a scale (number of candidates) implies. */
export function countsFor(scale: number): Partial<Record<Kind, number>> {
  const candidates = Math.max(0, Math.floor(scale));
  const applications = Math.round(candidates * 1.3);
  const jobs = Math.max(5, Math.floor(candidates / 50));
  return {
    candidate: candidates,
    application: applications,
    job: jobs,
    opening: jobs,
    jobPosting: jobs,
    user: Math.max(10, Math.floor(candidates / 200)),
    // At least four departments: department 3 is the archived one.
    department: Math.min(60, Math.max(4, Math.floor(jobs / 5))),
    // Offices, then the regions of the location hierarchy.
    location: officeCount(jobs) + REGIONS.length,
    source: SOURCES.length,
    sourceType: SOURCE_TYPES.length,
    archiveReason: ARCHIVE_REASONS.length,
    candidateTag: TAGS.length,
    customField: CUSTOM_FIELDS.length,
    // One more than the jobs use: the last plan is archived and on no job.
    interviewPlan: Math.max(3, Math.ceil(jobs / 4)) + 1,
    interviewStageGroup: 4,
    interview: jobs * 2,
    interviewSchedule: Math.floor(applications * 0.4),
    applicationFeedback: Math.floor(applications * 0.5),
    offer: applications > 7 ? Math.floor((applications - 8) / 20) + 1 : 0,
    jobBoard: 2,
    project: Math.max(3, Math.floor(candidates / 500)),
    note: Math.floor(candidates * 0.8),
    approval: applications > 7 ? Math.floor((applications - 8) / 20) + 1 : 0,
    hiringTeamRole: 4,
    jobTemplate: 5,
    surveyFormDefinition: 3,
    surveyRequest: Math.floor(applications * 0.2),
    surveySubmission: Math.floor(applications * 0.1),
    interviewerPool: 5,
    sourceTrackingLink: 10,
    feedbackFormDefinition: 5,
    brand: 2,
    closeReason: CLOSE_REASONS.length,
    communicationTemplate: COMMUNICATION_TEMPLATES.length,
    // One client-info record per seeded application (the IP and browser of the application form).
    clientInfo: applications,
  };
}

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

/** Maps children to parents by proportion, so both directions cost O(1) and need no index. */
export function parentOf(child: number, parents: number, children: number): number {
  return Math.floor((child * parents) / children);
}
/** The child positions [from, to) of one parent under {@link parentOf}. */
export function childrenOf(parent: number, parents: number, children: number): [number, number] {
  const from = Math.ceil((parent * children) / parents);
  const to = Math.ceil(((parent + 1) * children) / parents);
  return [from, Math.min(to, children)];
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * The sandbox's data: seeded records generated on demand from (seed, kind, index), plus an overlay of
 * written records and the change log. Nothing here is proportional to the scale.
 */
export class World {
  readonly counts: Partial<Record<Kind, number>>;
  /** Number of seeded records built so far: lets tests prove a deep page is O(page size). */
  generated = 0;
  /** id → current record, or `null` for a deleted one. Only written records live here. */
  private readonly overlay = new Map<string, Rec | null>();
  /** Ids of records created through the API, per kind, in creation order (positions after the seeded ones). */
  private readonly created = new Map<Kind, string[]>();
  /** Children created through the API, keyed `kind:parentId`. */
  private readonly createdChildren = new Map<string, string[]>();
  readonly log: Change[] = [];
  /** Lower-cased email → ids of written candidates carrying it (entries may be stale; lookups re-check). */
  private readonly emailIndex = new Map<string, Set<string>>();
  /** Sequence numbers of the changes of each id, ascending. */
  private readonly seqs = new Map<string, number[]>();
  readonly createdAt = new Date().toISOString();
  /** Listeners of every change (webhook emission); they get the record as it is after the change. */
  private readonly listeners: Array<(event: WorldEvent) => void> = [];
  /** Projects a candidate was added to through the API (`candidate.addProject`), per candidate id. */
  private readonly addedProjects = new Map<string, string[]>();
  /** Openings created or edited through the API: the only ones whose jobs may differ from the seed. */
  private readonly touchedOpenings = new Set<string>();
  /**
   * Incremental requests whose change set would take more pages than this answer
   * `incremental_sync_too_large`, as Ashby does since May 2026.
   */
  maxIncrementalPages = 50;

  constructor(
    readonly seed: number,
    readonly scale: number,
  ) {
    this.counts = countsFor(scale);
  }

  /** Current sequence number of the change log. */
  get seq(): number {
    return this.log.length;
  }

  seeded(kind: Kind): number {
    return this.counts[kind] ?? 0;
  }

  /** Seeded plus created records of a kind: the positions a full list walks. */
  size(kind: Kind): number {
    return this.seeded(kind) + (this.created.get(kind)?.length ?? 0);
  }

  idAt(kind: Kind, position: number): string {
    const seeded = this.seeded(kind);
    if (position < seeded) return idFor(this.seed, kind, position);
    return this.created.get(kind)?.[position - seeded] ?? '';
  }

  id(kind: Kind, index: number): string {
    return idFor(this.seed, kind, index);
  }

  /** The current record behind an id of the expected kind, or `undefined` (unknown, other kind, deleted). */
  get(id: string, kind?: Kind): Rec | undefined {
    if (this.overlay.has(id)) {
      const rec = this.overlay.get(id) ?? undefined;
      if (rec && kind && this.kindOf(id) !== kind) return undefined;
      return rec;
    }
    const parsed = parseId(this.seed, id);
    if (!parsed || (kind && parsed.kind !== kind)) return undefined;
    if (parsed.index >= this.seeded(parsed.kind)) return undefined;
    return this.generate(parsed.kind, parsed.index);
  }

  at(kind: Kind, position: number): Rec | undefined {
    const id = this.idAt(kind, position);
    return id ? this.get(id, kind) : undefined;
  }

  kindOf(id: string): Kind | undefined {
    const rec = this.overlay.get(id);
    if (rec && typeof rec._kind === 'string') return rec._kind as Kind;
    return parseId(this.seed, id)?.kind;
  }

  /** Changes of an id, ascending. */
  changesOf(id: string): readonly number[] {
    return this.seqs.get(id) ?? [];
  }

  /** Children created through the API under a parent. */
  createdChildrenOf(kind: Kind, parentId: string): readonly string[] {
    return this.createdChildren.get(`${kind}:${parentId}`) ?? [];
  }

  private record(kind: Kind, id: string, op: Change['op'], mergedIntoId?: string): Change {
    const change: Change = { seq: this.log.length + 1, kind, id, op, at: new Date().toISOString() };
    if (mergedIntoId) change.mergedIntoId = mergedIntoId;
    this.log.push(change);
    const list = this.seqs.get(id) ?? [];
    list.push(change.seq);
    this.seqs.set(id, list);
    return change;
  }

  /** Subscribes to every change; returns the unsubscribe function. */
  onEvent(listener: (event: WorldEvent) => void): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /** Tells listeners about an event that is not a change of its own (e.g. `candidateStageChange`). */
  announce(action: string, record: Rec): void {
    this.emit({ action, record });
  }

  private emit(event: WorldEvent): void {
    for (const l of this.listeners) {
      try {
        l(event);
      } catch {
        // A listener's failure must never fail the API write that triggered it.
      }
    }
  }

  /** Adds a record created through the API; `parentId` makes it listable under its parent. */
  create(kind: Kind, build: (id: string, index: number) => Rec, parentId?: string): Rec {
    const list = this.created.get(kind) ?? [];
    const index = this.seeded(kind) + list.length;
    const id = idFor(this.seed, kind, index);
    const rec = build(id, index);
    Object.defineProperty(rec, '_kind', { value: kind, enumerable: false });
    list.push(id);
    this.created.set(kind, list);
    if (parentId) {
      const key = `${kind}:${parentId}`;
      const children = this.createdChildren.get(key) ?? [];
      children.push(id);
      this.createdChildren.set(key, children);
    }
    this.overlay.set(id, rec);
    if (kind === 'candidate') this.indexEmails(rec);
    if (kind === 'opening') this.touchedOpenings.add(id);
    this.emit({ change: this.record(kind, id, 'create'), record: rec });
    return rec;
  }

  /** Replaces a record's fields; bumps `updatedAt` where the kind has one. */
  update(id: string, patch: Record<string, unknown>): Rec | undefined {
    const kind = this.kindOf(id);
    const current = this.get(id);
    if (!kind || !current) return undefined;
    const next: Rec = { ...current, ...patch, id };
    if ('updatedAt' in current) next.updatedAt = new Date().toISOString();
    Object.defineProperty(next, '_kind', { value: kind, enumerable: false });
    this.overlay.set(id, next);
    if (kind === 'candidate') this.indexEmails(next);
    if (kind === 'opening') this.touchedOpenings.add(id);
    this.emit({ change: this.record(kind, id, 'update'), record: next });
    return next;
  }

  delete(id: string, mergedIntoId?: string): boolean {
    const kind = this.kindOf(id);
    const before = this.get(id);
    if (!kind || !before) return false;
    const survivor = mergedIntoId ? this.get(mergedIntoId) : undefined;
    this.overlay.set(id, null);
    const change = this.record(kind, id, mergedIntoId ? 'merge' : 'delete', mergedIntoId);
    this.emit(survivor ? { change, record: before, mergedInto: survivor } : { change, record: before });
    return true;
  }

  /** Project ids of a candidate: a seeded share plus those added through `candidate.addProject`. */
  projectIdsOf(candidateId: string): string[] {
    const ids: string[] = [];
    const index = this.indexOf(candidateId, 'candidate');
    const projects = this.seeded('project');
    // Every seventh seeded candidate sits in one sourcing project.
    if (index !== undefined && index < this.seeded('candidate') && projects > 0 && index % 7 === 3) {
      ids.push(this.id('project', Math.floor(index / 7) % projects));
    }
    for (const p of this.addedProjects.get(candidateId) ?? []) if (!ids.includes(p)) ids.push(p);
    return ids;
  }

  addProject(candidateId: string, projectId: string): void {
    const list = this.addedProjects.get(candidateId) ?? [];
    if (!list.includes(projectId)) list.push(projectId);
    this.addedProjects.set(candidateId, list);
  }

  /** Current openings whose latest version lists the job: seeded opening i belongs to job i. */
  openingsOfJob(jobId: string): Rec[] {
    const out: Rec[] = [];
    const ids = new Set(this.touchedOpenings);
    const index = this.indexOf(jobId, 'job');
    if (index !== undefined && index < this.seeded('opening')) ids.add(this.id('opening', index));
    for (const id of ids) {
      const o = this.get(id, 'opening');
      const jobs = (o?.latestVersion as Rec | undefined)?.jobIds;
      if (o && Array.isArray(jobs) && jobs.includes(jobId)) out.push(o);
    }
    return out;
  }

  /** Index of a seeded or created record of `kind`, from its id. */
  indexOf(id: string, kind: Kind): number | undefined {
    const parsed = parseId(this.seed, id);
    return parsed && parsed.kind === kind ? parsed.index : undefined;
  }

  /** Every current record of a small kind (metadata lists, searches over jobs and users). */
  allOf(kind: Kind): Rec[] {
    const out: Rec[] = [];
    const size = this.size(kind);
    for (let p = 0; p < size; p++) {
      const rec = this.at(kind, p);
      if (rec) out.push(rec);
    }
    return out;
  }

  /**
   * candidate.search: email and name combine with AND; at most 100 results. An email lookup costs O(1)
   * (seeded addresses carry their index; written ones are indexed), a name-only search scans.
   */
  searchCandidates(
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
        rec.emailAddresses.some(
          (e) => String((e as Rec).value).toLowerCase() === email.trim().toLowerCase(),
        ));
    if (email !== undefined) {
      const wanted = email.trim().toLowerCase();
      const ids = new Set(this.emailIndex.get(wanted) ?? []);
      const m = /\.(\d+)@example\.com$/.exec(wanted) ?? /^c(\d+)@work\.example\.org$/.exec(wanted);
      if (m) {
        const index = Number(m[1]);
        if (index < this.seeded('candidate')) ids.add(this.id('candidate', index));
      }
      for (const id of ids) {
        const rec = this.get(id, 'candidate');
        if (rec && hasEmail(rec) && matchesName(rec) && accept(rec)) out.push(rec);
      }
      return out.slice(0, 100);
    }
    const size = this.size('candidate');
    for (let p = 0; p < size && out.length < 100; p++) {
      const rec = this.at('candidate', p);
      if (rec && matchesName(rec) && accept(rec)) out.push(rec);
    }
    return out;
  }

  private indexEmails(rec: Rec): void {
    if (!Array.isArray(rec.emailAddresses)) return;
    for (const e of rec.emailAddresses) {
      const value = String((e as Rec).value ?? '').toLowerCase();
      const set = this.emailIndex.get(value) ?? new Set<string>();
      set.add(rec.id);
      this.emailIndex.set(value, set);
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // Confidential access: records on confidential jobs are invisible to keys without the toggle.

  jobIsConfidential(jobId: string): boolean {
    if (!this.overlay.has(jobId)) {
      const parsed = parseId(this.seed, jobId);
      if (parsed?.kind === 'job' && parsed.index < this.seeded('job'))
        return this.jobConfidential(parsed.index);
    }
    return this.get(jobId, 'job')?.confidential === true;
  }

  applicationIsConfidential(appId: string): boolean {
    if (!this.overlay.has(appId)) {
      const parsed = parseId(this.seed, appId);
      if (parsed?.kind === 'application' && parsed.index < this.seeded('application')) {
        return this.jobConfidential(this.jobOfApplication(parsed.index));
      }
    }
    const app = this.get(appId, 'application');
    const job = app?.job as Rec | undefined;
    return typeof job?.id === 'string' && this.jobIsConfidential(job.id);
  }

  /** A candidate is hidden when it has applications and every one of them is on a confidential job. */
  candidateIsConfidential(candidate: Rec): boolean {
    const apps = Array.isArray(candidate.applicationIds) ? candidate.applicationIds : [];
    if (apps.length === 0) return false;
    return apps.every((a) => typeof a === 'string' && this.applicationIsConfidential(a));
  }

  visibleWithoutConfidential(kind: string, rec: Rec): boolean {
    switch (kind) {
      case 'job':
        return rec.confidential !== true;
      case 'project':
        return rec.confidential !== true;
      case 'application':
        return !this.applicationIsConfidential(rec.id);
      case 'candidate':
        return !this.candidateIsConfidential(rec);
      case 'jobPosting':
        return typeof rec.jobId !== 'string' || !this.jobIsConfidential(rec.jobId);
      case 'opening': {
        const v = rec.latestVersion as Rec | undefined;
        const jobs = Array.isArray(v?.jobIds) ? v.jobIds : [];
        return jobs.length === 0 || jobs.some((j) => typeof j === 'string' && !this.jobIsConfidential(j));
      }
      case 'interview':
        return typeof rec.jobId !== 'string' || !this.jobIsConfidential(rec.jobId);
      case 'approval': {
        // The approved entity is an offer version; offer n's versions are numbered n as well.
        const version =
          typeof rec.entityId === 'string' ? this.indexOf(rec.entityId, 'offerVersion') : undefined;
        return version === undefined || this.visibleById('offer', this.id('offer', version));
      }
      case 'clientInfo':
        return (
          typeof rec.relatedEntityId !== 'string' || !this.applicationIsConfidential(rec.relatedEntityId)
        );
      default:
        if (typeof rec.applicationId === 'string') return !this.applicationIsConfidential(rec.applicationId);
        return true;
    }
  }

  private visibleById(kind: Kind, id: string): boolean {
    const rec = this.get(id, kind);
    return rec !== undefined && this.visibleWithoutConfidential(kind, rec);
  }

  // ---------------------------------------------------------------------------------------------------
  // Seeded generation

  private rng(kind: Kind, index: number): Rng {
    return rngFor(this.seed, kind, index);
  }

  private time(kind: Kind, index: number, rng: Rng): number {
    const count = Math.max(1, this.seeded(kind));
    return EPOCH + Math.floor((index / count) * SPAN) + rng.int(0, DAY);
  }

  generate(kind: Kind, index: number): Rec | undefined {
    this.generated++;
    const rng = this.rng(kind, index);
    const id = this.id(kind, index);
    switch (kind) {
      case 'candidate':
        return this.candidate(index, id, rng);
      case 'application':
        return this.application(index, id, rng);
      case 'job':
        return this.job(index, id, rng);
      case 'user':
        return this.user(index, id, rng);
      case 'department':
        return {
          id,
          name:
            index === 2
              ? 'R&D / "Platform"'
              : `Department ${index} ${rng.pick(['Engineering', 'Sales', 'Ops', 'Talent', 'Ünïcødé'])}`,
          // Department 3 is archived at every scale, so the archived filter always has something to cut.
          isArchived: index === 3 || (index > 3 && rng.chance(0.1)),
          ...(index > 0 ? { parentId: this.id('department', rng.int(0, index - 1)) } : {}),
          externalName: `Dept ${index}`,
          ...this.createdAndUpdated('department', index, rng),
          ...(index % 3 === 0 ? { extraData: { hris_department_code: `D-${100 + index}` } } : {}),
        };
      case 'location':
        return locationRecord(
          { offices: this.offices(), idOf: (position) => this.id('location', position) },
          index,
          id,
          rng,
        );
      case 'sourceType':
        return { id, title: SOURCE_TYPES[index] ?? 'Other', isArchived: false };
      case 'source': {
        const [title, type] = SOURCES[index] ?? ['Other', 0];
        return { id, title, isArchived: index === 9, sourceType: this.generate('sourceType', type) };
      }
      case 'archiveReason': {
        const [text, reasonType] = ARCHIVE_REASONS[index] ?? ['Other', 'Other'];
        return { id, text, reasonType, isArchived: index === 6 };
      }
      case 'candidateTag':
        return { id, title: TAGS[index] ?? `Tag ${index}`, isArchived: index === 15 };
      case 'customField':
        return this.customFieldDef(index, id);
      case 'interviewPlan':
        return {
          id,
          title: `Interview plan ${index}${index === 1 ? ' (ｆｕｌｌｗｉｄｔｈ)' : ''}`,
          isArchived: index % 7 === 6 || index === this.seeded('interviewPlan') - 1,
          ...this.createdAndUpdated('interviewPlan', index, rng),
        };
      case 'interviewStage': {
        const plan = Math.floor(index / STAGE_SLOTS);
        const k = index % STAGE_SLOTS;
        const [title, type] = STAGES[k] ?? ['Stage', 'Active'];
        return {
          id,
          title,
          type,
          orderInInterviewPlan: k,
          interviewStageGroupId: this.id('interviewStageGroup', Math.min(3, Math.floor(k / 2))),
          interviewPlanId: this.id('interviewPlan', plan),
        };
      }
      case 'interviewStageGroup':
        return {
          id,
          title: ['Lead', 'Screening', 'Interviewing', 'Decision'][index] ?? 'Group',
          order: index,
          stageType: ['Lead', 'PreInterviewScreen', 'Active', 'Offer'][index] ?? 'Active',
        };
      case 'interview':
        return interviewRecord(this, index, id, rng);
      case 'interviewSchedule':
        return this.interviewSchedule(index, id, rng);
      case 'interviewEvent':
        return this.interviewEvent(index, id, rng);
      case 'applicationFeedback':
        return this.feedback(index, id, rng);
      case 'offer':
        return this.offer(index, id, rng);
      case 'opening':
        return this.opening(index, id, rng);
      case 'jobPosting':
        return this.jobPosting(index, id, rng);
      case 'jobBoard':
        return { id, title: index === 0 ? 'Careers site' : 'Internal board', isInternal: index === 1 };
      case 'project':
        return {
          id,
          title: `Project ${index}${index === 0 ? ' — “Confidential” search' : ''}`,
          description: index === 1 ? longText('project') : 'Sourcing project',
          isArchived: index % 9 === 8,
          confidential: index === 0,
          authorId: this.id('user', index % this.seeded('user')),
          createdAt: iso(this.time('project', index, rng)),
          // Projects keep their custom field values here, not in `customFields` (2026 spec).
          customFieldEntries: this.customFields('Talent_Project', rng, index === 1 ? 'long' : ''),
        };
      case 'note':
        return this.note(index, id, rng);
      case 'approval':
        return this.approval(index, id, rng);
      case 'hiringTeamRole':
        return { id, title: ['Recruiter', 'Hiring Manager', 'Coordinator', 'Sourcer'][index] ?? 'Member' };
      case 'jobTemplate':
        return {
          id,
          title: `${JOB_TITLES[index % JOB_TITLES.length]} template`,
          // jobTemplate.list returns active and inactive templates (2026 spec); the last one is inactive.
          status: index === 4 ? 'Inactive' : 'Active',
          departmentId: this.id('department', index % this.seeded('department')),
          locationId: this.id('location', index % this.offices()),
          defaultInterviewPlanId: this.id('interviewPlan', this.planOfJob(index)),
          interviewPlanIds: [this.id('interviewPlan', this.planOfJob(index))],
          employmentType: 'FullTime',
          ...this.createdAndUpdated('jobTemplate', index, rng),
        };
      case 'surveyFormDefinition':
        return {
          id,
          title: ['Candidate experience', 'EEOC (US)', 'Diversity — voluntary'][index] ?? 'Survey',
          isArchived: false,
          isDefaultForm: index === 0,
          organizationId: this.organizationId(),
          surveyType: ['CandidateExperience', 'EEOC', 'Diversity'][index] ?? 'Questionnaire',
          formDefinition: this.formDefinition('survey', index),
        };
      case 'surveyRequest': {
        const app = parentOf(index, this.seeded('application'), this.seeded('surveyRequest'));
        const form = index % this.seeded('surveyFormDefinition');
        return {
          id,
          candidateId: this.id('candidate', this.candidateOfApplication(app)),
          applicationId: this.id('application', app),
          surveyFormDefinitionId: this.id('surveyFormDefinition', form),
          surveyUrl: `https://app.ashbyhq.com/surveys/${id}`,
        };
      }
      case 'surveySubmission': {
        const request = parentOf(index, this.seeded('surveyRequest'), this.seeded('surveySubmission'));
        const app = parentOf(request, this.seeded('application'), this.seeded('surveyRequest'));
        const form = request % this.seeded('surveyFormDefinition');
        return {
          id,
          submittedAt: iso(this.time('application', app, rng) + 5 * DAY),
          candidateId: this.id('candidate', this.candidateOfApplication(app)),
          applicationId: this.id('application', app),
          surveyType: ['CandidateExperience', 'EEOC', 'Diversity'][form] ?? 'Questionnaire',
          formDefinition: this.formDefinition('survey', form),
          submittedValues: {
            _systemfield_rating: rng.int(1, 5),
            comments: rng.chance(0.5) ? 'Great 👍' : null,
          },
        };
      }
      case 'interviewerPool':
        return interviewerPoolRecord(this, index, id);
      case 'sourceTrackingLink':
        return {
          id,
          code: `src-${index}`,
          enabled: index !== 3,
          sourceId: this.id('source', index % this.seeded('source')),
          link: `https://jobs.ashbyhq.com/sandbox?utm_source=src-${index}`,
        };
      case 'feedbackFormDefinition':
        return {
          id,
          title:
            ['Default scorecard', 'Technical', 'Culture "add"', 'Leadership', 'Take-home'][index] ?? 'Form',
          isArchived: index === 4,
          formDefinition: this.formDefinition('feedback', index),
          organizationId: this.organizationId(),
          isDefaultForm: index === 0,
          ...(index === 0 ? {} : { interviewId: this.id('interview', index) }),
        };
      case 'brand':
        return {
          id,
          name: index === 0 ? 'Sandbox Inc.' : 'Sandbox Labs — "Research" 🔬',
          hostedJobsPageSlug: index === 0 ? 'sandbox' : 'sandbox-labs',
        };
      case 'closeReason': {
        const [reasonText, archived] = CLOSE_REASONS[index] ?? ['Other', false];
        return { id, reasonText, isArchived: archived };
      }
      case 'communicationTemplate': {
        const [title, intendedTypes] = COMMUNICATION_TEMPLATES[index] ?? ['Template', ['email']];
        const created = this.time('communicationTemplate', index, rng);
        return {
          id,
          title,
          intendedTypes: [...intendedTypes],
          createdAt: iso(created),
          updatedAt: iso(created + rng.int(0, 90) * DAY),
        };
      }
      case 'clientInfo': {
        const app = this.id('application', index);
        const candidate = this.candidateOfApplication(index);
        return {
          id,
          ipAddress:
            index % 4 === 3 ? `2001:db8::${(index % 0xffff).toString(16)}` : `198.51.100.${index % 250}`,
          userAgent: rng.pick([
            'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/135.0.0.0 Safari/537.36',
            'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
            'curl/8.5.0',
          ]),
          relatedEntityType: 'application',
          relatedEntityId: app,
          candidateId: this.id('candidate', candidate),
          createdAt: iso(this.time('application', index, this.rng('application', index))),
        };
      }
      default:
        return undefined;
    }
  }

  /** AI criteria evaluations of an application (`application.listCriteriaEvaluations`): 0 to 2. */
  criteriaEvaluationsOf(appId: string): Rec[] {
    const index = this.indexOf(appId, 'application');
    if (index === undefined || index >= this.seeded('application')) return [];
    const rng = this.rng('criteriaEvaluation', index);
    const n = index % 3;
    const out: Rec[] = [];
    for (let k = 0; k < n; k++) {
      const status = rng.pick(['Completed', 'Completed', 'Skipped', 'Pending']);
      const done = status === 'Completed';
      out.push({
        id: this.id('criteriaEvaluation', index * 2 + k),
        criterion: {
          id: this.id('criteriaEvaluation', 0x800000 + k),
          title: k === 0 ? 'Location' : 'Years of "relevant" experience',
          type: 'ResumePrompt',
          prompt:
            k === 0
              ? "Evaluate if the candidate's location aligns with the job requirements."
              : 'Does the résumé show 5+ years of relevant experience?',
          applicationFormDefinitionId: null,
          applicationFormFieldPath: null,
        },
        status,
        outcome: done ? rng.pick(['Meets', 'Does Not Meet']) : null,
        reasoning: done ? 'Stated on the résumé — see "Experience".' : null,
        skipReason: status === 'Skipped' ? 'NoResume' : null,
        outcomeNumber: done ? Math.round(rng.next() * 100) / 100 : null,
        evaluatedAt: done ? iso(this.time('application', index, this.rng('application', index)) + DAY) : null,
      });
    }
    return out;
  }

  organizationId(): string {
    return idFor(this.seed, 'user', 0x7ffffff);
  }

  candidateOfApplication(app: number): number {
    return parentOf(app, this.seeded('candidate'), this.seeded('application'));
  }

  /** Seeded application positions of a seeded candidate. */
  applicationsOfCandidate(candidate: number): [number, number] {
    return childrenOf(candidate, this.seeded('candidate'), this.seeded('application'));
  }

  /** The job a seeded application is on: never a Draft job. */
  jobOfApplication(app: number): number {
    const jobs = this.seeded('job');
    let j = Math.floor(this.rng('application', app).next() * jobs);
    for (let n = 0; n < jobs && this.jobStatus(j) === 'Draft'; n++) j = (j + 1) % jobs;
    return j;
  }

  jobStatus(job: number): string {
    if (job < 4) return ['Open', 'Open', 'Closed', 'Draft'][job] ?? 'Open';
    const r = this.rng('job', job).next();
    return r < 0.05 ? 'Draft' : r < 0.55 ? 'Open' : r < 0.85 ? 'Closed' : 'Archived';
  }

  /** Exactly 5 % of jobs are confidential, job 1 first so that every scale has one. */
  jobConfidential(job: number): boolean {
    return job % 20 === 1;
  }

  applicationStatus(app: number): string {
    if (app % 20 === 7) return 'Hired';
    const r = this.rng('application', app + 0x200000).next();
    return r < 0.5 ? 'Active' : r < 0.85 ? 'Archived' : 'Lead';
  }

  private stageOf(_app: number, status: string, rng: Rng): number {
    if (status === 'Lead') return 0;
    if (status === 'Hired') return 5;
    if (status === 'Archived') return 6;
    return rng.int(1, 4);
  }

  private planOfJob(job: number): number {
    return job % (this.seeded('interviewPlan') - 1);
  }

  /** Offices (locations that are not regions): the positions a job or template takes its location from. */
  offices(): number {
    return this.seeded('location') - REGIONS.length;
  }

  /** `createdAt` and a later `updatedAt` of a seeded record, spread over the seeded history. */
  private createdAndUpdated(kind: Kind, index: number, rng: Rng): { createdAt: string; updatedAt: string } {
    const created = this.time(kind, index, rng);
    return { createdAt: iso(created), updatedAt: iso(created + rng.int(0, 200) * DAY) };
  }

  userSummary(index: number): Rec {
    const u =
      this.get(this.id('user', index), 'user') ??
      this.user(index, this.id('user', index), this.rng('user', index));
    // Embedded users have the shape of user.info (2026 spec), manager and custom fields included.
    return {
      id: u.id,
      firstName: u.firstName,
      lastName: u.lastName,
      email: u.email,
      globalRole: u.globalRole,
      isEnabled: u.isEnabled,
      updatedAt: u.updatedAt,
      ...(u.managerId !== undefined ? { managerId: u.managerId } : {}),
      ...(u.customFields !== undefined ? { customFields: u.customFields } : {}),
    };
  }

  hiringTeam(seedIndex: number): Array<Record<string, unknown>> {
    const users = this.seeded('user');
    const roles = ['Recruiter', 'Hiring Manager'];
    return roles.map((role, k) => {
      const u = this.userSummary((seedIndex * 7 + k * 3) % users);
      return { email: u.email, firstName: u.firstName, lastName: u.lastName, role, userId: u.id };
    });
  }

  private user(index: number, id: string, rng: Rng): Rec {
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
      updatedAt: iso(this.time('user', index, rng)),
      ...(index > 0 ? { managerId: this.id('user', Math.floor((index - 1) / 4)) } : {}),
      ...(index % 3 === 2 ? {} : { customFields: this.employeeFields(index) }),
    };
  }

  /** An Ashby user's own custom fields (object type Employee): an HR id and an office. */
  private employeeFields(index: number): Rec[] {
    const out: Rec[] = [];
    CUSTOM_FIELDS.forEach((def, field) => {
      if (def.objectType !== 'Employee') return;
      const options = SELECTABLE[def.title];
      const value = options ? options[index % options.length] : `E-${1000 + index}`;
      out.push(this.customFieldEntry(field, value));
    });
    return out;
  }

  private customFieldValue(def: { title: string; fieldType: string }, rng: Rng, tag: string): unknown {
    switch (def.fieldType) {
      case 'Boolean':
        return rng.chance(0.5);
      case 'Date':
        return iso(EPOCH + rng.int(0, SPAN));
      case 'String':
        return rng.pick(['yes', 'Ünïcødé 🚀', 'quote " and \\ backslash', 'multi\nline', '']);
      case 'LongText':
        return tag === 'long' ? longText('custom field') : 'A few paragraphs.\n\nSecond paragraph — ok.';
      case 'Number':
        return rng.int(0, 30);
      case 'NumberRange': {
        const min = rng.int(0, 8);
        return { type: 'number-range', minValue: min, maxValue: min + rng.int(0, 8) };
      }
      case 'Currency':
        return { value: rng.int(40, 400) * 1000, currencyCode: rng.pick(['USD', 'EUR', 'JPY']) };
      case 'CompensationRange': {
        const min = rng.int(60, 200) * 1000;
        return {
          type: 'compensation-range',
          minValue: min,
          maxValue: min + 20000,
          currencyCode: 'USD',
          interval: '1 YEAR',
        };
      }
      case 'ValueSelect':
        return rng.pick(SELECTABLE[def.title] ?? ['A']);
      case 'MultiValueSelect': {
        const options = SELECTABLE[def.title] ?? ['A'];
        return options.filter(() => rng.chance(0.4));
      }
      default:
        return null;
    }
  }

  private customFields(objectType: string, rng: Rng, tag = ''): Rec[] {
    const out: Rec[] = [];
    CUSTOM_FIELDS.forEach((def, index) => {
      if (def.objectType !== objectType || def.archived) return;
      if (!rng.chance(0.6) && tag !== 'long') return;
      out.push(this.customFieldEntry(index, this.customFieldValue(def, rng, tag)));
    });
    return out;
  }

  /** A custom field value as records carry it, for the definition at `index` of {@link CUSTOM_FIELDS}. */
  customFieldEntry(index: number, value: unknown): Rec {
    const def = CUSTOM_FIELDS[index];
    if (!def) throw new Error(`no custom field definition ${index}`);
    return valueEntry(this.id('customField', index), def, index, value) as Rec;
  }

  private customFieldDef(index: number, id: string): Rec | undefined {
    const def = CUSTOM_FIELDS[index];
    if (!def) return undefined;
    const values = SELECTABLE[def.title];
    return {
      id,
      title: def.title,
      objectType: def.objectType,
      isArchived: def.archived === true,
      fieldType: def.fieldType,
      ...definitionDetails(def, index),
      ...(values ? { selectableValues: values.map((v) => ({ label: v, value: v, isArchived: false })) } : {}),
    };
  }

  /** Whether a key without confidential access may see a seeded candidate (not only on confidential jobs). */
  private candidate(index: number, id: string, rng: Rng): Rec {
    const first = rng.pick(FIRST_NAMES);
    const last = rng.pick(LAST_NAMES);
    const name = index % 97 === 13 ? `  ${first}\t${last}  ` : `${first} ${last}`;
    const created = this.time('candidate', index, rng);
    const [from, to] = this.applicationsOfCandidate(index);
    const applicationIds: string[] = [];
    for (let a = from; a < to; a++) applicationIds.push(this.id('application', a));
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
    const tags = rng.chance(0.3) ? [this.generate('candidateTag', rng.int(0, TAGS.length - 1))] : [];
    const source = this.generate('source', rng.int(0, SOURCES.length - 1));
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
      customFields: this.customFields('Candidate', rng, index === 2 ? 'long' : ''),
      profileUrl: `https://app.ashbyhq.com/candidates/${id}`,
      ...(source ? { source } : {}),
      timezone: rng.pick(TIMEZONES),
      primaryLocation: {
        id: this.id('location', 1000 + (index % 8)),
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
      const handle = { id: this.id('file', index), name: `résumé ${index}.pdf`, handle: `fh_${index}` };
      rec.resumeFileHandle = handle;
      rec.fileHandles = [handle];
    }
    if (rng.chance(0.3)) rec.creditedToUser = this.userSummary(rng.int(0, this.seeded('user') - 1));
    // The 2026 spec calls the primary location `location`; the 2024 spec called it `primaryLocation`.
    // Which one an account sends depends on its API version, so the sandbox sends both.
    rec.location = rec.primaryLocation;
    rec.fraudStatus = index % 10 === 0 ? 'PassedFraudCheck' : index % 50 === 25 ? 'Unreviewed' : null;
    return rec;
  }

  candidateSummary(candidateId: string): Rec {
    const c = this.get(candidateId, 'candidate');
    const out: Rec = { id: candidateId, name: typeof c?.name === 'string' ? c.name : '' };
    if (c?.primaryEmailAddress) out.primaryEmailAddress = c.primaryEmailAddress;
    if (c?.primaryPhoneNumber) out.primaryPhoneNumber = c.primaryPhoneNumber;
    return out;
  }

  stageRecord(plan: number, k: number): Rec {
    return this.generate('interviewStage', plan * STAGE_SLOTS + k) as Rec;
  }

  stagesOfPlan(planId: string): Rec[] {
    const parsed = parseId(this.seed, planId);
    if (parsed?.kind !== 'interviewPlan' || parsed.index >= this.seeded('interviewPlan')) return [];
    return STAGES.map((_, k) => this.stageRecord(parsed.index, k));
  }

  jobSummary(jobId: string): Rec {
    const job = this.get(jobId, 'job');
    const out: Rec = { id: jobId, title: typeof job?.title === 'string' ? job.title : '' };
    if (typeof job?.locationId === 'string') out.locationId = job.locationId;
    if (typeof job?.departmentId === 'string') out.departmentId = job.departmentId;
    if (typeof job?.brandId === 'string') out.brandId = job.brandId;
    return out;
  }

  /** Every fourth job is advertised under the second brand. */
  brandOfJob(job: number): string {
    return this.id('brand', job % 4 === 3 && this.seeded('brand') > 1 ? 1 : 0);
  }

  private application(index: number, id: string, rng: Rng): Rec {
    const candidate = this.candidateOfApplication(index);
    const job = this.jobOfApplication(index);
    const status = this.applicationStatus(index);
    const k = this.stageOf(index, status, rng);
    const plan = this.planOfJob(job);
    const created = Math.max(
      this.time('application', index, rng),
      this.time('candidate', candidate, this.rng('candidate', candidate)),
    );
    const rec: Rec = {
      id,
      createdAt: iso(created),
      updatedAt: iso(created + rng.int(1, 120) * DAY),
      status,
      customFields: this.customFields('Application', rng),
      candidate: this.candidateSummary(this.id('candidate', candidate)),
      currentInterviewStage: this.stageRecord(plan, k),
      job: this.jobSummary(this.id('job', job)),
      hiringTeam: this.hiringTeam(job),
      ...(rng.chance(0.5) ? { appliedViaJobPostingId: this.id('jobPosting', job) } : {}),
    };
    const source = this.generate('source', rng.int(0, SOURCES.length - 1));
    if (source) rec.source = source;
    if (status === 'Archived') {
      const reason = this.generate('archiveReason', rng.int(0, ARCHIVE_REASONS.length - 1));
      // The 2026 spec adds the archive reason's detail fields; the sandbox organisation has none set up.
      if (reason) rec.archiveReason = { ...reason, customFields: [] };
      rec.archivedAt = iso(created + rng.int(121, 200) * DAY);
    }
    if (rng.chance(0.2)) rec.creditedToUser = this.userSummary(rng.int(0, this.seeded('user') - 1));
    if (rec.appliedViaJobPostingId !== undefined) {
      // Applied through the job board: Ashby keeps the client the form was submitted from.
      const client = this.generate('clientInfo', index);
      if (client) {
        rec.submitterClientIp = client.ipAddress;
        rec.submitterUserAgent = client.userAgent;
      }
    }
    return rec;
  }

  /** Stage history of an application, oldest first (application.listHistory). */
  historyOf(app: Rec): Rec[] {
    const stage = app.currentInterviewStage as Rec | undefined;
    const order = typeof stage?.orderInInterviewPlan === 'number' ? stage.orderInInterviewPlan : 0;
    const planId = typeof stage?.interviewPlanId === 'string' ? stage.interviewPlanId : '';
    const stages = this.stagesOfPlan(planId);
    const start = Date.parse(String(app.createdAt));
    const steps = order === 6 ? [0, 1, 6] : Array.from({ length: order + 1 }, (_, i) => i);
    const parsed = parseId(this.seed, app.id);
    const base = (parsed?.index ?? 0) * STAGE_SLOTS;
    return steps.map((k, n) => {
      const s = stages[k];
      const entered = start + n * 3 * DAY;
      const entry: Rec = {
        id: this.id('applicationHistory', base + n),
        stageId: s?.id ?? '',
        title: typeof s?.title === 'string' ? s.title : '',
        enteredStageAt: iso(entered),
        stageNumber: n,
        allowedActions: n === 0 ? ['none'] : ['delete', 'set_entered_at'],
      };
      // Who moved the application: a user for every later stage; the first stage is where it was created.
      if (n > 0) entry.actorId = this.id('user', (base + n) % this.seeded('user'));
      if (n < steps.length - 1) entry.leftStageAt = iso(entered + 3 * DAY);
      return entry;
    });
  }

  private job(index: number, id: string, rng: Rng): Rec {
    const status = this.jobStatus(index);
    const created = this.time('job', index, rng);
    const plan = this.planOfJob(index);
    const rec: Rec = {
      id,
      title: `${rng.pick(JOB_TITLES)}${index === 1 ? ' (Confidential: CEO search)' : ''}`,
      confidential: this.jobConfidential(index),
      status,
      employmentType: rng.pick(['FullTime', 'FullTime', 'PartTime', 'Contract', 'Intern']),
      locationId: this.id('location', rng.int(0, this.offices() - 1)),
      departmentId: this.id('department', rng.int(0, this.seeded('department') - 1)),
      defaultInterviewPlanId: this.id('interviewPlan', plan),
      interviewPlanIds: [this.id('interviewPlan', plan)],
      customFields: this.customFields('Job', rng),
      jobPostingIds: [this.id('jobPosting', index)],
      ...(rng.chance(0.5) ? { customRequisitionId: `REQ-${1000 + index}` } : {}),
      brandId: this.brandOfJob(index),
      hiringTeam: this.hiringTeam(index),
      author: this.userSummary(index % this.seeded('user')),
      createdAt: iso(created),
      updatedAt: iso(created + rng.int(1, 60) * DAY),
    };
    if (status !== 'Draft') rec.openedAt = iso(created + DAY);
    if (status === 'Closed' || status === 'Archived') rec.closedAt = iso(created + rng.int(30, 200) * DAY);
    return rec;
  }

  private opening(index: number, id: string, rng: Rng): Rec {
    const jobStatus = this.jobStatus(index);
    const created = this.time('job', index, this.rng('job', index));
    const state =
      jobStatus === 'Draft' ? 'Draft' : jobStatus === 'Open' ? 'Open' : rng.pick(['Closed', 'Filled']);
    const job = this.get(this.id('job', index), 'job');
    const rec: Rec = {
      id,
      openedAt: iso(created + DAY),
      isArchived: jobStatus === 'Archived',
      openingState: state,
      latestVersion: {
        id: this.id('openingVersion', index),
        identifier: `OPEN-${index}`,
        description: index === 0 ? longText('opening') : 'Backfill or new headcount.',
        authorId: this.id('user', index % this.seeded('user')),
        createdAt: iso(created),
        teamId: typeof job?.departmentId === 'string' ? job.departmentId : this.id('department', 0),
        jobIds: [this.id('job', index)],
        targetHireDate: new Date(created + 60 * DAY).toISOString().slice(0, 10),
        targetStartDate: new Date(created + 90 * DAY).toISOString().slice(0, 10),
        isBackfill: rng.chance(0.2),
        employmentType: 'FullTime',
        locationIds: typeof job?.locationId === 'string' ? [job.locationId] : [],
        hiringTeam: this.hiringTeam(index),
        customFields: this.customFields('Opening', rng),
      },
    };
    if (state === 'Closed' || state === 'Filled') {
      rec.closedAt = iso(created + 90 * DAY);
      // The close reasons before the last are live (the last is archived).
      rec.closeReasonId = this.id('closeReason', index % Math.max(1, this.seeded('closeReason') - 1));
    }
    if (rec.isArchived) rec.archivedAt = iso(created + 120 * DAY);
    return rec;
  }

  private jobPosting(index: number, id: string, rng: Rng): Rec {
    const job = this.get(this.id('job', index), 'job');
    const location = typeof job?.locationId === 'string' ? this.get(job.locationId, 'location') : undefined;
    const department =
      typeof job?.departmentId === 'string' ? this.get(job.departmentId, 'department') : undefined;
    const created = this.time('job', index, this.rng('job', index));
    const workplace = typeof location?.workplaceType === 'string' ? location.workplaceType : undefined;
    return {
      id,
      title: typeof job?.title === 'string' ? job.title : '',
      jobId: this.id('job', index),
      departmentName: typeof department?.name === 'string' ? department.name : '',
      teamName: typeof department?.name === 'string' ? department.name : '',
      locationName: typeof location?.name === 'string' ? location.name : '',
      locationIds: {
        primaryLocationId: typeof job?.locationId === 'string' ? job.locationId : this.id('location', 0),
        secondaryLocationIds: [],
      },
      ...(typeof location?.externalName === 'string' ? { locationExternalName: location.externalName } : {}),
      ...(workplace ? { workplaceType: workplace } : {}),
      employmentType: typeof job?.employmentType === 'string' ? job.employmentType : 'FullTime',
      isListed: job?.status === 'Open' && !job.confidential,
      publishedDate: new Date(created + DAY).toISOString().slice(0, 10),
      ...(index % 3 === 0 ? { applicationDeadline: iso(created + 90 * DAY) } : {}),
      externalLink: `https://jobs.ashbyhq.com/sandbox/${id}`,
      applyLink: `https://jobs.ashbyhq.com/sandbox/${id}/application`,
      ...(rng.chance(0.5) ? { compensationTierSummary: '$120K – $160K • Offers Equity' } : {}),
      shouldDisplayCompensationOnJobBoard: rng.chance(0.5),
      updatedAt: iso(created + 2 * DAY),
    };
  }

  private interviewSchedule(index: number, id: string, rng: Rng): Rec {
    const app = parentOf(index, this.seeded('application'), this.seeded('interviewSchedule'));
    const appRec = this.get(this.id('application', app), 'application');
    const stage = appRec?.currentInterviewStage as Rec | undefined;
    const events: Rec[] = [];
    for (let k = 0; k < this.eventsPerSchedule(index); k++) {
      const ev = this.generate('interviewEvent', index * 4 + k);
      if (ev) events.push(ev);
    }
    const status = rng.pick(['Scheduled', 'Complete', 'WaitingOnFeedback', 'Cancelled', 'NeedsScheduling']);
    return {
      id,
      status,
      applicationId: this.id('application', app),
      interviewStageId: typeof stage?.id === 'string' ? stage.id : this.id('interviewStage', 0),
      // Who scheduled it; a schedule still waiting to be scheduled has nobody (left out).
      ...(status === 'NeedsScheduling'
        ? {}
        : { scheduledBy: this.userSummary((index * 5) % this.seeded('user')) }),
      interviewEvents: events,
      createdAt: events[0]?.createdAt ?? iso(this.time('application', app, rng)),
      updatedAt: events[0]?.createdAt ?? iso(this.time('application', app, rng)),
    };
  }

  eventsPerSchedule(schedule: number): number {
    return 1 + (this.rng('interviewSchedule', schedule).int(0, 9) % 3);
  }

  private interviewEvent(index: number, id: string, rng: Rng): Rec {
    const schedule = Math.floor(index / 4);
    const app = parentOf(schedule, this.seeded('application'), this.seeded('interviewSchedule'));
    const start = this.time('application', app, this.rng('application', app)) + (7 + (index % 4)) * DAY;
    const interview = rng.int(0, this.seeded('interview') - 1);
    const interviewers = eventInterviewers(this, index, rng.int(0, this.seeded('user') - 1));
    return {
      id,
      interviewId: this.id('interview', interview),
      interviewScheduleId: this.id('interviewSchedule', schedule),
      interviewerUserIds: interviewers.map((u) => u.id),
      interviewers,
      createdAt: iso(start - 2 * DAY),
      updatedAt: iso(start - 2 * DAY),
      startTime: iso(start),
      endTime: iso(start + 3_600_000),
      feedbackLink: `https://app.ashbyhq.com/interview-briefings/${id}/feedback`,
      location: index % 3 === 0 ? 'Room "Ada" — 3rd floor' : 'Video call',
      meetingLink: `https://meet.example.com/${id.slice(0, 8)}`,
      interviewerCalendarEventId: `cal-${id.slice(0, 13)}`,
      // Recorded by the AI Notetaker add-on on some interviews only.
      notetakerTranscriptId: index % 5 === 0 ? this.id('interviewEvent', 0x700000 + index) : null,
      ...(index % 7 === 0 ? { extraData: { scheduler_booking_ref: `BK-${index}` } } : {}),
      hasSubmittedFeedback: rng.chance(0.6),
      interview: this.generate('interview', interview),
    };
  }

  formDefinition(kind: string, index: number): Record<string, unknown> {
    return {
      sections: [
        {
          title: kind === 'feedback' ? 'Overall' : 'Your experience',
          descriptionHtml: '<p>Be specific.</p>',
          descriptionPlain: 'Be specific.',
          fields: [
            {
              isRequired: true,
              field: {
                id: this.id('feedbackFormDefinition', 100 + index),
                type: 'Score',
                path: 'overall_recommendation',
                humanReadablePath: 'Overall Recommendation',
                title: 'Overall Recommendation',
                isNullable: false,
              },
            },
            {
              isRequired: false,
              descriptionHtml: '<p>Anything else?</p>',
              descriptionPlain: 'Anything else?',
              field: {
                id: this.id('feedbackFormDefinition', 200 + index),
                type: 'RichText',
                path: 'notes',
                humanReadablePath: 'Notes',
                title: 'Notes',
                isNullable: true,
              },
            },
            {
              isRequired: false,
              field: {
                id: this.id('feedbackFormDefinition', 300 + index),
                type: 'ValueSelect',
                path: 'level',
                humanReadablePath: 'Level',
                title: 'Level',
                isNullable: true,
                selectableValues: [
                  { label: 'Below the bar', value: 'below' },
                  { label: 'At the bar', value: 'at' },
                  { label: 'Raises the bar', value: 'above' },
                ],
              },
            },
          ],
        },
      ],
    };
  }

  private feedback(index: number, id: string, rng: Rng): Rec {
    const app = parentOf(index, this.seeded('application'), this.seeded('applicationFeedback'));
    const form = index % this.seeded('feedbackFormDefinition');
    const submitted = this.time('application', app, this.rng('application', app)) + 10 * DAY;
    const rec: Rec = {
      id,
      formDefinition: this.formDefinition('feedback', form),
      submittedValues: {
        overall_recommendation: { score: rng.int(1, 4) },
        notes:
          index === 5
            ? longText('feedback')
            : rng.pick(['Strong hire.', '<b>Mixed</b> signals', 'Said "no" to \\ relocation', null]),
      },
      submittedByUser: this.userSummary(rng.int(0, this.seeded('user') - 1)),
      interviewId: this.id('interview', rng.int(0, this.seeded('interview') - 1)),
      feedbackFormDefinitionId: this.id('feedbackFormDefinition', form),
      applicationId: this.id('application', app),
      submittedAt: iso(submitted),
    };
    // Feedback is credited to whoever submitted it unless submitted on someone's behalf.
    rec.creditedToUser = rec.submittedByUser;
    const [firstSchedule, endSchedule] = childrenOf(
      app,
      this.seeded('application'),
      this.seeded('interviewSchedule'),
    );
    if (firstSchedule < endSchedule) rec.interviewEventId = this.id('interviewEvent', firstSchedule * 4);
    const appRec = this.get(this.id('application', app), 'application');
    const current = appRec ? this.historyOf(appRec).at(-1) : undefined;
    if (current) rec.applicationHistoryId = current.id;
    return rec;
  }

  private offer(index: number, id: string, rng: Rng): Rec {
    const app = index * 20 + 7;
    const created = this.time('application', app, this.rng('application', app)) + 30 * DAY;
    const version: Rec = {
      id: this.id('offerVersion', index),
      startDate: new Date(created + 30 * DAY).toISOString().slice(0, 10),
      salary: { currencyCode: 'USD', value: rng.int(80, 300) * 1000 },
      createdAt: iso(created),
      customFields: this.customFields('Offer', rng),
      fileHandles: [],
      author: this.userSummary(rng.int(0, this.seeded('user') - 1)),
      // Seeded opening i belongs to seeded job i.
      openingId: this.id('opening', this.jobOfApplication(app)),
      approvalStatus: 'Approved',
    };
    return {
      id,
      decidedAt: iso(created + 5 * DAY),
      applicationId: this.id('application', app),
      acceptanceStatus: 'Accepted',
      offerStatus: 'CandidateAccepted',
      latestVersion: version,
      versions: [version],
    };
  }

  private note(index: number, id: string, rng: Rng): Rec {
    const candidate = parentOf(index, this.seeded('candidate'), this.seeded('note'));
    const author = this.userSummary(rng.int(0, this.seeded('user') - 1));
    return {
      id,
      createdAt: iso(
        this.time('candidate', candidate, this.rng('candidate', candidate)) + rng.int(1, 30) * DAY,
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
  }

  private approval(index: number, id: string, rng: Rng): Rec {
    return approvalRecord(
      this,
      index,
      id,
      rng,
      iso(this.time('application', index * 20 + 7, rng) + 29 * DAY),
    );
  }
}
