import { Command } from 'commander';
import { DEFAULT_CATALOGUE } from '../../privacy/index.js';
import type { CliContext } from '../context.js';
import { table } from '../output.js';

/** What each action does, as `ashpipe pii catalogue` explains it. */
const ACTION_NOTES = [
  'hash: HMAC-SHA256 keyed from the master key (same value, same hash, in every table and run)',
  'mask: email -> ***@domain, phone -> last 2 digits, name -> initials, location -> country,',
  '      ip -> network, url -> its site, text -> [removed] (numbers such as scores are kept)',
  'drop: the field is not stored at all (custom field values are stored without their value)',
];

/** `ashpipe pii`: the personal data policy. */
export function piiCommand(ctx: CliContext): Command {
  const cmd = new Command('pii').description(
    'Personal data: the fields the default PII policy hashes, masks or drops (see --pii-policy)',
  );
  cmd
    .command('catalogue')
    .description("Print the default catalogue of Ashby's personal fields and what the default policy does")
    .option('--json', 'print the catalogue as JSON on stdout')
    .action((opts: { json?: boolean }) => {
      const out = ctx.output(Boolean(opts.json));
      out.result({ catalogue: DEFAULT_CATALOGUE }, () =>
        [
          table(
            ['stream', 'field', 'action', 'kind'],
            DEFAULT_CATALOGUE.map((e) => [e.stream, e.path, e.action, e.kind]),
          ),
          '',
          ...ACTION_NOTES,
          'Every other field is kept. A policy file (YAML or JSON) changes or adds fields and marks custom',
          'fields personal by title or id: --pii-policy FILE on sync and webhooks receive.',
        ].join('\n'),
      );
    });
  return cmd;
}
