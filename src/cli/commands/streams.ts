import { Command } from 'commander';
import { NOT_SYNCED, STREAMS } from '../../streams/index.js';
import type { CliContext } from '../context.js';
import { table } from '../output.js';
import { wrap } from '../render/words.js';

/** `ashpipe streams`: what can be synced, what each stream costs and which permission it needs. */
export function streamsCommand(ctx: CliContext): Command {
  return new Command('streams')
    .description('List the streams ashpipe can sync: endpoint, mode, permission, primary key, parent, cost')
    .option('--wide', 'add the endpoint, primary key and requests per full pass of each stream')
    .option('--json', 'print the list as JSON on stdout')
    .action((opts: { json?: boolean; wide?: boolean }) => {
      const out = ctx.output(Boolean(opts.json));
      const list = STREAMS.map((s) => ({
        name: s.name,
        endpoint: s.endpoint,
        mode: s.incremental ? 'incremental' : 'full',
        scope: s.scope,
        module: s.permission,
        primaryKey: [...s.primaryKey],
        parent: s.parent
          ? s.parent.kind === 'stream'
            ? { stream: s.parent.stream, field: s.parent.field, param: s.parent.param }
            : { values: [...s.parent.values], param: s.parent.param }
          : null,
        cost: s.cost,
        default: !s.optIn,
        customFieldsObjectType: s.customFieldsObjectType ?? null,
        customFieldsPath: s.customFieldsObjectType
          ? (s.customFieldsPath ?? ['customFields']).join('.')
          : null,
        confidentialFilter: Boolean(s.confidential),
        description: s.description,
        note: s.note ?? null,
      }));
      const notSynced = Object.entries(NOT_SYNCED).map(([endpoint, reason]) => ({ endpoint, reason }));
      out.result({ streams: list, notSynced }, () => {
        const parentOf = (s: (typeof list)[number]) =>
          s.parent ? ('stream' in s.parent ? `${s.parent.stream}.${s.parent.field}` : s.parent.param) : '';
        const rows = list.map((s) =>
          opts.wide
            ? [
                s.name + (s.default ? '' : ' *'),
                s.endpoint,
                s.mode,
                `${s.module} (${s.scope})`,
                s.primaryKey.join(','),
                parentOf(s),
                s.cost,
              ]
            : [s.name + (s.default ? '' : ' *'), s.mode, s.module, parentOf(s)],
        );
        const notes = list.filter((s) => s.note).map((s) => wrap(`  ${s.name}: ${s.note}`));
        return [
          table(
            opts.wide
              ? ['stream', 'endpoint', 'mode', 'permission', 'key', 'parent', 'requests per full pass']
              : ['stream', 'mode', 'permission', 'read per row of'],
            rows,
          ),
          '',
          '* opt-in: synced only when named with --streams (or --streams all).',
          'incremental streams read only changes after the first sync; full streams are read whole each run.',
          ...(opts.wide ? [] : ['--wide adds each endpoint, primary key and the requests of a full pass.']),
          ...(notes.length > 0 ? ['', 'Notes:', ...notes] : []),
          '',
          'List endpoints not synced:',
          ...notSynced.map((n) => wrap(`  ${n.endpoint}: ${n.reason}`)),
        ].join('\n');
      });
    });
}
