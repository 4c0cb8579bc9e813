/**
 * The REST API's contract, kept once: the zod schemas the routes validate request bodies with, the
 * schemas of what they answer, and the table of routes the OpenAPI document is generated from
 * (`openapi.ts`). The console imports its types from here (`import type`), so this module depends on zod
 * alone: nothing that needs Node.
 */
import { z } from 'zod';
import { ALERT_EVENTS, channelEditSchema, storedChannelSchema } from '../alerts/channel-schema.js';

// ---------------------------------------------------------------------------------------------- flows

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
  options: z
    .object({
      piiPolicy: z
        .union([z.enum(['none', 'default']), z.record(z.unknown())])
        .optional()
        .describe(
          'personal data of a source flow: none (stored as Ashby sends it), default (the fields of `ashpipe pii catalogue` hashed, masked or dropped before they are written) or a policy document (a policy file as JSON: extends, streams, customFields)',
        ),
      // Checked by the flow routes (a 422 naming `options.onDelete`): a failed enum inside the flow union
      // would only say "Invalid input".
      onDelete: z
        .string()
        .optional()
        .describe(
          'source flows: soft or purge. A candidate deleted or merged away in Ashby is marked deleted (soft, the default) or erased with its applications, notes, feedback… as `ashpipe erase` does (purge)',
        ),
      quarantineRetentionDays: z
        .number()
        .int()
        .min(0)
        .optional()
        .describe(
          'destination flows: days a quarantined record keeps its input row; older rows are cleared when a push run starts (default 30)',
        ),
      analytics: z
        .boolean()
        .optional()
        .describe(
          'source flows on SQLite or PostgreSQL: after each run that did not fail, create or replace the analytics_* views (`ashpipe analytics`); refused on a JSONL target',
        ),
      history: z
        .union([z.array(z.string()), z.literal('all')])
        .optional()
        .describe(
          'source flows: streams whose every version is kept in `<stream>_history` (history mode, as `ashpipe sync --history`), or "all"; a synced stream not listed adds no versions (its table stays). On a JSONL target the stream files already hold every version',
        ),
      alerts: z
        .object({
          autoPauseAfter: z
            .number()
            .int()
            .min(0)
            .optional()
            .describe('consecutive failed runs after which the flow is paused (default 5; 0 never pauses)'),
          quarantineThreshold: z
            .number()
            .int()
            .min(0)
            .optional()
            .describe('quarantined records in one run from which an alert is sent (default 1; 0 = off)'),
          freshnessMinutes: z
            .number()
            .int()
            .min(1)
            .optional()
            .describe(
              'the freshness promise: an alert when the last run that did not fail is older than this (checked every minute)',
            ),
          channels: z
            .array(z.string().trim().min(1).max(100))
            .max(50)
            .optional()
            .describe(
              "names of the notification channels this flow's alerts go to (default: every channel; credential alerts always go to every channel)",
            ),
        })
        .strict()
        .optional()
        .describe('alerts and auto-pause of the flow (notification channels say where alerts go)'),
      managedBy: z
        .string()
        .trim()
        .min(1)
        .max(200)
        .optional()
        .describe(
          'the flows file that manages the flow (`ashpipe apply`, e.g. "ashpipe.yaml"): the next apply puts back what the file says, and `apply --prune` deletes the flow when the file no longer lists it',
        ),
    })
    .catchall(z.unknown())
    .default({}),
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

/** Body of `POST /flows`, `PUT /flows/{id}` and `POST /flows/test`. */
export const createFlowSchema = z.union([sourceFlowSchema, destinationFlowSchema]);
export type SourceFlowConfig = z.infer<typeof sourceFlowSchema>;
export type DestinationFlowConfig = z.infer<typeof destinationFlowSchema>;
export type FlowConfig = SourceFlowConfig | DestinationFlowConfig;

// ----------------------------------------------------------------------------------- request bodies

/** Shortest admin password the server accepts. */
export const MIN_PASSWORD_LENGTH = 10;
/** Sample requests return at most this many records. */
export const MAX_SAMPLE = 20;

const newPassword = z
  .string()
  .min(MIN_PASSWORD_LENGTH, `use at least ${MIN_PASSWORD_LENGTH} characters`)
  .max(1024);
const apiKey = z.string().trim().min(1, 'the API key is required').max(512);

/** `POST /session/setup`: the first admin password. */
export const setupBody = z.object({ password: newPassword });
/** `POST /session`: log in. */
export const loginBody = z.object({ password: z.string().max(1024) });
/** `PUT /session/password`. */
export const passwordChangeBody = z.object({
  currentPassword: z.string().max(1024),
  newPassword,
  /** Also revoke every API token. @default false */
  revokeTokens: z.boolean().optional(),
});
/** `POST /tokens`. */
export const newTokenBody = z.object({ name: z.string().trim().min(1).max(100) });
/** `POST /credentials`: the key is verified against Ashby before it is stored. */
export const newCredentialBody = z
  .object({
    name: z.string().trim().min(1, 'the credential name is required').max(100),
    description: z.string().trim().max(1000).optional(),
    apiKey,
    /** https, or http to this machine when the server allows it. */
    baseUrl: z.string().max(2048).optional(),
    /** Save the key even though no probe reached Ashby (it is marked with the error). */
    saveUnverified: z.boolean().optional(),
  })
  .strict();
/** `PATCH /credentials/{id}`: rename or re-describe. */
export const editCredentialBody = z
  .object({
    name: z.string().trim().min(1).max(100).optional(),
    description: z.string().trim().max(1000).optional(),
  })
  .strict();
/** `POST /credentials/{id}/rotate`. */
export const rotateBody = z.object({ apiKey, saveUnverified: z.boolean().optional() }).strict();
/** `POST /credentials/{id}/probe/sample`. */
export const sampleBody = z.object({
  stream: z.string().min(1),
  limit: z.number().int().min(1).max(MAX_SAMPLE).default(5),
});
/** `POST /quarantine/replay`. */
export const replayBody = z
  .object({
    ids: z.array(z.string().min(1)).min(1).max(10_000),
    /** The flow whose credential replays records the CLI quarantined (they name no flow). */
    flowId: z.string().optional(),
    dryRun: z.boolean().optional(),
    /** Edited records by entry id (each checked with `POST /quarantine/{id}/check`); others replay as read. */
    records: z.record(z.string(), z.record(z.string(), z.unknown())).optional(),
  })
  .strict();
/** `POST /quarantine/{id}/check`. */
export const recordCheckBody = z
  .object({
    /** The entry's record as edited: input column (or mapped field) → value. */
    record: z.record(z.string(), z.unknown()),
  })
  .strict();

// ------------------------------------------------------------------------------------ query strings

const paging = {
  limit: z.string().optional().describe('page size (bounded by the server)'),
  offset: z.string().optional().describe('rows to skip'),
};
/** `status` of the quarantine list and export. */
export const quarantineStatusParam = z
  .enum(['open', 'replayed', 'resolved', 'dismissed', 'all'])
  .default('open');
/** `format` of the quarantine export. */
export const exportFormatParam = z.enum(['jsonl', 'csv']).default('jsonl');
/** `includeDeleted` of a dataset preview. */
export const includeDeletedParam = z.enum(['true', 'false']).default('false');
const quarantineFilter = {
  flowId: z.string().optional(),
  runId: z.string().optional(),
  operation: z.string().optional(),
  status: quarantineStatusParam.optional(),
};

// ---------------------------------------------------------------------------------------- responses

const isoTime = z.string();

/** `{error: {code, message, details?}}`, the body of every error answer. */
export const errorResponse = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
});

const sessionState = z.object({
  setupRequired: z.boolean(),
  authenticated: z.boolean(),
  /** Present with a live session: the header value mutating requests need. */
  csrfToken: z.string().optional(),
});
const loggedIn = z.object({ authenticated: z.literal(true), csrfToken: z.string() });

export const apiTokenSchema = z.object({
  id: z.string(),
  name: z.string(),
  /** First characters of the token, so a person can tell tokens apart. */
  prefix: z.string(),
  createdAt: isoTime,
  lastUsedAt: isoTime.nullable(),
});
export type ApiToken = z.infer<typeof apiTokenSchema>;

const access = z.enum(['allowed', 'missing', 'unknown', 'error']);
export type Access = z.infer<typeof access>;

export const verificationSchema = z.object({
  status: z.enum(['valid', 'invalid', 'error']),
  verifiedAt: isoTime,
  title: z.string().optional(),
  scopes: z.array(z.string()).optional(),
  permissions: z.array(
    z.object({ module: z.string(), read: access, write: access, readError: z.string().optional() }),
  ),
  confidential: z.enum(['yes', 'no', 'unknown']),
  warnings: z.array(z.string()),
  message: z.string().optional(),
});

/** A credential as the API returns it: never the key, only its masked last characters. */
export const credentialSchema = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string().optional(),
  /** The server the credential was added for; absent means the default. */
  baseUrl: z.string().optional(),
  maskedKey: z.string(),
  status: z.enum(['unverified', 'verified', 'invalid', 'error']),
  verifiedAt: isoTime.optional(),
  verification: verificationSchema.optional(),
  createdAt: isoTime,
  updatedAt: isoTime,
  rotatedAt: isoTime.optional(),
  /** Flows that use this credential. */
  usedBy: z.array(z.object({ id: z.string(), name: z.string(), kind: z.string() })),
  /** Destination operations this key lacks the write permission for. */
  failingOperations: z.array(z.object({ name: z.string(), permission: z.string() })),
  /** Streams this key lacks the read permission for. */
  unreadableStreams: z.array(z.string()),
});
export type Credential = z.infer<typeof credentialSchema>;

export const credentialListResponse = z.object({
  credentials: z.array(credentialSchema),
  /** The Ashby server of credentials that name none (`serve --base-url`, `ASHBY_BASE_URL`). */
  defaultBaseUrl: z.string(),
  /** Whether a credential may name plain http to this machine (a sandbox). */
  allowHttpBaseUrl: z.boolean(),
});
export type CredentialList = z.infer<typeof credentialListResponse>;
const credentialResponse = z.object({ credential: credentialSchema });

export const streamInfoSchema = z.object({
  name: z.string(),
  endpoint: z.string(),
  incremental: z.boolean(),
  scope: z.string(),
  /** `Candidates: Read` */
  permission: z.string(),
  description: z.string(),
  optIn: z.boolean(),
  /** Requests one full pass takes. @example 'one request per 100 records' */
  cost: z.string(),
});
export type StreamInfo = z.infer<typeof streamInfoSchema>;

export const operationInfoSchema = z.object({
  name: z.string(),
  endpoint: z.string(),
  scope: z.string(),
  /** `Candidates: Write` */
  permission: z.string(),
  description: z.string(),
  /** Fields the operation takes, required first. */
  fields: z.array(z.object({ name: z.string(), required: z.boolean(), type: z.string().optional() })),
});
export type OperationInfo = z.infer<typeof operationInfoSchema>;

export const runCountSchema = z.object({
  /** Stream or operation name. */
  name: z.string(),
  status: z.enum(['pending', 'running', 'succeeded', 'skipped', 'failed', 'cancelled']),
  read: z.number(),
  written: z.number(),
  deleted: z.number().optional(),
  quarantined: z.number().optional(),
  failed: z.number().optional(),
  message: z.string().optional(),
  /** Columns the run added to the stream's table for fields Ashby sent for the first time (not on a first sync). */
  newColumns: z.array(z.string()).optional(),
  /** Requests made to Ashby for this stream (source flows). */
  requests: z.number().optional(),
  /** Of those, answered 429 (rate limited) and retried. */
  rateLimited: z.number().optional(),
});
export type RunCount = z.infer<typeof runCountSchema>;

export const runSchema = z.object({
  id: z.string(),
  flowId: z.string(),
  kind: z.enum(['source', 'destination']),
  trigger: z.enum(['manual', 'schedule', 'startup', 'test', 'replay']),
  status: z.enum(['queued', 'running', 'succeeded', 'partial', 'failed', 'cancelled']),
  startedAt: isoTime,
  finishedAt: isoTime.nullable(),
  counts: z.array(runCountSchema),
  errors: z.array(
    z.object({
      code: z.string(),
      message: z.string(),
      /** Stream, operation or row the error belongs to. */
      scope: z.string().optional(),
    }),
  ),
  dryRun: z.boolean(),
  /**
   * The analytics views the run installed in its target (a source flow with `options.analytics`);
   * `null` when it installed none.
   */
  analytics: z
    .object({
      /** Views created or replaced. @example ['analytics_application_funnel'] */
      installed: z.array(z.string()),
      /** Views left out, with the tables the target lacks for them. */
      skipped: z.array(z.object({ name: z.string(), missing: z.array(z.string()) })),
    })
    .nullable(),
  /**
   * The worker that runs (or ran) the run, for runs of the fleet's queue (a PostgreSQL control store);
   * `null` for runs the server ran in its own process. @example 'worker-2'
   */
  worker: z.string().nullable(),
});
export type Run = z.infer<typeof runSchema>;
const runResponse = z.object({ run: runSchema });

const flowFields = {
  id: z.string(),
  name: z.string(),
  credentialId: z.string(),
  schedule: z.string().nullable(),
  status: z.enum(['active', 'paused']),
  createdAt: isoTime,
  updatedAt: isoTime,
  activatedAt: isoTime.nullable(),
  /** When the flow was last paused; `null` while it is active. */
  pausedAt: isoTime.nullable(),
  /**
   * Why ashpipe paused it (its alerts after failed runs in a row, its credential deleted); `null` when a
   * person paused it or it is active.
   */
  pausedReason: z.string().nullable(),
  /** The run going now, if any. */
  runningRunId: z.string().nullable(),
  /**
   * Where the run going now is: `queued` (waiting in the fleet's queue for a worker, a PostgreSQL control
   * store) or `running`; `null` when none is going. (A union rather than `.nullable()`: the OpenAPI
   * generator leaves `null` out of a nullable enum's values.)
   */
  runningRunStatus: z.union([z.enum(['queued', 'running']), z.null()]),
  lastRun: z
    .object({
      id: z.string(),
      status: runSchema.shape.status,
      startedAt: isoTime,
      finishedAt: isoTime.nullable(),
    })
    .nullable(),
  /** The next scheduled slot of an active flow. */
  nextRunAt: isoTime.nullable(),
};
/** A flow as the API returns it: stored fields, the running run, the last run and the next slot. */
export const flowSchema = z.object({
  kind: z.enum(['source', 'destination']),
  ...flowFields,
  config: z.union([sourceFlowSchema, destinationFlowSchema.innerType()]),
});
export type Flow = z.infer<typeof flowSchema>;
const flowResponse = z.object({ flow: flowSchema });
/** The request header `ashpipe apply` sends, so that its changes to the flows a file manages are not warned of. */
export const APPLY_HEADER = 'x-ashpipe-apply';
/**
 * The answer to a flow's replacement. `warnings`: what the caller should know about the change, e.g. that
 * a flows file manages the flow and its next `ashpipe apply` puts back what the file says; empty if none.
 */
const flowReplacedResponse = z.object({ flow: flowSchema, warnings: z.array(z.string()) });

const errorInfo = z.object({
  code: z.string(),
  message: z.string(),
  requestId: z.string().optional(),
  path: z.string().optional(),
});

/** One record of a destination's dry run: its fate and the write it would send. */
export const dryRunResultSchema = z.object({
  row: z.number(),
  status: z.string(),
  id: z.string().optional(),
  error: errorInfo.optional(),
  wouldSend: z.object({ endpoint: z.string(), body: z.unknown() }).optional(),
});
export type DryRunResult = z.infer<typeof dryRunResultSchema>;

/** `POST /flows/test`: a source's sample or a destination's dry run. */
export const flowTestResponse = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('source'), stream: z.string(), records: z.array(z.unknown()) }),
  z.object({
    kind: z.literal('destination'),
    operation: z.string(),
    total: z.number(),
    counts: z.record(z.number()),
    results: z.array(dryRunResultSchema),
  }),
]);
export type FlowTest = z.infer<typeof flowTestResponse>;

export const datasetTableSchema = z.object({ name: z.string(), rows: z.number(), deleted: z.number() });
export const datasetPageSchema = z.object({
  stream: z.string(),
  columns: z.array(z.string()),
  rows: z.array(z.record(z.unknown())),
  /** Rows of the table: live rows, or all rows when soft-deleted ones were asked for too. */
  total: z.number(),
  /** Soft-deleted rows of the table. */
  deleted: z.number(),
  limit: z.number(),
  offset: z.number(),
});
export type DatasetPage = z.infer<typeof datasetPageSchema>;

export const quarantineItemSchema = z.object({
  id: z.string(),
  flowId: z.string().optional(),
  runId: z.string().optional(),
  pushRunId: z.string(),
  operation: z.string(),
  row: z.number().optional(),
  source: z.string().optional(),
  fieldPath: z.string().optional(),
  requestId: z.string().optional(),
  /** The record exactly as read from the input (what a replay sends). */
  record: z.unknown(),
  errorCode: z.string(),
  errorMessage: z.string(),
  createdAt: isoTime,
  status: z.enum(['open', 'replayed', 'resolved', 'dismissed']),
  closedAt: isoTime.optional(),
  /** Who or what closed the entry: a push run that applied the record, a replay, the console, the CLI. */
  closedBy: z.string().optional(),
  /** When the input row was cleared at the end of the quarantine retention (`record` is then null). */
  recordClearedAt: isoTime.optional(),
  /**
   * The Ashby account the record was quarantined on: a credential's name, never a key. Only that
   * account's pushes close the entry, and only its credential replays it.
   */
  account: z.string(),
});
export type QuarantineItem = z.infer<typeof quarantineItemSchema>;
const quarantineItemResponse = z.object({ item: quarantineItemSchema });

/** `POST /quarantine/{id}/check`. */
export const recordCheckResponse = z.object({
  ok: z.boolean(),
  /** Why a replay would quarantine the record again, field by field. */
  issues: z.array(z.object({ path: z.string(), reason: z.string() })),
  /** The record as it would be sent (mapped and coerced), when valid. */
  body: z.record(z.string(), z.unknown()).optional(),
});

export const replayResponse = z.object({
  replayed: z.number(),
  failed: z.number(),
  reconciled: z.boolean().optional(),
  notice: z.string().optional(),
  run: runSchema,
});

/** `PUT /flows/{id}/webhooks`: turn a source flow's webhook receiver on or off. */
export const webhookToggleBody = z.object({ enabled: z.boolean() }).strict();
/** `POST /flows/{id}/webhooks/install`: register the receiver in Ashby, one webhook per event type. */
export const webhookInstallBody = z
  .object({
    /**
     * The receiver's URL as Ashby reaches it (https, public).
     * @example 'https://ashpipe.example.com/webhooks/ashby/flow_123'
     */
    url: z.string().url().max(2048),
    /** Event types; absent = every type ashpipe applies. */
    events: z.array(z.string().min(1)).min(1).optional(),
  })
  .strict();

const installedWebhookSchema = z.object({
  webhookId: z.string(),
  webhookType: z.string(),
  requestUrl: z.string(),
  createdAt: isoTime,
});

/** `GET /flows/{id}/webhooks`: the receiver of a source flow and how it is doing. */
export const webhookStatusSchema = z.object({
  enabled: z.boolean(),
  /** Path of the receiver on this server; Ashby needs it with the server's public origin in front. */
  path: z.string(),
  /** Whether a secret token is stored for the flow's credential (the secret itself is shown only once). */
  secretStored: z.boolean(),
  /** Webhooks registered in Ashby for the flow's credential. */
  installed: z.array(installedWebhookSchema),
  /** Event types the receiver applies (the others are stored and acknowledged). */
  eventTypes: z.array(z.string()),
  /** The inbox's figures; `null` while webhooks are off. */
  stats: z
    .object({
      lastPingAt: isoTime.nullable(),
      lastEventAt: isoTime.nullable(),
      /** Events (pings left out) received since midnight UTC. */
      eventsToday: z.number(),
      /** Received → applied of the last applied event, in milliseconds. */
      lagMs: z.number().nullable(),
      /** Received → applied over the last 1,000 applied events, median and 95th percentile. */
      lagP50Ms: z.number().nullable(),
      lagP95Ms: z.number().nullable(),
      pending: z.number(),
      parked: z.number(),
      applied: z.number(),
      ignored: z.number(),
    })
    .nullable(),
});
export type WebhookStatus = z.infer<typeof webhookStatusSchema>;

/** An event the receiver gave up applying after repeated failures. */
export const parkedEventSchema = z.object({
  /** Ashby's `webhookActionId`. */
  actionId: z.string(),
  action: z.string(),
  receivedAt: isoTime,
  attempts: z.number(),
  /** Why the last attempt failed. */
  reason: z.string().nullable(),
});
export type ParkedEvent = z.infer<typeof parkedEventSchema>;

// ----------------------------------------------------------------------------------------- insights

/** The analytics views the Insights page charts, by the name its routes take (the view without `analytics_`). */
export const INSIGHT_VIEWS = [
  'application_funnel',
  'time_in_stage',
  'hires_by_source',
  'open_jobs_aging',
] as const;
export type InsightView = (typeof INSIGHT_VIEWS)[number];

/** Filters of `GET /flows/{id}/insights/{view}`, applied by the server to the view's rows. */
export const insightsQuery = {
  jobId: z.string().optional().describe("only this job's rows (`job_id`), e.g. a job id from `jobs`"),
  departmentId: z
    .string()
    .optional()
    .describe("only rows of jobs in this department (the job's `departmentId`)"),
  from: z
    .string()
    .optional()
    .describe(
      'first day (YYYY-MM-DD, UTC) of the date range: hires by `hired_on`, open jobs by `opened_at`; the funnel and time in stage have no date',
    ),
  to: z.string().optional().describe('last day (YYYY-MM-DD, UTC) of the date range, included'),
};

const insightsStatusSchema = z.object({
  /** The flow's target type: JSONL has no SQL, so no insights. */
  target: z.enum(['sqlite', 'postgres', 'jsonl']),
  /** Whether the target can hold the analytics views (SQLite or PostgreSQL). */
  supported: z.boolean(),
  /** Every analytics view: installed in the target or not, and the tables it would need. */
  views: z.array(z.object({ name: z.string(), installed: z.boolean(), missing: z.array(z.string()) })),
  /** Live jobs of the target, for the job filter. */
  jobs: z.array(
    z.object({
      id: z.string(),
      title: z.string().nullable(),
      departmentId: z.string().nullable(),
      status: z.string().nullable(),
    }),
  ),
  /** Departments of those jobs, named when the `departments` stream is synced. */
  departments: z.array(z.object({ id: z.string(), name: z.string().nullable() })),
});
export type InsightsStatus = z.infer<typeof insightsStatusSchema>;

const insightsRowsSchema = z.object({
  /** The view read, e.g. `analytics_application_funnel`. */
  view: z.string(),
  columns: z.array(z.string()),
  /** The view's rows that pass the filters, in the view's order. */
  rows: z.array(z.record(z.string(), z.union([z.string(), z.number(), z.null()]))),
  filters: z.object({
    jobId: z.string().nullable(),
    departmentId: z.string().nullable(),
    from: z.string().nullable(),
    to: z.string().nullable(),
  }),
  /** Whether `from`/`to` applied to this view (it has a date: hires and open jobs). */
  dateRangeApplied: z.boolean(),
});
export type InsightsRows = z.infer<typeof insightsRowsSchema>;

// ----------------------------------------------------------------------------- notification channels

/** A new notification channel: its settings, secrets included (write-only). */
export const alertChannelBody = storedChannelSchema;
/** An edit: the same settings; a webhook `url` or SMTP `password` left out keeps the stored one. */
export const alertChannelEditBody = channelEditSchema;

/** A notification channel as the API shows it: never its webhook URL's path or its SMTP password. */
export const alertChannelSchema = z.object({
  /** `chn_…` for stored channels, `file:NAME` for those of `serve --alert-channels FILE`. */
  id: z.string(),
  name: z.string(),
  type: z.enum(['webhook', 'email']),
  /** `console` (made in the console, the API or a flows file) or `file` (`--alert-channels`, read-only). */
  source: z.enum(['console', 'file']),
  /** Events sent to it; all when absent. */
  events: z.array(z.enum(ALERT_EVENTS)).optional(),
  /** Webhook body format. */
  format: z.enum(['json', 'slack']).optional(),
  /** The webhook URL's scheme and host only (its path is a token), e.g. `https://hooks.slack.com/…`. */
  urlPreview: z.string().optional(),
  to: z.array(z.string()).optional(),
  from: z.string().optional(),
  smtp: z
    .object({
      host: z.string(),
      port: z.number(),
      secure: z.boolean(),
      user: z.string().optional(),
      passwordEnv: z.string().optional(),
      /** Whether a password is stored (it is never returned). */
      passwordSet: z.boolean(),
    })
    .optional(),
  /** The flows file that manages it. */
  managedBy: z.string().optional(),
  createdAt: z.string().nullable(),
  updatedAt: z.string().nullable(),
});
export type AlertChannel = z.infer<typeof alertChannelSchema>;

/** The answers of the routes, by name (the console's `api<…>()` calls and the OpenAPI document use them). */
export const responses = {
  health: z.object({ ok: z.literal(true) }),
  session: sessionState,
  loggedIn,
  passwordChanged: loggedIn.extend({ revokedTokens: z.number() }),
  tokens: z.object({ tokens: z.array(apiTokenSchema) }),
  tokenCreated: z.object({
    apiToken: apiTokenSchema,
    /** The token's value, shown this once. */
    plaintext: z.string(),
  }),
  credentials: credentialListResponse,
  credential: credentialResponse,
  sample: z.object({ stream: z.string(), records: z.array(z.unknown()) }),
  streams: z.object({ streams: z.array(streamInfoSchema) }),
  operations: z.object({ operations: z.array(operationInfoSchema) }),
  flows: z.object({
    flows: z.array(flowSchema),
    /** The zone cron schedules run in. */
    timezone: z.string(),
  }),
  flow: flowResponse,
  flowReplaced: flowReplacedResponse,
  flowTest: flowTestResponse,
  run: runResponse,
  cancelling: z.object({ cancelling: z.literal(true) }),
  webhooks: webhookStatusSchema,
  webhookSecret: z.object({
    /** The secret token, shown this once: paste it into Ashby's webhook settings. */
    secret: z.string(),
    status: webhookStatusSchema,
  }),
  webhookUninstalled: z.object({ removed: z.array(installedWebhookSchema), status: webhookStatusSchema }),
  parkedEvents: z.object({ events: z.array(parkedEventSchema) }),
  insights: insightsStatusSchema,
  alertChannels: z.object({ channels: z.array(alertChannelSchema) }),
  alertChannel: z.object({ channel: alertChannelSchema }),
  alertChannelTest: z.object({
    /** Whether the receiver took the test message. */
    delivered: z.boolean(),
    /** What went wrong, when it did not. */
    error: z.string().optional(),
  }),
  insightsRows: insightsRowsSchema,
  insightsInstalled: z.object({
    /** What the install did with each view. */
    views: z.array(
      z.object({ name: z.string(), status: z.enum(['installed', 'skipped']), missing: z.array(z.string()) }),
    ),
    status: insightsStatusSchema,
  }),
  parkedRetry: z.object({ actionId: z.string(), requeued: z.literal(true) }),
  runs: z.object({ runs: z.array(runSchema), limit: z.number(), offset: z.number() }),
  datasets: z.object({ flowId: z.string(), tables: z.array(datasetTableSchema) }),
  preview: datasetPageSchema,
  quarantine: z.object({ items: z.array(quarantineItemSchema), limit: z.number(), offset: z.number() }),
  quarantineItem: quarantineItemResponse,
  recordCheck: recordCheckResponse,
  replay: replayResponse,
  upload: z.object({ upload: z.object({ path: z.string(), name: z.string(), bytes: z.number() }) }),
} as const;

/** What a route answers, by its name in {@link responses}. */
export type ApiResponse<K extends keyof typeof responses> = z.infer<(typeof responses)[K]>;

// ---------------------------------------------------------------------------------------- the routes

/** One route of `/api/v1`, as the OpenAPI document describes it. */
export interface ApiRoute {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** OpenAPI path under `/api/v1`, parameters in braces. */
  path: string;
  tag: string;
  summary: string;
  /** The JSON body, validated by the route with this very schema. */
  body?: z.ZodTypeAny;
  /** Body that is not JSON (uploads). */
  multipart?: true;
  /** Query parameters. */
  query?: z.ZodRawShape;
  /** Success status. @default 200 */
  status?: 200 | 201 | 202 | 204;
  /** Success body; absent for 204 and for bodies that are not JSON. */
  response?: z.ZodTypeAny;
  /** Content type of a success body that is not JSON. */
  produces?: string[];
  /** Error statuses beyond 401/403 of the secured routes. */
  errors?: number[];
  /** No session or token needed. @default false */
  open?: true;
}

/** Every route of `/api/v1`: the OpenAPI document is generated from this table. */
export const apiRoutes: readonly ApiRoute[] = [
  {
    method: 'get',
    path: '/openapi.json',
    tag: 'meta',
    summary: 'This document',
    open: true,
    produces: ['application/json'],
  },
  {
    method: 'get',
    path: '/health',
    tag: 'meta',
    summary: 'Liveness',
    open: true,
    response: responses.health,
  },
  {
    method: 'get',
    path: '/session',
    tag: 'session',
    summary: 'Whether setup is required; with a session, its CSRF token',
    open: true,
    response: responses.session,
  },
  {
    method: 'post',
    path: '/session',
    tag: 'session',
    summary: 'Log in (rate limited)',
    open: true,
    body: loginBody,
    response: responses.loggedIn,
    errors: [401, 403, 422, 429],
  },
  { method: 'delete', path: '/session', tag: 'session', summary: 'Log out', status: 204 },
  {
    method: 'post',
    path: '/session/setup',
    tag: 'session',
    summary: 'First run: set the admin password',
    open: true,
    body: setupBody,
    status: 201,
    response: responses.loggedIn,
    errors: [403, 409, 422],
  },
  {
    method: 'put',
    path: '/session/password',
    tag: 'session',
    summary: 'Change the admin password (logs other browsers out; `revokeTokens` revokes every API token)',
    body: passwordChangeBody,
    response: responses.passwordChanged,
    errors: [422, 429],
  },
  {
    method: 'post',
    path: '/uploads',
    tag: 'uploads',
    summary:
      'Upload a .csv, .jsonl or .json file (multipart form data, part `file`) into the data directory; answers the `input.path` to use',
    multipart: true,
    status: 201,
    response: responses.upload,
    errors: [400, 413, 422],
  },
  {
    method: 'get',
    path: '/tokens',
    tag: 'tokens',
    summary: 'List API tokens (never their values)',
    response: responses.tokens,
  },
  {
    method: 'post',
    path: '/tokens',
    tag: 'tokens',
    summary: 'Create an API token; `plaintext` is shown once',
    body: newTokenBody,
    status: 201,
    response: responses.tokenCreated,
    errors: [422],
  },
  {
    method: 'delete',
    path: '/tokens/{id}',
    tag: 'tokens',
    summary: 'Revoke an API token',
    status: 204,
    errors: [404],
  },
  {
    method: 'get',
    path: '/credentials',
    tag: 'credentials',
    summary: 'List credentials with masked keys and permission maps',
    response: responses.credentials,
  },
  {
    method: 'post',
    path: '/credentials',
    tag: 'credentials',
    summary: 'Verify and store a credential',
    body: newCredentialBody,
    status: 201,
    response: responses.credential,
    errors: [409, 422],
  },
  {
    method: 'get',
    path: '/credentials/{id}',
    tag: 'credentials',
    summary: 'One credential',
    response: responses.credential,
    errors: [404],
  },
  {
    method: 'patch',
    path: '/credentials/{id}',
    tag: 'credentials',
    summary: 'Rename or re-describe',
    body: editCredentialBody,
    response: responses.credential,
    errors: [404, 409, 422],
  },
  {
    method: 'delete',
    path: '/credentials/{id}',
    tag: 'credentials',
    summary: 'Delete (409 while flows use it, unless force=true, which pauses them)',
    query: { force: z.enum(['true', 'false']).optional() },
    status: 204,
    errors: [404, 409],
  },
  {
    method: 'post',
    path: '/credentials/{id}/rotate',
    tag: 'credentials',
    summary: 'Verify and swap in a new key',
    body: rotateBody,
    response: responses.credential,
    errors: [404, 422],
  },
  {
    method: 'post',
    path: '/credentials/{id}/probe',
    tag: 'credentials',
    summary: 'Re-verify the stored key',
    response: responses.credential,
    errors: [404],
  },
  {
    method: 'post',
    path: '/credentials/{id}/probe/sample',
    tag: 'credentials',
    summary: 'A few records of a stream',
    body: sampleBody,
    response: responses.sample,
    errors: [404, 422],
  },
  {
    method: 'get',
    path: '/streams',
    tag: 'catalogue',
    summary: 'Streams a source can sync',
    response: responses.streams,
  },
  {
    method: 'get',
    path: '/operations',
    tag: 'catalogue',
    summary: 'Operations a destination can perform',
    response: responses.operations,
  },
  {
    method: 'get',
    path: '/flows',
    tag: 'flows',
    summary: 'List flows with last run and next slot',
    response: responses.flows,
  },
  {
    method: 'post',
    path: '/flows',
    tag: 'flows',
    summary: 'Create a flow (paused; `?activate=true` to activate)',
    query: { activate: z.enum(['true', 'false']).optional() },
    body: createFlowSchema,
    status: 201,
    response: responses.flow,
    errors: [422],
  },
  {
    method: 'post',
    path: '/flows/test',
    tag: 'flows',
    summary:
      'Test an unsaved flow: a source samples its first stream; a destination is dry-run over its first records (bodies it would send, reasons it would quarantine)',
    query: { limit: z.string().optional().describe(`records, at most ${MAX_SAMPLE}`) },
    body: createFlowSchema,
    response: responses.flowTest,
    errors: [404, 422],
  },
  {
    method: 'get',
    path: '/flows/{id}',
    tag: 'flows',
    summary: 'One flow',
    response: responses.flow,
    errors: [404],
  },
  {
    method: 'put',
    path: '/flows/{id}',
    tag: 'flows',
    summary: 'Replace a flow',
    body: createFlowSchema,
    response: responses.flowReplaced,
    errors: [404, 422],
  },
  {
    method: 'delete',
    path: '/flows/{id}',
    tag: 'flows',
    summary: 'Delete a flow',
    status: 204,
    errors: [404, 409],
  },
  {
    method: 'post',
    path: '/flows/{id}/activate',
    tag: 'flows',
    summary: 'Activate (schedule it)',
    response: responses.flow,
    errors: [404],
  },
  {
    method: 'post',
    path: '/flows/{id}/pause',
    tag: 'flows',
    summary: 'Pause (unschedule it)',
    response: responses.flow,
    errors: [404],
  },
  {
    method: 'post',
    path: '/flows/{id}/run',
    tag: 'flows',
    summary: 'Run now (409 while a run is going)',
    status: 202,
    response: responses.run,
    errors: [404, 409],
  },
  {
    method: 'post',
    path: '/flows/{id}/test',
    tag: 'flows',
    summary: 'Dry run (409 while a run is going)',
    status: 202,
    response: responses.run,
    errors: [404, 409],
  },
  {
    method: 'post',
    path: '/flows/{id}/cancel',
    tag: 'flows',
    summary: 'Ask the running run to stop',
    status: 202,
    response: responses.cancelling,
    errors: [404, 409],
  },
  {
    method: 'get',
    path: '/flows/{id}/webhooks',
    tag: 'webhooks',
    summary:
      "A source flow's webhook receiver: its path, secret stored or not, webhooks registered in Ashby, last ping, last event, events today, lag p50/p95, queue counts",
    response: responses.webhooks,
    errors: [404],
  },
  {
    method: 'put',
    path: '/flows/{id}/webhooks',
    tag: 'webhooks',
    summary:
      'Turn the receiver of a source flow on or off (deliveries to a flow whose webhooks are off are answered 410, which Ashby does not retry)',
    body: webhookToggleBody,
    response: responses.webhooks,
    errors: [404, 422],
  },
  {
    method: 'post',
    path: '/flows/{id}/webhooks/install',
    tag: 'webhooks',
    summary:
      "Register the receiver in Ashby through the flow's credential: one webhook.create per event type, signed with a new secret (shown this once); needs the key's API Keys: Write permission",
    body: webhookInstallBody,
    status: 201,
    response: responses.webhookSecret,
    errors: [403, 404, 422, 502],
  },
  {
    method: 'delete',
    path: '/flows/{id}/webhooks/install',
    tag: 'webhooks',
    summary: "Delete the credential's webhooks in Ashby (webhook.delete)",
    response: responses.webhookUninstalled,
    errors: [403, 404, 502],
  },
  {
    method: 'post',
    path: '/flows/{id}/webhooks/secret',
    tag: 'webhooks',
    summary:
      'A new secret token for webhooks set up in Ashby by hand, shown this once (deliveries signed with the old one are refused from now on)',
    status: 201,
    response: responses.webhookSecret,
    errors: [404],
  },
  {
    method: 'get',
    path: '/flows/{id}/webhooks/parked',
    tag: 'webhooks',
    summary: 'Events the receiver gave up applying, with the reason',
    response: responses.parkedEvents,
    errors: [404],
  },
  {
    method: 'post',
    path: '/flows/{id}/webhooks/parked/{actionId}/retry',
    tag: 'webhooks',
    summary: 'Apply a parked event again (one more failure parks it again with the new reason)',
    response: responses.parkedRetry,
    errors: [404],
  },
  {
    method: 'get',
    path: '/flows/{id}/insights',
    tag: 'insights',
    summary:
      "What the Insights page of a source flow can show: the target's type, which analytics views are installed, the jobs and departments to filter by",
    response: responses.insights,
    errors: [404, 422, 502],
  },
  {
    method: 'post',
    path: '/flows/{id}/insights/install',
    tag: 'insights',
    summary:
      "Create or replace the analytics views in the flow's SQLite or PostgreSQL target now (as `ashpipe analytics install`); 422 on a JSONL target",
    response: responses.insightsInstalled,
    errors: [404, 422, 502],
  },
  {
    method: 'get',
    path: '/flows/{id}/insights/{view}',
    tag: 'insights',
    summary:
      'The rows of one analytics view (application_funnel, time_in_stage, hires_by_source, open_jobs_aging) filtered by job, department and date range; 409 while the view is not installed',
    query: insightsQuery,
    response: responses.insightsRows,
    errors: [404, 409, 422, 502],
  },
  {
    method: 'get',
    path: '/runs',
    tag: 'runs',
    summary: 'Run history, newest first',
    query: { flowId: z.string().optional(), ...paging },
    response: responses.runs,
  },
  {
    method: 'get',
    path: '/runs/{id}',
    tag: 'runs',
    summary: 'One run with counts and errors',
    response: responses.run,
    errors: [404],
  },
  {
    method: 'get',
    path: '/runs/{id}/events',
    tag: 'runs',
    summary: 'Server-sent events: `progress` (the run so far)…, then `finished` (the final run)',
    produces: ['text/event-stream'],
    errors: [404],
  },
  {
    method: 'get',
    path: '/datasets',
    tag: 'datasets',
    summary: 'The synced tables of a source flow with live and deleted row counts',
    query: { flowId: z.string() },
    response: responses.datasets,
    errors: [404, 422],
  },
  {
    method: 'get',
    path: '/datasets/{stream}/preview',
    tag: 'datasets',
    summary: 'A page of a synced table, live rows unless `includeDeleted`=true',
    query: { flowId: z.string().optional(), includeDeleted: includeDeletedParam.optional(), ...paging },
    response: responses.preview,
    errors: [404, 422],
  },
  {
    method: 'get',
    path: '/quarantine',
    tag: 'quarantine',
    summary: 'Quarantined records',
    query: { ...quarantineFilter, ...paging },
    response: responses.quarantine,
  },
  {
    method: 'get',
    path: '/quarantine/export',
    tag: 'quarantine',
    summary: 'Quarantined records as JSON lines or CSV (same filters as the list)',
    query: { ...quarantineFilter, format: exportFormatParam.optional() },
    produces: ['application/x-ndjson', 'text/csv'],
    errors: [422],
  },
  {
    method: 'get',
    path: '/quarantine/{id}',
    tag: 'quarantine',
    summary: 'One quarantined record',
    response: responses.quarantineItem,
    errors: [404],
  },
  {
    method: 'post',
    path: '/quarantine/{id}/resolve',
    tag: 'quarantine',
    summary: 'Mark an open entry resolved (its record was fixed some other way); 409 unless open',
    response: responses.quarantineItem,
    errors: [404, 409],
  },
  {
    method: 'post',
    path: '/quarantine/{id}/dismiss',
    tag: 'quarantine',
    summary: 'Dismiss an open entry (its record is not to be pushed); 409 unless open',
    response: responses.quarantineItem,
    errors: [404, 409],
  },
  {
    method: 'post',
    path: '/quarantine/{id}/check',
    tag: 'quarantine',
    summary:
      "Check an edited record against the entry's operation and mapping, as a replay would prepare it; sends nothing",
    body: recordCheckBody,
    response: responses.recordCheck,
    errors: [404, 422],
  },
  {
    method: 'post',
    path: '/quarantine/replay',
    tag: 'quarantine',
    summary:
      'Replay quarantined records through the push engine as a run of their flow (409 while it runs, or when the credential of the flow belongs to another Ashby account than the entries); answers when the replay ends',
    body: replayBody,
    response: responses.replay,
    errors: [404, 409, 422],
  },
  {
    method: 'get',
    path: '/alert-channels',
    tag: 'alerts',
    summary: 'Notification channels: stored ones, then those of `serve --alert-channels` (read-only)',
    response: responses.alertChannels,
  },
  {
    method: 'post',
    path: '/alert-channels',
    tag: 'alerts',
    summary: 'Add a notification channel (webhook or email); its secrets are write-only',
    body: alertChannelBody,
    status: 201,
    response: responses.alertChannel,
    errors: [409, 422],
  },
  {
    method: 'get',
    path: '/alert-channels/{id}',
    tag: 'alerts',
    summary: 'One notification channel',
    response: responses.alertChannel,
    errors: [404],
  },
  {
    method: 'put',
    path: '/alert-channels/{id}',
    tag: 'alerts',
    summary:
      'Edit a stored channel (a webhook `url` or SMTP `password` left out is kept); 409 for a file channel or a name in use',
    body: alertChannelEditBody,
    response: responses.alertChannel,
    errors: [404, 409, 422],
  },
  {
    method: 'delete',
    path: '/alert-channels/{id}',
    tag: 'alerts',
    summary: 'Delete a stored channel; 409 for a file channel',
    status: 204,
    errors: [404, 409],
  },
  {
    method: 'post',
    path: '/alert-channels/{id}/test',
    tag: 'alerts',
    summary: 'Send a test message through the channel (one attempt) and say whether it was taken',
    response: responses.alertChannelTest,
    errors: [404],
  },
];
