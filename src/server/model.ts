import { z } from 'zod';

/** Where a source flow writes the streams it syncs. */
export const targetSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('sqlite'),
    /** SQLite file, relative to the server's working directory. @example 'ashby.db' */
    path: z.string().min(1),
  }),
  z.object({
    type: z.literal('postgres'),
    /** Connection URL. @example 'postgres://ashpipe@127.0.0.1:5432/warehouse' */
    url: z.string().min(1),
    /** Schema the tables go into. @default 'public' */
    schema: z.string().min(1).optional(),
  }),
  z.object({
    type: z.literal('jsonl'),
    /** Directory that receives one `<stream>.jsonl` file per stream. @example 'exports/' */
    path: z.string().min(1),
  }),
]);
export type Target = z.infer<typeof targetSchema>;

/** Where a destination flow reads the records it pushes into Ashby. */
export const inputSchema = z.object({
  type: z.enum(['csv', 'jsonl', 'json', 'sql']),
  /** File path (csv, jsonl, json) on the server. */
  path: z.string().min(1).optional(),
  /** Inline content (a pasted or uploaded CSV), used when `path` is absent. */
  content: z.string().optional(),
  /** SQL query for `type: 'sql'`. */
  query: z.string().optional(),
  /** Connection URL or SQLite path the query runs against. */
  database: z.string().optional(),
});
export type FlowInput = z.infer<typeof inputSchema>;

const cron = z
  .string()
  .trim()
  .min(1)
  .max(120)
  .nullable()
  .optional()
  .describe('cron expression (5 or 6 fields), e.g. "0 * * * *"; null = manual only');

const flowBase = {
  name: z.string().trim().min(1).max(120),
  credentialId: z.string().min(1),
  schedule: cron,
  options: z.record(z.unknown()).default({}),
};

/** Body of `POST /flows` for an Ashby source (Ashby → database). */
export const sourceFlowSchema = z.object({
  kind: z.literal('source'),
  ...flowBase,
  /** Stream names; empty = every stream the key may read. */
  streams: z.array(z.string().min(1)).default([]),
  target: targetSchema,
});

/** Body of `POST /flows` for an Ashby destination (file or query → Ashby). */
export const destinationFlowSchema = z
  .object({
    kind: z.literal('destination'),
    ...flowBase,
    /** An operation template of the push engine. @example 'candidate.create' */
    operation: z.string().min(1).optional(),
    /** A raw endpoint, when no template fits. @example 'candidate.addTag' */
    endpoint: z.string().min(1).optional(),
    input: inputSchema,
    /** Ashby field ← input column. @example { "name": "Full Name", "email": "Email" } */
    mapping: z.record(z.string()).default({}),
  })
  .refine((v) => v.operation !== undefined || v.endpoint !== undefined, {
    message: 'choose an operation template or an endpoint',
    path: ['operation'],
  });

export const createFlowSchema = z.union([sourceFlowSchema, destinationFlowSchema]);
export type SourceFlowConfig = z.infer<typeof sourceFlowSchema>;
export type DestinationFlowConfig = z.infer<typeof destinationFlowSchema>;
export type FlowConfig = SourceFlowConfig | DestinationFlowConfig;

export type FlowStatus = 'active' | 'paused';

/** A stored flow, as the API returns it. */
export interface Flow {
  id: string;
  name: string;
  kind: 'source' | 'destination';
  credentialId: string;
  schedule: string | null;
  status: FlowStatus;
  config: FlowConfig;
  createdAt: string;
  updatedAt: string;
  activatedAt: string | null;
}

/** `cancelled`: a person stopped the run (the cancel action); what it had written stays. */
export type RunStatus = 'running' | 'succeeded' | 'partial' | 'failed' | 'cancelled';
export type RunTrigger = 'manual' | 'schedule' | 'startup' | 'test' | 'replay';

/** Counts of one stream (source) or one operation (destination) in a run. */
export interface RunCount {
  /** Stream or operation name. */
  name: string;
  status: 'pending' | 'running' | 'succeeded' | 'skipped' | 'failed' | 'cancelled';
  /** Records read from Ashby (source) or from the input (destination). */
  read: number;
  /** Rows written to the sink (source) or records accepted by Ashby (destination). */
  written: number;
  deleted?: number;
  quarantined?: number;
  failed?: number;
  message?: string;
}

export interface RunErrorInfo {
  /** Stream, operation or row the error belongs to. */
  scope?: string;
  code: string;
  message: string;
}

/** One run of a flow, as stored and returned. */
export interface Run {
  id: string;
  flowId: string;
  kind: 'source' | 'destination';
  trigger: RunTrigger;
  status: RunStatus;
  startedAt: string;
  finishedAt: string | null;
  counts: RunCount[];
  errors: RunErrorInfo[];
  dryRun: boolean;
}
