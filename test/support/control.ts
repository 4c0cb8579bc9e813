import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import {
  type Control,
  type ControlDialect,
  type OpenControlOptions,
  openControl,
} from '../../src/control/open.js';
import type { FleetTimings } from '../../src/server/fleet.js';
import { testPostgresUrl, testSchemaName } from './postgres.js';

/** Where a test's control store lives: a temporary home, and on PostgreSQL a fresh schema. */
export interface ControlTarget {
  dialect: ControlDialect;
  home: string;
  /** The PostgreSQL URL with its `?schema=`; absent on SQLite. */
  url?: string;
}

/**
 * The dialects the control-store tests run on: SQLite always, PostgreSQL when `ASHPIPE_TEST_POSTGRES_URL`
 * is set (otherwise skipped loudly, see `testPostgresUrl`).
 */
export function controlDialects(what: string): ControlDialect[] {
  return testPostgresUrl(what) ? ['sqlite', 'postgres'] : ['sqlite'];
}

const homes: string[] = [];
const schemas: string[] = [];

/** A new, empty control-store target of `dialect`; {@link removeControlTargets} removes it. */
export function newControlTarget(dialect: ControlDialect): ControlTarget {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ashpipe-control-'));
  homes.push(dir);
  const home = path.join(dir, 'home');
  if (dialect === 'sqlite') return { dialect, home };
  const base = process.env.ASHPIPE_TEST_POSTGRES_URL;
  if (!base) throw new Error('ASHPIPE_TEST_POSTGRES_URL is not set');
  const schema = testSchemaName();
  schemas.push(schema);
  const url = new URL(base);
  url.searchParams.set('schema', schema);
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  return { dialect, home, url: url.toString() };
}

/** Opens the control store of a target. */
export function openTarget(
  target: ControlTarget,
  options: Omit<OpenControlOptions, 'home' | 'url'> = {},
): Promise<Control> {
  return openControl({ home: target.home, ...(target.url ? { url: target.url } : {}), ...options });
}

/** Removes every target made since the last call: homes deleted, schemas (and their queue schemas) dropped. */
export async function removeControlTargets(): Promise<void> {
  for (const dir of homes.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  const dropped = schemas.splice(0);
  const base = process.env.ASHPIPE_TEST_POSTGRES_URL;
  if (dropped.length === 0 || !base) return;
  const client = new pg.Client({ connectionString: base });
  await client.connect();
  try {
    // A server or worker on the target also creates its run queue's schema beside it.
    for (const schema of dropped) {
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.query(`DROP SCHEMA IF EXISTS "${schema}_queue" CASCADE`);
    }
  } finally {
    await client.end();
  }
}

/**
 * Fleet queue timings for tests on PostgreSQL: a worker takes a run within a fifth of a second, and a
 * dead worker's lease runs out in six.
 */
export const TEST_FLEET_TIMINGS: FleetTimings = {
  leaseSeconds: 6,
  heartbeatSeconds: 1,
  pollSeconds: 0.2,
  maintenanceSeconds: 1,
  drainSeconds: 2,
};
