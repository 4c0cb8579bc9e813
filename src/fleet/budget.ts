/**
 * One rate budget per API key for every process of a fleet, in PostgreSQL: a row per key
 * (`ashpipe_rate_budget`), changed under its row lock by the pure transitions of `budget-state.ts`.
 *
 * Why a row of our own and not rate-limiter-flexible's PostgreSQL store: that store counts points in fixed
 * windows and answers "allowed or not"; ashpipe needs the limiter's schedule (each start its slot, a
 * shared pause until a `Retry-After`, a rate learned from 429s and grown on CUBIC's curve). A window
 * counter would let each window's budget go out as one burst at its start — the 429 storm the limiter
 * exists to avoid — and has no place for the learned rate. The row is about a dozen numbers; one
 * transaction (`SELECT … FOR UPDATE`, `UPDATE`) per request start serialises a key's starts across the
 * fleet on the database's clock.
 *
 * The row is keyed by {@link fleetKeyId}: a keyed hash of the API key, never the key.
 */
import { createHmac } from 'node:crypto';
import type pg from 'pg';
import type { BudgetReservation, SharedRateBudget, SharedRateLimitSignal } from '../ashby/limiter.js';
import {
  applyRateLimited,
  type BudgetPolicy,
  type BudgetState,
  FRESH_BUDGET,
  pacedRate,
  reserveStart,
} from './budget-state.js';

/** The table of the budgets. */
export const BUDGET_TABLE = 'ashpipe_rate_budget';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * The id a key's budget row is stored under: an HMAC-SHA-256 of the key under a secret every worker
 * shares (the vault's master key is one), so that the database holds nothing from which the key or a
 * guess of it could be confirmed.
 * @example fleetKeyId(apiKey, masterKey)
 */
export function fleetKeyId(apiKey: string, secret: string | Buffer): string {
  return createHmac('sha256', secret).update(`ashpipe-rate-budget:${apiKey}`).digest('hex').slice(0, 40);
}

/** Where and for which key a {@link PostgresRateBudget} keeps its row. */
export interface PostgresRateBudgetOptions {
  /**
   * Connections to the fleet's PostgreSQL; shared by the budgets of several keys. The budget never ends it.
   * @example new pg.Pool({ connectionString: process.env.ASHPIPE_CONTROL_URL, max: 4 })
   */
  pool: pg.Pool;
  /**
   * The key's id in the table: {@link fleetKeyId}, or any other non-secret id (a credential id).
   * @example fleetKeyId(apiKey, masterKey)
   */
  keyId: string;
  /**
   * Schema of the table; must exist.
   * @default 'public'
   * @example 'ashpipe'
   */
  schema?: string;
}

function qualified(schema: string | undefined): string {
  const s = schema ?? 'public';
  if (!IDENTIFIER.test(s)) throw new Error(`not a schema name: "${s}"`);
  return `"${s}"."${BUDGET_TABLE}"`;
}

/** Creates the budget table if it is missing (idempotent; safe for several workers starting at once). */
export async function ensureBudgetTable(pool: pg.Pool, schema?: string): Promise<void> {
  const table = qualified(schema);
  // Two workers racing on CREATE TABLE IF NOT EXISTS can still collide on the type's name: a lock serialises them.
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [table]);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${table} (
        key_id text PRIMARY KEY,
        next_start_at double precision NOT NULL DEFAULT 0,
        paused_until double precision NOT NULL DEFAULT 0,
        learned_rps double precision,
        ceiling_rps double precision,
        since_cut double precision NOT NULL DEFAULT 0,
        last_growth_at double precision NOT NULL DEFAULT 0,
        cut_at_sequence bigint NOT NULL DEFAULT 0,
        sequence bigint NOT NULL DEFAULT 0,
        window_started_at double precision NOT NULL DEFAULT 0,
        window_starts integer NOT NULL DEFAULT 0,
        previous_window_starts integer NOT NULL DEFAULT 0,
        rate_limited bigint NOT NULL DEFAULT 0,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`,
    );
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

interface BudgetRow {
  now: number;
  next_start_at: number;
  paused_until: number;
  learned_rps: number | null;
  ceiling_rps: number | null;
  since_cut: number;
  last_growth_at: number;
  cut_at_sequence: string;
  sequence: string;
  window_started_at: number;
  window_starts: number;
  previous_window_starts: number;
}

function stateOf(row: BudgetRow): BudgetState {
  return {
    nextStartAt: row.next_start_at,
    pausedUntil: row.paused_until,
    learnedRps: row.learned_rps,
    ceilingRps: row.ceiling_rps,
    sinceCut: row.since_cut,
    lastGrowthAt: row.last_growth_at,
    cutAtSequence: Number(row.cut_at_sequence),
    sequence: Number(row.sequence),
    windowStartedAt: row.window_started_at,
    windowStarts: row.window_starts,
    previousWindowStarts: row.previous_window_starts,
  };
}

/** A key's budget as the fleet sees it, for tests, `ashpipe` status displays and the benchmark. */
export interface BudgetSnapshot extends BudgetState {
  /** 429s reported by any process. */
  rateLimited: number;
}

/** One API key's rate budget, shared through PostgreSQL by every process that uses the key. */
export class PostgresRateBudget implements SharedRateBudget {
  private readonly pool: pg.Pool;
  private readonly table: string;
  readonly keyId: string;
  private created = false;

  constructor(options: PostgresRateBudgetOptions) {
    this.pool = options.pool;
    this.table = qualified(options.schema);
    if (!options.keyId) throw new Error('a budget needs a key id');
    this.keyId = options.keyId;
  }

  async reserve(policy: BudgetPolicy): Promise<BudgetReservation> {
    let answer: BudgetReservation | undefined;
    await this.change((state, now) => {
      const r = reserveStart(state, now, policy);
      answer = {
        waitMs: r.waitMs,
        sequence: r.state.sequence,
        requestsPerSecond: r.rate,
        learnedRequestsPerSecond: r.state.learnedRps ?? undefined,
      };
      return r.state;
    });
    if (!answer) throw new Error('the rate budget gave no answer');
    return answer;
  }

  async rateLimited(signal: SharedRateLimitSignal, policy: BudgetPolicy): Promise<void> {
    await this.change((state, now) => applyRateLimited(state, now, signal, policy), 1);
  }

  /** The budget as stored; a fresh budget when the key has not been used. */
  async snapshot(): Promise<BudgetSnapshot & { pacedRps: number | undefined }> {
    const { rows } = await this.pool.query<BudgetRow & { rate_limited: string }>(
      `SELECT *, 0::double precision AS now FROM ${this.table} WHERE key_id = $1`,
      [this.keyId],
    );
    const row = rows[0];
    const state = row ? stateOf(row) : FRESH_BUDGET;
    return {
      ...state,
      rateLimited: row ? Number(row.rate_limited) : 0,
      pacedRps: pacedRate(state, { requestsPerSecond: undefined, adaptive: true }),
    };
  }

  /** Forgets the key's pause, learned rate and schedule (tests, and an operator after Ashby raised a limit). */
  async reset(): Promise<void> {
    await this.pool.query(`DELETE FROM ${this.table} WHERE key_id = $1`, [this.keyId]);
  }

  private async change(fn: (state: BudgetState, now: number) => BudgetState, rateLimited = 0): Promise<void> {
    const client = await this.pool.connect();
    try {
      if (!this.created) {
        await client.query(`INSERT INTO ${this.table} (key_id) VALUES ($1) ON CONFLICT (key_id) DO NOTHING`, [
          this.keyId,
        ]);
        this.created = true;
      }
      await client.query('BEGIN');
      const { rows } = await client.query<BudgetRow>(
        `SELECT *, extract(epoch from clock_timestamp()) * 1000 AS now
           FROM ${this.table} WHERE key_id = $1 FOR UPDATE`,
        [this.keyId],
      );
      const row = rows[0];
      if (!row) throw new Error('the rate budget row is missing');
      const next = fn(stateOf(row), Number(row.now));
      await client.query(
        `UPDATE ${this.table} SET next_start_at = $2, paused_until = $3, learned_rps = $4, ceiling_rps = $5,
           since_cut = $6, last_growth_at = $7, cut_at_sequence = $8, sequence = $9, window_started_at = $10,
           window_starts = $11, previous_window_starts = $12, rate_limited = rate_limited + $13,
           updated_at = now()
         WHERE key_id = $1`,
        [
          this.keyId,
          next.nextStartAt,
          next.pausedUntil,
          next.learnedRps,
          next.ceilingRps,
          next.sinceCut,
          next.lastGrowthAt,
          next.cutAtSequence,
          next.sequence,
          next.windowStartedAt,
          next.windowStarts,
          next.previousWindowStarts,
          rateLimited,
        ],
      );
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      // A row deleted by reset() between two calls is created again on the next one.
      this.created = false;
      throw error;
    } finally {
      client.release();
    }
  }
}
