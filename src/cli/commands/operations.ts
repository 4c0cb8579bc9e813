import { Command } from 'commander';
import { describeScope } from '../../ashby/catalogue.js';
import type { FieldDef } from '../../push/fields.js';
import { OPERATIONS, operationScopes } from '../../push/operations/index.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../exit-codes.js';

function flatFields(
  fields: Readonly<Record<string, FieldDef>>,
  prefix = '',
): Array<{ name: string; def: FieldDef }> {
  return Object.entries(fields).flatMap(([name, def]) =>
    def.type === 'object' && def.fields
      ? flatFields(def.fields, `${prefix}${name}.`)
      : [{ name: `${prefix}${name}`, def }],
  );
}

function typeLabel(def: FieldDef): string {
  if (def.type === 'enum') return (def.values ?? []).join('|');
  if (def.type === 'array') return `list of ${def.items ? typeLabel(def.items) : 'values'}`;
  return def.type;
}

/** What `ashpipe operations` reports per operation. */
export function describeOperations() {
  return OPERATIONS.map((op) => {
    const scopes = operationScopes(op);
    return {
      name: op.name,
      title: op.title,
      kind: op.kind,
      description: op.description,
      scopes: [...scopes.write, ...scopes.read].map((s) => ({ scope: s, label: describeScope(s).label })),
      fields: flatFields(op.fields).map(({ name, def }) => ({
        name,
        type: typeLabel(def),
        required: Boolean(def.required),
        ...(def.description ? { description: def.description } : {}),
      })),
      example: op.example,
    };
  });
}

/** `ashpipe operations`: what `push` can do, the scopes each needs, fields and an example input row. */
export function operationsCommand(ctx: CliContext): Command {
  return new Command('operations')
    .description('List the push operations with their required scopes, fields and an example input row')
    .argument('[name]', 'show only this operation')
    .option('--json', 'print as JSON on stdout')
    .action((name: string | undefined, opts: { json?: boolean }) => {
      const out = ctx.output(Boolean(opts.json));
      const list = describeOperations().filter((o) => name === undefined || o.name === name);
      if (list.length === 0)
        throw new UsageError(`no operation "${name}"; run \`ashpipe operations\` for the list`);
      out.result(
        list,
        () =>
          list
            .map((o) =>
              [
                `${o.name} — ${o.title}`,
                `  ${o.description}`,
                `  scopes: ${o.scopes.map((s) => `${s.label} (${s.scope})`).join(', ')}`,
                '  fields:',
                ...o.fields.map(
                  (f) =>
                    `    ${f.name}${f.required ? ' (required)' : ''}: ${f.type}${f.description ? ` — ${f.description}` : ''}`,
                ),
                `  example: ${JSON.stringify(o.example)}`,
              ].join('\n'),
            )
            .join('\n\n') +
          '\n\nAny other write endpoint works in manual mode: ashpipe push --endpoint <endpoint> sends each record as the body.',
      );
    });
}
