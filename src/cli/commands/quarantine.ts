import { readFileSync, writeFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { resolveHome } from '../../control/home.js';
import { openControlStore } from '../../control/store.js';
import type { InputRow } from '../../push/input.js';
import {
  getQuarantine,
  listQuarantine,
  markNotSent,
  type QuarantineEntry,
  setQuarantineStatus,
} from '../../push/ledger.js';
import { IDENTITY_MAPPING, loadMapping, type Mapping, mappingSchema } from '../../push/mapping.js';
import { OUTCOME_UNKNOWN } from '../../push/operations/shared.js';
import type { OnExisting } from '../../push/types.js';
import { safeStringify } from '../../util/redact.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../exit-codes.js';
import { addKeyOptions, type KeyOptions } from '../key-options.js';
import { table } from '../output.js';
import { executePush, resolveOperation } from './push.js';

function withStore<T>(ctx: CliContext, fn: (db: ReturnType<typeof openControlStore>['db']) => T): T {
  const store = openControlStore(resolveHome(ctx.env));
  try {
    return fn(store.db);
  } finally {
    store.close();
  }
}

function parseId(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`not a quarantine id: ${value}`);
  return n;
}

/** Corrected records from an edited `quarantine export` file: entry id → fixed raw record. */
function readFixed(file: string): Map<number, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as Error).message}`);
  }
  const out = new Map<number, unknown>();
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      throw new UsageError(`${file}:${i + 1} is not JSON`);
    }
    const entry = parsed as { id?: unknown; raw?: unknown } | null;
    if (entry === null || typeof entry !== 'object' || typeof entry.id !== 'number' || !('raw' in entry))
      throw new UsageError(
        `${file}:${i + 1} needs the "id" and "raw" of a quarantine entry (write it with \`quarantine export\`)`,
      );
    out.set(entry.id, entry.raw);
  });
  if (out.size === 0) throw new UsageError(`${file} holds no entries`);
  return out;
}

/** `ashpipe quarantine list|show|export|replay`: records a push could not apply. */
export function quarantineCommand(ctx: CliContext): Command {
  const cmd = new Command('quarantine').description(
    'Inspect, export and replay records a push could not apply',
  );
  const statusOption = () =>
    new Option('--status <status>', 'which entries')
      .choices(['open', 'replayed', 'resolved', 'all'])
      .default('open');

  cmd
    .command('list')
    .description('List quarantined records')
    .addOption(statusOption())
    .option('--operation <name>', 'only this operation')
    .option('--run <id>', 'only this run')
    .option('--json', 'print as JSON on stdout')
    .action((opts: { status: 'open'; operation?: string; run?: string; json?: boolean }) => {
      const out = ctx.output(Boolean(opts.json));
      const entries = withStore(ctx, (db) =>
        listQuarantine(db, {
          status: opts.status,
          ...(opts.operation ? { operation: opts.operation } : {}),
          ...(opts.run ? { runId: opts.run } : {}),
        }),
      );
      out.result(entries, () =>
        entries.length === 0
          ? 'no quarantined records'
          : table(
              ['id', 'at', 'operation', 'row', 'code', 'field', 'message'],
              entries.map((e) => [
                e.id,
                e.at,
                e.operation,
                e.rowNumber,
                e.errorCode,
                e.fieldPath,
                e.errorMessage.slice(0, 80),
              ]),
            ),
      );
    });

  cmd
    .command('show')
    .description('Show one quarantined record with its error and raw input')
    .argument('<id>')
    .option('--json', 'print as JSON on stdout')
    .action((id: string, opts: { json?: boolean }) => {
      const out = ctx.output(Boolean(opts.json));
      const entry = withStore(ctx, (db) => getQuarantine(db, parseId(id)));
      if (!entry) throw new UsageError(`no quarantine entry ${id}`);
      out.result(entry, () => safeStringify(entry, 2));
    });

  cmd
    .command('export')
    .description('Write quarantined records as JSONL (raw record plus error), to fix and push again')
    .requiredOption('--out <file>', 'JSONL file to write')
    .addOption(statusOption())
    .option('--operation <name>', 'only this operation')
    .option('--records-only', 'write only the raw records, ready for `push --input`')
    .action((opts: { out: string; status: 'open'; operation?: string; recordsOnly?: boolean }) => {
      const entries = withStore(ctx, (db) =>
        listQuarantine(db, {
          status: opts.status,
          ...(opts.operation ? { operation: opts.operation } : {}),
          limit: 1_000_000,
        }),
      );
      const lines = entries.map((e) => safeStringify(opts.recordsOnly ? e.raw : e));
      writeFileSync(opts.out, lines.length > 0 ? `${lines.join('\n')}\n` : '', { mode: 0o600 });
      ctx.output(false).info(`${entries.length} records written to ${opts.out}`);
    });

  const replay = cmd
    .command('replay')
    .description('Send quarantined records again through the same ledger (optionally re-mapped)')
    .argument('[ids...]', 'entries to replay (default: every open entry of --operation)')
    .option('--operation <name>', 'replay the open entries of this operation')
    .option(
      '--input <file>',
      'fixed records: a JSONL file written by `quarantine export` whose `raw` records were corrected',
    )
    .option('--map <file>', 'map the raw records with this mapping instead of the original one')
    .option('--dry-run', 'validate and look up only')
    .option('--json', 'print the summary as JSON on stdout');
  addKeyOptions(replay);
  replay.action(
    async (
      ids: string[],
      opts: KeyOptions & {
        operation?: string;
        input?: string;
        map?: string;
        dryRun?: boolean;
        json?: boolean;
      },
    ) => {
      const fixed = opts.input !== undefined ? readFixed(opts.input) : undefined;
      if (fixed && ids.length === 0) ids = [...fixed.keys()].map(String);
      const entries: QuarantineEntry[] = withStore(ctx, (db) =>
        ids.length > 0
          ? ids.map((id) => {
              const e = getQuarantine(db, parseId(id));
              if (!e) throw new UsageError(`no quarantine entry ${id}`);
              return e;
            })
          : listQuarantine(db, {
              status: 'open',
              ...(opts.operation ? { operation: opts.operation } : {}),
              limit: 1_000_000,
            }),
      );
      if (entries.length === 0) throw new UsageError('nothing to replay');
      const operations = new Set(entries.map((e) => e.operation));
      if (operations.size > 1)
        throw new UsageError(
          `entries belong to several operations (${[...operations].join(', ')}); pass --operation`,
        );
      const first = entries[0] as QuarantineEntry;
      const opName = first.operation.startsWith('endpoint:')
        ? first.operation.slice('endpoint:'.length)
        : first.operation;
      const operation = resolveOperation(opName, first.operation.startsWith('endpoint:'));
      let mapping: Mapping = IDENTITY_MAPPING;
      if (opts.map !== undefined) mapping = loadMapping(opts.map);
      else {
        const stored = mappingSchema.safeParse(first.options.mapping);
        if (stored.success) mapping = stored.data;
      }
      const onExisting = (first.options.onExisting as OnExisting | undefined) ?? 'skip';
      const keyColumn = typeof first.options.keyColumn === 'string' ? first.options.keyColumn : undefined;
      const byRow = new Map<number, number>();
      const rows: InputRow[] = entries.map((e, i) => {
        byRow.set(i + 1, e.id);
        const raw = fixed?.has(e.id) ? fixed.get(e.id) : e.raw;
        return raw !== null && typeof raw === 'object' && !Array.isArray(raw)
          ? { row: i + 1, record: raw as Record<string, unknown>, raw }
          : {
              row: i + 1,
              error: 'the quarantined row was not a record; fix it in the source and push it again',
              raw,
            };
      });
      if (!opts.dryRun) {
        // Replaying an entry whose outcome was unknown is the person's word that Ashby does not have it.
        withStore(ctx, (db) => {
          for (const e of entries)
            if (e.errorCode === OUTCOME_UNKNOWN && e.recordKey !== null)
              markNotSent(db, e.operation, e.recordKey, 'pending', null);
        });
      }
      // An entry is closed when its record was applied (or found done / existing) or quarantined again
      // under another entry; one that failed again in place, or was not reached, stays open.
      const closed = new Set<number>();
      await executePush(ctx, opts, operation, rows, {
        mapping,
        onExisting,
        inputLabel: `quarantine replay ${entries.map((e) => e.id).join(',')}`,
        purpose: `quarantine replay ${operation.name}`,
        ...(keyColumn !== undefined ? { keyColumn } : {}),
        onResult: (r) => {
          const id = byRow.get(r.row);
          if (id === undefined || opts.dryRun) return;
          const applied = ['created', 'updated', 'skipped-existing', 'skipped-done'].includes(r.status);
          const movedOn = r.status === 'quarantined' && r.quarantineId !== undefined && r.quarantineId !== id;
          if (applied || movedOn) closed.add(id);
        },
      }).finally(() => {
        withStore(ctx, (db) => {
          for (const id of closed) setQuarantineStatus(db, id, 'replayed');
        });
      });
    },
  );
  return cmd;
}
