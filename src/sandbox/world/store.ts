/**
 * The write side of the sandbox's world: an overlay of records written through the API over the seeded
 * ones, and the change log that drives `syncToken`s and webhooks. Nothing here is proportional to the
 * scale: seeded records are built on demand by {@link Store.generate}, which the world supplies.
 */
import { idFor, type Kind, parseId } from '../ids.js';

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

export abstract class Store {
  /** id → current record, or `null` for a deleted one. Only written records live here. */
  private readonly overlay = new Map<string, Rec | null>();
  /** Ids of records created through the API, per kind, in creation order (positions after the seeded ones). */
  private readonly created = new Map<Kind, string[]>();
  /** Children created through the API, keyed `kind:parentId`. */
  private readonly createdChildren = new Map<string, string[]>();
  /** Ids created or edited through the API, per kind: the only records that may differ from the seed. */
  private readonly written = new Map<Kind, Set<string>>();
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

  constructor(
    readonly seed: number,
    readonly counts: Partial<Record<Kind, number>>,
  ) {}

  /** The seeded record at `index` of `kind`, built on demand. */
  abstract generate(kind: Kind, index: number): Rec | undefined;

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

  /** Whether a record was written through the API (its seeded form, if any, no longer applies). */
  isWritten(id: string): boolean {
    return this.overlay.has(id);
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

  /** Changes of an id, ascending. */
  changesOf(id: string): readonly number[] {
    return this.seqs.get(id) ?? [];
  }

  /** Children created through the API under a parent. */
  createdChildrenOf(kind: Kind, parentId: string): readonly string[] {
    return this.createdChildren.get(`${kind}:${parentId}`) ?? [];
  }

  /** Ids of a kind created or edited through the API. */
  writtenIdsOf(kind: Kind): ReadonlySet<string> {
    return this.written.get(kind) ?? new Set();
  }

  /** Ids of written candidates that carried `email` (lower-cased) at some point; callers re-check. */
  candidatesWithEmail(email: string): ReadonlySet<string> {
    return this.emailIndex.get(email) ?? new Set();
  }

  /** Projects a candidate was added to through the API. */
  addedProjectsOf(candidateId: string): readonly string[] {
    return this.addedProjects.get(candidateId) ?? [];
  }

  addProject(candidateId: string, projectId: string): void {
    const list = this.addedProjects.get(candidateId) ?? [];
    if (!list.includes(projectId)) list.push(projectId);
    this.addedProjects.set(candidateId, list);
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
    this.wrote(kind, rec);
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
    this.wrote(kind, next);
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

  private wrote(kind: Kind, rec: Rec): void {
    const ids = this.written.get(kind) ?? new Set<string>();
    ids.add(rec.id);
    this.written.set(kind, ids);
    if (kind === 'candidate' && Array.isArray(rec.emailAddresses)) {
      for (const e of rec.emailAddresses) {
        const value = String((e as Rec).value ?? '').toLowerCase();
        const set = this.emailIndex.get(value) ?? new Set<string>();
        set.add(rec.id);
        this.emailIndex.set(value, set);
      }
    }
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

  private emit(event: WorldEvent): void {
    for (const l of this.listeners) {
      try {
        l(event);
      } catch {
        // A listener's failure must never fail the API write that triggered it.
      }
    }
  }
}
