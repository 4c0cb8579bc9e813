import fs from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsImport from 'ajv-formats';
import { expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseFlowsFile } from '../../src/apply/file.js';
import { flowsFileJsonSchema } from '../../src/apply/json-schema.js';

// ajv-formats is CommonJS: its default export is the plugin function.
const addFormats = addFormatsImport as unknown as typeof addFormatsImport.default;

const DOCS = path.resolve(import.meta.dirname, '../../docs');
const SCHEMA_FILE = path.join(DOCS, 'flows-file.schema.json');
const EXAMPLE = path.join(DOCS, 'examples', 'ashpipe.yaml');

it('docs/flows-file.schema.json is the schema apply validates with', () => {
  const text = `${JSON.stringify(flowsFileJsonSchema(), null, 2)}\n`;
  // UPDATE_DOCS=1 rewrites the file from the definitions.
  if (process.env.UPDATE_DOCS === '1') fs.writeFileSync(SCHEMA_FILE, text);
  // Compared as JSON: the formatter may lay the file out differently.
  expect(JSON.parse(fs.readFileSync(SCHEMA_FILE, 'utf8'))).toEqual(JSON.parse(text));
});

it('the published schema and apply agree on the example and on broken files', () => {
  // The formats (email, uri) the schema names are checked too, as an editor's validator would.
  const ajv = addFormats(new Ajv2020({ allErrors: true, strict: false }));
  const validate = ajv.compile(JSON.parse(fs.readFileSync(SCHEMA_FILE, 'utf8')) as object);
  const example = fs.readFileSync(EXAMPLE, 'utf8');
  expect(validate(parse(example)), JSON.stringify(validate.errors)).toBe(true);
  expect(parseFlowsFile(example, 'ashpipe.yaml').file.flows.map((f) => f.name)).toEqual([
    'Ashby to the warehouse',
    'Referrals from the careers site',
    'Weekly JSONL export',
  ]);
  // Each broken in one place, written by hand: both must refuse it.
  const broken = [
    example.replace('version: 1', 'version: 2'),
    example.replace('apiKeyEnv: ASHBY_API_KEY', 'apiKey: ashby-secret'),
    example.replace('onDelete: purge', 'onDelte: purge'),
    example.replace('kind: destination', 'kind: sink'),
    example.replace('{ type: jsonl, path: exports/ }', '{ type: jsonl }'),
    example.replace('active: false', 'active: "no"'),
  ];
  for (const text of broken) {
    expect(text).not.toBe(example);
    expect(validate(parse(text)), text).toBe(false);
    expect(() => parseFlowsFile(text, 'ashpipe.yaml')).toThrow(/ashpipe\.yaml:\d+:\d+ /);
  }
});
