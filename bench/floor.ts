/**
 * The floor of a full sync: only what any sync must do — fetch every page of candidate.list and
 * application.list, JSON.parse it, and run one prepared INSERT per record in one transaction per page.
 * No retries, no limiter, no state, no typing of columns. `bench/sync.ts` compares ashpipe against it.
 * The database is tuned as the SQLite sink tunes a new file (page size, WAL, synchronous, checkpoint
 * interval), so that the ratio measures the work, not the settings.
 *
 * Usage: node --import tsx bench/floor.ts --url URL --db FILE [--key sandbox-full]
 * Prints one JSON line: {records, requests, cpuUs, wallMs, maxRssKb}.
 */
import { parseArgs } from 'node:util';
import { openSqlite } from '../src/util/sqlite.js';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    db: { type: 'string' },
    key: { type: 'string', default: 'sandbox-full' },
    endpoints: { type: 'string', default: 'candidate.list,application.list' },
  },
});
if (!values.url || !values.db) throw new Error('usage: floor.ts --url URL --db FILE');

const auth = `Basic ${Buffer.from(`${values.key}:`).toString('base64')}`;
const db = openSqlite(values.db);
// The settings of src/sinks/sqlite.ts for a new file: a larger page, WAL, synchronous=NORMAL, fewer checkpoints,
// the same page cache.
db.pragma('page_size = 8192');
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.pragma('wal_autocheckpoint = 4000');
db.pragma('cache_size = -16384');
db.pragma('temp_store = MEMORY');

interface Page {
  success: boolean;
  results: Array<{ id: string }>;
  moreDataAvailable?: boolean;
  nextCursor?: string;
}

const cpu = process.cpuUsage();
const start = performance.now();
let records = 0;
let requests = 0;
for (const endpoint of (values.endpoints ?? '').split(',')) {
  const table = endpoint.replace('.', '_');
  db.exec(`CREATE TABLE IF NOT EXISTS "${table}" (id TEXT PRIMARY KEY, raw TEXT NOT NULL)`);
  const insert = db.prepare(`INSERT OR REPLACE INTO "${table}" (id, raw) VALUES (?, ?)`);
  const writePage = db.transaction((rows: Array<{ id: string }>) => {
    for (const r of rows) insert.run(r.id, JSON.stringify(r));
  });
  let cursor: string | undefined;
  for (;;) {
    const res = await fetch(`${values.url}/${endpoint}`, {
      method: 'POST',
      headers: {
        authorization: auth,
        'content-type': 'application/json',
        accept: 'application/json; version=1',
      },
      body: JSON.stringify(cursor ? { limit: 100, cursor } : { limit: 100 }),
    });
    requests++;
    const page = JSON.parse(await res.text()) as Page;
    if (!page.success) throw new Error(`${endpoint} failed`);
    writePage(page.results);
    records += page.results.length;
    if (!page.moreDataAvailable || !page.nextCursor) break;
    cursor = page.nextCursor;
  }
}
const used = process.cpuUsage(cpu);
db.close();
process.stdout.write(
  `${JSON.stringify({
    records,
    requests,
    cpuUs: used.user + used.system,
    wallMs: performance.now() - start,
    maxRssKb: process.resourceUsage().maxRSS,
  })}\n`,
);
