/**
 * Shared set-up of the erasure tests: a canary person written into a sandbox candidate, the bytes of every
 * file of a target, the rows that are a person's (found from the test's side, not by the code under test),
 * and snapshots to compare other people's rows before and after.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Sandbox } from '../../src/sandbox/index.js';
import { type TestTarget, withSink } from '../sync/helpers.js';

export type Rec = Record<string, unknown>;

/** A person whose name, email and phone are unique to one test run, to be looked for as bytes. */
export interface Canary {
  name: string;
  email: string;
  phone: string;
}

/** A canary with values unique to `tag` and `label`. */
export function canary(tag: string, label: string): Canary {
  const digits = String(Number.parseInt(`${tag}${label.length}`, 16) % 1_000_000).padStart(6, '0');
  return {
    name: `Canary ${label} ${tag}`,
    email: `${label.toLowerCase()}.${tag}@privacy.example.net`,
    phone: `+44 7700 ${digits}${label.length}`,
  };
}

/**
 * Makes the sandbox's candidate number `index` the canary person; returns its id and application ids as
 * the sandbox's world has them.
 */
export function plantCanary(
  sandbox: Sandbox,
  index: number,
  person: Canary,
): { candidateId: string; apps: Set<string> } {
  const candidate = sandbox.world.at('candidate', index);
  if (!candidate) throw new Error(`no candidate ${index}`);
  const candidateId = String(candidate.id);
  const email = { value: person.email, type: 'Personal', isPrimary: true };
  const phone = { value: person.phone, type: 'Personal', isPrimary: true };
  sandbox.mutate.updateCandidate(candidateId, {
    name: person.name,
    primaryEmailAddress: email,
    emailAddresses: [email],
    primaryPhoneNumber: phone,
    phoneNumbers: [phone],
  });
  return { candidateId, apps: new Set(candidate.applicationIds as string[]) };
}

export function filesUnder(root: string): string[] {
  if (!fs.existsSync(root)) return [];
  return fs.readdirSync(root, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(root, e.name);
    return e.isDirectory() ? filesUnder(p) : e.isFile() ? [p] : [];
  });
}

/**
 * Every byte the target holds: the SQLite database with its WAL and journal (the whole directory), a
 * pg_dump of the PostgreSQL schema, or every file of the JSONL directory (its webhook inbox included).
 */
export function targetBytes(t: TestTarget): Buffer {
  if (t.dialect === 'postgres') {
    const url = new URL(t.target);
    const schema = url.searchParams.get('schema') ?? 'public';
    url.search = '';
    return execFileSync('pg_dump', ['--no-owner', '--schema', schema, url.toString()], {
      maxBuffer: 512 * 1024 * 1024,
    });
  }
  const dir =
    t.dialect === 'sqlite' ? path.dirname(t.target.slice('sqlite:'.length)) : t.target.slice('jsonl:'.length);
  return Buffer.concat(filesUnder(dir).map((f) => fs.readFileSync(f)));
}

/** Which of the person's name, email and phone `bytes` still hold. */
export function foundIn(bytes: Buffer, person: Canary): string[] {
  return [person.name, person.email, person.phone].filter((v) => bytes.includes(Buffer.from(v)));
}

/**
 * The person's rows: their candidate and applications, and, round after round, every row read for one of
 * the rows found so far or naming one by candidateId, applicationId, interviewScheduleId or offerId.
 */
export function theirRows(tables: Map<string, Rec[]>, candidate: string, apps: Set<string>): Set<Rec> {
  const ids = new Set([candidate, ...apps]);
  const out = new Set<Rec>();
  for (let grew = true; grew; ) {
    grew = false;
    for (const [table, rows] of tables) {
      for (const row of rows) {
        if (out.has(row)) continue;
        const raw = JSON.parse(String(row._ashpipe_raw)) as Rec;
        const own =
          table === 'candidates'
            ? raw.id === candidate
            : table === 'applications' && apps.has(String(raw.id));
        const refs = [
          row._ashpipe_parent_id,
          raw.candidateId,
          raw.applicationId,
          raw.interviewScheduleId,
          raw.offerId,
          (raw.candidate as Rec | undefined)?.id,
        ];
        if (!own && !refs.some((v) => typeof v === 'string' && ids.has(v))) continue;
        out.add(row);
        grew = true;
        if (typeof raw.id === 'string') ids.add(raw.id);
      }
    }
  }
  return out;
}

/** Every row of every table of the target (custom field values apart), as the sink reads them back. */
export async function snapshot(target: string): Promise<Map<string, Rec[]>> {
  return withSink(target, async (sink) => {
    const out = new Map<string, Rec[]>();
    for (const table of await sink.listTables())
      if (table !== 'custom_field_values') out.set(table, await sink.readRows(table));
    return out;
  });
}
