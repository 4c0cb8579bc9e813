/**
 * The flows file's JSON Schema (`docs/flows-file.schema.json`), generated from the zod schema `apply`
 * validates with, so that editors check a file the same way the CLI does.
 */
import { extendZodWithOpenApi, OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { flowsFileSchema } from './file.js';

// The generator names the schema through zod's `.openapi()`, which this adds to zod's types.
extendZodWithOpenApi(z);

/** Where the schema is published, as its `$id`. */
export const FLOWS_FILE_SCHEMA_ID = 'https://ashpipe.dev/schemas/flows-file.schema.json';

/** The JSON Schema (2020-12) of a flows file. */
export function flowsFileJsonSchema(): Record<string, unknown> {
  const registry = new OpenAPIRegistry();
  registry.register('FlowsFile', flowsFileSchema);
  const components = new OpenApiGeneratorV31(registry.definitions).generateComponents().components;
  const schema = (components?.schemas?.FlowsFile ?? {}) as Record<string, unknown>;
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: FLOWS_FILE_SCHEMA_ID,
    title: 'ashpipe flows file',
    description:
      'Credentials (by name, never keys), source and destination flows, schedules and options; applied with `ashpipe apply -f`.',
    ...schema,
  };
}
