/**
 * Ashby's anonymisations reaching the older copies. Ashby anonymises a candidate (`candidate.anonymize`,
 * or its retention rules) by replacing the personal fields of the record; a sync then stores the
 * anonymised record, but a JSONL stream file still holds the earlier lines of it and history mode's
 * tables (`<stream>_history`, `src/sinks/history.ts`) the earlier versions. Here those older copies get the current,
 * anonymised values of the personal fields, and the freed space is overwritten as erasure does.
 *
 * A candidate counts as anonymised when its stored record has no email address and no phone number
 * while an older copy of it has personal values the current record does not.
 */
import pg from 'pg';
import { HISTORY_COLUMNS, rawHash } from '../sinks/history.js';
import { parsePostgresTarget, type Sink } from '../sinks/index.js';
import { openSqlite, type SqliteDatabase } from '../util/sqlite.js';
import { readJsonlLines, recordAndScrub, replaceJsonlLines } from './erase.js';
import { MASKED_TEXT } from './transform.js';

type Rec = Record<string, unknown>;

/** The personal fields of a candidate record (the catalogue's `candidates` fields, by their top key). */
const CANDIDATE_FIELDS = [
  'name',
  'primaryEmailAddress',
  'emailAddresses',
  'primaryPhoneNumber',
  'phoneNumbers',
  'socialLinks',
  'primaryLocation',
  'location',
  'resumeFileHandle',
  'fileHandles',
] as const;

/** The candidate's fields an application record repeats (`application.candidate`). */
const APPLICATION_CANDIDATE_FIELDS = ['name', 'primaryEmailAddress', 'primaryPhoneNumber'] as const;

/** What {@link rewriteAnonymisedCopies} did. */
export interface AnonymisedRewrite {
  /** Candidates whose older copies were rewritten. */
  candidateIds: string[];
  /** Older copies rewritten, per table (JSONL: stream file). */
  tables: Record<string, number>;
}

function isObject(v: unknown): v is Rec {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function hasValue(v: unknown): boolean {
  if (isObject(v)) return typeof v.value === 'string' && v.value !== '';
  return typeof v === 'string' && v !== '';
}

/** No email address and no phone number left: what an anonymised candidate looks like. */
export function looksAnonymised(record: Rec): boolean {
  const list = (v: unknown) => (Array.isArray(v) ? v.filter(hasValue).length : 0);
  return (
    !hasValue(record.primaryEmailAddress) &&
    !hasValue(record.primaryPhoneNumber) &&
    list(record.emailAddresses) === 0 &&
    list(record.phoneNumbers) === 0
  );
}

function strings(value: unknown, out: Set<string>): void {
  if (typeof value === 'string') {
    if (value.length >= 3) out.add(value);
  } else if (Array.isArray(value)) for (const v of value) strings(v, out);
  else if (isObject(value)) for (const v of Object.values(value)) strings(v, out);
}

/** The personal strings of `fields` of `record`. */
function personal(record: Rec, fields: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const f of fields) strings(record[f], out);
  return out;
}

/**
 * `older` with the personal `fields` of `current` (a field `current` lacks is removed); `undefined` when
 * that changes nothing.
 */
function rewritten(older: Rec, current: Rec, fields: readonly string[]): Rec | undefined {
  // A copy without contact details is not one from before an anonymisation (a candidate who never had
  // any, renamed since, keeps the history of their name).
  if (looksAnonymised(older)) return undefined;
  const out: Rec = { ...older };
  for (const f of fields) {
    if (Object.hasOwn(current, f)) out[f] = current[f];
    else delete out[f];
  }
  return JSON.stringify(out) === JSON.stringify(older) ? undefined : out;
}

/** The older copy of an application with its candidate's personal fields as the candidate has them now. */
function rewrittenApplication(older: Rec, anonymised: Map<string, Rec>): Rec | undefined {
  const candidate = older.candidate;
  if (!isObject(candidate) || typeof candidate.id !== 'string') return undefined;
  const current = anonymised.get(candidate.id);
  if (!current) return undefined;
  const inner = rewritten(candidate, current, APPLICATION_CANDIDATE_FIELDS);
  return inner ? { ...older, candidate: inner } : undefined;
}

/** Replaces every old personal string still quoted in a text column (a typed column of a history row). */
function scrubText(text: string, old: ReadonlySet<string>, keep: ReadonlySet<string>): string {
  let out = text;
  for (const s of [...old].sort((a, b) => b.length - a.length))
    if (!keep.has(s) && out.includes(s)) out = out.split(s).join(MASKED_TEXT);
  return out;
}

/**
 * Finds the target's anonymised candidates (their stored records) and rewrites their older copies: JSONL
 * lines of `candidates` and `applications`, the current `applications` rows (their candidate summary),
 * and the rows of `candidates_history` and `applications_history` when the target has them (JSONL: under the two streams' locks). When any
 * was rewritten, or `newly` names candidates a sync just saw anonymised (see `SyncOptions.anonymised`),
 * writes an erasure record ({@link ANONYMISED_REASON}) and overwrites the freed space (SQLite VACUUM,
 * PostgreSQL VACUUM FULL of the candidate and application tables).
 */
export async function rewriteAnonymisedCopies(
  target: string,
  sink: Sink,
  newly: ReadonlySet<string> = new Set(),
  now: () => Date = () => new Date(),
): Promise<AnonymisedRewrite> {
  const result = await rewriteOlderCopies(target, sink);
  const ids = new Set([...result.candidateIds, ...newly]);
  if (ids.size === 0) return result;
  // The anonymised record replaced the old row in place: its bytes may stay in freed pages (SQLite) or
  // dead tuples (PostgreSQL) until they are overwritten, as erasure does.
  result.candidateIds = [...ids].sort();
  await recordAndScrub(
    target,
    {
      target: sink.location,
      dryRun: false,
      candidateIds: result.candidateIds,
      applicationIds: [],
      tables: result.tables,
      erasedAt: now().toISOString(),
    },
    ANONYMISED_REASON,
    ['candidates', 'applications', 'candidates_history', 'applications_history'],
  );
  return result;
}

/** The reason of the erasure record written when anonymised candidates' copies were rewritten. */
export const ANONYMISED_REASON = 'anonymised in Ashby';

async function rewriteOlderCopies(target: string, sink: Sink): Promise<AnonymisedRewrite> {
  const result: AnonymisedRewrite = { candidateIds: [], tables: {} };
  const anonymised = new Map<string, Rec>();
  for (const row of await sink.readRows('candidates', { includeDeleted: false })) {
    const raw = JSON.parse(String(row._ashpipe_raw)) as Rec;
    if (typeof raw.id === 'string' && looksAnonymised(raw)) anonymised.set(raw.id, raw);
  }
  if (anonymised.size === 0) return result;
  const touched = new Set<string>();
  const count = (table: string, id: string) => {
    result.tables[table] = (result.tables[table] ?? 0) + 1;
    touched.add(id);
  };
  const scheme = /^([a-z]+):/i.exec(target)?.[1]?.toLowerCase();
  if (scheme === 'jsonl') {
    const dir = target.slice('jsonl:'.length).replace(/^\/\//, '');
    for (const stream of ['candidates', 'applications'] as const) {
      const lock = await sink.lock(stream, 'ashpipe purge');
      if (!lock.acquired) throw new Error(`stream ${stream} is being written by another run; try again`);
      try {
        const lines = readJsonlLines(dir, stream);
        let changed = false;
        const out = lines.map((line) => {
          const change = JSON.parse(line) as { record?: Rec };
          if (!isObject(change.record)) return line;
          const rec = change.record;
          const id = typeof rec.id === 'string' ? rec.id : undefined;
          const next =
            stream === 'candidates'
              ? id && anonymised.has(id)
                ? rewritten(rec, anonymised.get(id) as Rec, CANDIDATE_FIELDS)
                : undefined
              : rewrittenApplication(rec, anonymised);
          if (!next) return line;
          changed = true;
          count(stream, stream === 'candidates' ? (id as string) : String((rec.candidate as Rec).id));
          return JSON.stringify({ ...change, record: next });
        });
        if (changed) replaceJsonlLines(dir, stream, out);
      } finally {
        await lock.lock.release();
      }
    }
  } else {
    const db = scheme === 'sqlite' ? new SqliteHistory(target) : await PgHistory.open(target);
    try {
      for (const [table, fields] of [
        ['candidates_history', CANDIDATE_FIELDS],
        ['applications_history', APPLICATION_CANDIDATE_FIELDS],
        // The current application rows too: Ashby need not mark an application updated when its
        // candidate is anonymised, so an incremental sync would leave the old summary in place.
        ['applications', APPLICATION_CANDIDATE_FIELDS],
      ] as const) {
        const columns = await db.columns(table);
        if (!columns.includes('_ashpipe_raw')) continue;
        const text = columns.filter((c) => c !== '_ashpipe_raw');
        let n = 0;
        for (const row of await db.rows(table, text)) {
          const raw = JSON.parse(String(row.values._ashpipe_raw)) as Rec;
          const cand = table === 'candidates_history' ? raw : raw.candidate;
          const id = isObject(cand) && typeof cand.id === 'string' ? cand.id : undefined;
          const current = id ? anonymised.get(id) : undefined;
          if (!id || !current || !isObject(cand)) continue;
          const next =
            table === 'candidates_history'
              ? rewritten(raw, current, fields)
              : rewrittenApplication(raw, anonymised);
          if (!next) continue;
          const old = personal(cand, fields);
          const keep = personal(current, fields);
          const rawText = JSON.stringify(next);
          const values: Record<string, string> = { _ashpipe_raw: rawText };
          // History mode compares a new version with the current one by this hash of the raw text.
          if (columns.includes(HISTORY_COLUMNS.hash)) values[HISTORY_COLUMNS.hash] = rawHash(rawText);
          for (const c of text) {
            const v = row.values[c];
            if (typeof v === 'string' && c !== HISTORY_COLUMNS.hash) {
              const s = scrubText(v, old, keep);
              if (s !== v) values[c] = s;
            }
          }
          await db.update(table, row.ref, values);
          n++;
          touched.add(id);
        }
        if (n > 0) {
          result.tables[table] = n;
          await db.scrub(table);
        }
      }
    } finally {
      await db.close();
    }
  }
  result.candidateIds = [...touched].sort();
  return result;
}

interface HistoryRow {
  ref: string | number;
  values: Record<string, unknown>;
}

class SqliteHistory {
  private readonly db: SqliteDatabase;
  constructor(target: string) {
    this.db = openSqlite(target.slice('sqlite:'.length).replace(/^\/\//, ''));
    this.db.pragma('busy_timeout = 15000');
    this.db.pragma('secure_delete = ON');
  }
  async columns(table: string): Promise<string[]> {
    return (
      this.db.prepare('SELECT name FROM pragma_table_info(?)').all(table) as Array<{ name: string }>
    ).map((c) => c.name);
  }
  async rows(table: string, text: readonly string[]): Promise<HistoryRow[]> {
    const cols = ['_ashpipe_raw', ...text].map((c) => `"${c}"`).join(', ');
    return (this.db.prepare(`SELECT rowid AS _ref, ${cols} FROM "${table}"`).all() as Rec[]).map((r) => ({
      ref: r._ref as number,
      values: r,
    }));
  }
  async update(table: string, ref: string | number, values: Record<string, string>): Promise<void> {
    const cols = Object.keys(values);
    this.db
      .prepare(`UPDATE "${table}" SET ${cols.map((c) => `"${c}" = ?`).join(', ')} WHERE rowid = ?`)
      .run(...cols.map((c) => values[c]), ref);
  }
  async scrub(): Promise<void> {
    this.db.exec('VACUUM');
    this.db.pragma('wal_checkpoint(TRUNCATE)');
  }
  async close(): Promise<void> {
    this.db.close();
  }
}

class PgHistory {
  private constructor(
    private readonly client: pg.Client,
    private readonly schema: string,
  ) {}
  static async open(target: string): Promise<PgHistory> {
    const t = parsePostgresTarget(target);
    const client = new pg.Client({ connectionString: t.connectionString });
    await client.connect();
    return new PgHistory(client, t.schema);
  }
  private t(table: string): string {
    return `"${this.schema}"."${table}"`;
  }
  async columns(table: string): Promise<string[]> {
    const r = await this.client.query(
      "SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 AND data_type IN ('text', 'jsonb', 'json', 'character varying')",
      [this.schema, table],
    );
    return r.rows.map((c: { column_name: string }) => c.column_name);
  }
  async rows(table: string, text: readonly string[]): Promise<HistoryRow[]> {
    const cols = ['_ashpipe_raw', ...text].map((c) => `"${c}"::text AS "${c}"`).join(', ');
    const r = await this.client.query(`SELECT ctid::text AS _ref, ${cols} FROM ${this.t(table)}`);
    return r.rows.map((x: Rec) => ({ ref: String(x._ref), values: x }));
  }
  async update(table: string, ref: string | number, values: Record<string, string>): Promise<void> {
    const cols = Object.keys(values);
    // Casting back through the column's own type: a JSON column takes the rewritten JSON text.
    const types = await this.client.query(
      'SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2',
      [this.schema, table],
    );
    const typeOf = new Map(
      types.rows.map((c: { column_name: string; data_type: string }) => [c.column_name, c.data_type]),
    );
    const set = cols
      .map(
        (c, i) =>
          `"${c}" = $${i + 1}::${typeOf.get(c) === 'character varying' ? 'text' : (typeOf.get(c) ?? 'text')}`,
      )
      .join(', ');
    await this.client.query(`UPDATE ${this.t(table)} SET ${set} WHERE ctid = $${cols.length + 1}::tid`, [
      ...cols.map((c) => values[c]),
      ref,
    ]);
  }
  async scrub(table: string): Promise<void> {
    await this.client.query(`VACUUM FULL ${this.t(table)}`);
  }
  async close(): Promise<void> {
    await this.client.end();
  }
}
