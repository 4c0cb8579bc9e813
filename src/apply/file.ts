/**
 * The flows file (`ashpipe.yaml`): credentials by name, notification channels, source and destination
 * flows, schedules and their options, kept in git and applied with `ashpipe apply`. Its flow entries are the REST API's flow bodies
 * with the credential named instead of its id, so one vocabulary serves the console, the API and the file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { ALERT_EVENTS } from '../alerts/channel-schema.js';
import { destinationFlowSchema, sourceFlowSchema } from '../server/api-schema.js';
import { ConfigError } from '../util/errors.js';

/** The version of the file format this build reads and writes. */
export const FLOWS_FILE_VERSION = 1;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A credential as the file names it: never the key itself. */
export const fileCredentialSchema = z
  .object({
    /** The credential's name; flows refer to it by this name. @example 'Production' */
    name: z.string().trim().min(1).max(100),
    /** Shown on the credential's card. */
    description: z.string().trim().max(1000).optional(),
    /**
     * The environment variable holding the API key, read only when the credential does not exist yet.
     * @example 'ASHBY_API_KEY'
     */
    apiKeyEnv: z
      .string()
      .regex(ENV_NAME, 'an environment variable name (letters, digits, underscores)')
      .optional()
      .describe('environment variable holding the API key; read only to create the credential'),
    /** The Ashby server, when not the default. @example 'https://api.ashbyhq.com' */
    baseUrl: z.string().min(1).max(2048).optional(),
  })
  .strict();

const envName = z.string().regex(ENV_NAME, 'an environment variable name (letters, digits, underscores)');
const channelEvents = z.array(z.enum(ALERT_EVENTS)).optional();

/**
 * A notification channel as the file names it: its secrets by environment variable only, read by
 * `ashpipe apply` when it creates the channel (like a credential's key).
 */
export const fileChannelSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('webhook'),
      /** The channel's name; flows pick channels by it (`options.alerts.channels`). @example 'ops-slack' */
      name: z.string().trim().min(1).max(100),
      /** The environment variable holding the webhook URL (its path is a token). @example 'SLACK_WEBHOOK_URL' */
      urlEnv: envName.describe(
        'environment variable holding the webhook URL; read only to create the channel',
      ),
      /** `json` (ashpipe's body) or `slack`. @default 'json' */
      format: z.enum(['json', 'slack']).optional(),
      /** Events sent to it; all when absent. */
      events: channelEvents,
    })
    .strict(),
  z
    .object({
      type: z.literal('email'),
      name: z.string().trim().min(1).max(100),
      /** Recipients. @example ['data-team@example.com'] */
      to: z.array(z.string().email()).min(1).max(50),
      /** Sender address. @example 'ashpipe@example.com' */
      from: z.string().email(),
      smtp: z
        .object({
          host: z.string().min(1).max(255),
          /** @default 587 */
          port: z.number().int().min(1).max(65535).optional(),
          /** @default false */
          secure: z.boolean().optional(),
          user: z.string().max(255).optional(),
          /** The environment variable holding the SMTP password. @example 'SMTP_PASSWORD' */
          passwordEnv: envName
            .optional()
            .describe('environment variable holding the SMTP password; read only to create the channel'),
        })
        .strict(),
      events: channelEvents,
    })
    .strict(),
]);

/**
 * Flow options the engines read besides the documented ones of the API schema (`ashpipe sync`'s and
 * `ashpipe push`'s options under their API names).
 */
const ENGINE_OPTIONS = [
  'fullRefresh',
  'refresh',
  'refreshAfter',
  'excludeConfidential',
  'includeArchived',
  'requestsPerSecond',
  'concurrency',
  'ignoreUnknown',
  'onExisting',
  'keyColumn',
] as const;

// The file's options are the API's flow options without `managedBy` (apply writes it) and `webhooks`
// (the flow's own `webhooks` field). The API keeps unknown option names; the file refuses them, because in
// a hand-written file they are typos.
const apiOptions = sourceFlowSchema.shape.options.removeDefault();
const fileOptions = z
  .object({
    ...apiOptions.omit({ managedBy: true }).shape,
    ...Object.fromEntries(ENGINE_OPTIONS.map((name) => [name, z.unknown().optional()])),
  })
  .strict()
  .optional();

const flowCommon = {
  /** The credential's name in this file or on the server. */
  credential: z.string().trim().min(1).max(100),
  /** Whether the schedule runs (a flow without a schedule only runs when asked). @default true */
  active: z.boolean().optional().describe('run on the schedule (default true); false = paused'),
  options: fileOptions,
};

const fileSourceFlow = sourceFlowSchema
  .omit({ credentialId: true, options: true })
  .extend({
    ...flowCommon,
    /** Receive Ashby's webhooks for this flow (see `docs/webhooks.md`); left as it is when absent. */
    webhooks: z.boolean().optional().describe('apply Ashby webhooks to the target between syncs'),
  })
  .strict();

const fileDestinationFlow = destinationFlowSchema
  .innerType()
  .omit({ credentialId: true, options: true })
  .extend(flowCommon)
  .strict();

/** One flow entry of the file. */
export const fileFlowSchema = z
  .discriminatedUnion('kind', [fileSourceFlow, fileDestinationFlow])
  .superRefine((flow, ctx) => {
    if (flow.kind === 'destination' && flow.operation === undefined && flow.endpoint === undefined)
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['operation'],
        message: 'choose an operation template or an endpoint',
      });
  });

/** The whole file. */
export const flowsFileSchema = z
  .object({
    /** The format version. @example 1 */
    version: z.literal(FLOWS_FILE_VERSION),
    /**
     * What marks the flows this file manages on the server (`--prune` deletes only those).
     * @default the file's name, e.g. 'ashpipe.yaml'
     */
    name: z.string().trim().min(1).max(200).optional(),
    credentials: z.array(fileCredentialSchema).default([]),
    /** Where alerts go (see `docs/operations.md`). */
    channels: z.array(fileChannelSchema).default([]),
    flows: z.array(fileFlowSchema).default([]),
  })
  .strict()
  .superRefine((file, ctx) => {
    const unique = (list: ReadonlyArray<{ name: string }>, key: 'credentials' | 'channels' | 'flows') => {
      const seen = new Map<string, number>();
      list.forEach((item, i) => {
        const first = seen.get(item.name);
        if (first !== undefined)
          ctx.addIssue({
            code: z.ZodIssueCode.custom,
            path: [key, i, 'name'],
            message: `"${item.name}" is also the name of ${key}[${first}]: names must be unique`,
          });
        else seen.set(item.name, i);
      });
    };
    unique(file.credentials, 'credentials');
    unique(file.channels, 'channels');
    unique(file.flows, 'flows');
  });

export type FlowsFile = z.infer<typeof flowsFileSchema>;
export type FileFlow = z.infer<typeof fileFlowSchema>;
export type FileCredential = z.infer<typeof fileCredentialSchema>;
export type FileChannel = z.infer<typeof fileChannelSchema>;

/** A flows file read and checked, with the name that marks its flows on the server. */
export interface LoadedFlowsFile {
  file: FlowsFile;
  /** `name` of the file, or its base name. */
  managedBy: string;
}

/** `flows[1].target.url` from zod's path. */
export function pathText(at: ReadonlyArray<string | number>): string {
  let out = '';
  for (const part of at) out += typeof part === 'number' ? `[${part}]` : out === '' ? part : `.${part}`;
  return out;
}

/**
 * Parses and checks a flows file's text. Every problem is reported at once, each with its line and the
 * path of the field (`ashpipe.yaml:12:7 flows[1].target.url: Required`), as a {@link ConfigError}.
 */
export function parseFlowsFile(text: string, fileName: string): LoadedFlowsFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const where = (offset: number | undefined) => {
    if (offset === undefined) return fileName;
    const { line, col } = lineCounter.linePos(offset);
    return `${fileName}:${line}:${col}`;
  };
  if (doc.errors.length > 0)
    throw new ConfigError(
      [
        `${fileName} is not valid YAML:`,
        ...doc.errors.map((e) => `  ${where(e.pos[0])} ${e.message.split('\n')[0]}`),
      ].join('\n'),
    );
  const parsed = flowsFileSchema.safeParse(doc.toJS());
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      // The deepest node of the path that exists in the document gives the line.
      let node: unknown;
      for (let n = issue.path.length; n >= 0 && node === undefined; n--) {
        const at = issue.path.slice(0, n);
        node = at.length === 0 ? doc.contents : doc.getIn(at, true);
      }
      const range = (node as { range?: [number, number, number] } | undefined)?.range;
      const field = pathText(issue.path);
      return `  ${where(range?.[0])} ${field === '' ? '(file)' : field}: ${issue.message}`;
    });
    throw new ConfigError(
      [`${fileName} has ${lines.length === 1 ? 'a problem' : `${lines.length} problems`}:`, ...lines].join(
        '\n',
      ),
    );
  }
  return { file: parsed.data, managedBy: parsed.data.name ?? path.basename(fileName) };
}

/** Reads and checks a flows file (see {@link parseFlowsFile}). */
export function readFlowsFile(file: string): LoadedFlowsFile {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError(
      code === 'ENOENT' ? `${file}: no such file` : `${file}: cannot read it (${code ?? String(error)})`,
    );
  }
  return parseFlowsFile(text, path.basename(file));
}
