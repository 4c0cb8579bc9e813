import type { ErrorInfo } from '../ashby/errors.js';
import type { FlowConfig } from './api-schema.js';

export {
  createFlowSchema,
  type DestinationFlowConfig,
  destinationFlowSchema,
  type FlowConfig,
  type FlowInput,
  type SourceFlowConfig,
  sourceFlowSchema,
  type Target,
  targetSchema,
} from './api-schema.js';

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
  /** When the flow was last paused; `null` while it is active. */
  pausedAt: string | null;
  /**
   * Why it was paused, when ashpipe paused it (its alerts after failed runs, its credential deleted);
   * `null` when a person paused it or it is active.
   * @example 'paused after 5 failed runs in a row (last: Ashby rejected the API key)'
   */
  pausedReason: string | null;
}

/**
 * `queued`: waiting in the fleet's run queue for a worker (PostgreSQL control store only); `cancelled`: a
 * person stopped the run (the cancel action); what it had written stays.
 */
export type RunStatus = 'queued' | 'running' | 'succeeded' | 'partial' | 'failed' | 'cancelled';
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
  /** Columns the run added to the stream's table (fields Ashby sent for the first time). */
  newColumns?: string[];
  /** Requests made to Ashby for it (source streams). */
  requests?: number;
  /** Of those, answered 429 (rate limited) and retried. */
  rateLimited?: number;
}

export interface RunErrorInfo extends Pick<ErrorInfo, 'code' | 'message'> {
  /** Stream, operation or row the error belongs to. */
  scope?: string;
}

/** The analytics views a source flow's run installed in its target (`options.analytics`). */
export interface RunAnalytics {
  /** Views created or replaced, e.g. `analytics_application_funnel`. */
  installed: string[];
  /** Views left out because the target lacks tables they read (sync those streams first). */
  skipped: Array<{ name: string; missing: string[] }>;
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
  /** The analytics views the run installed; `null` when it installed none (option off, or it failed). */
  analytics: RunAnalytics | null;
  /**
   * The worker that runs (or ran) the run, for runs of the fleet's queue; `null` for runs the server ran
   * in its own process.
   * @example 'worker-2'
   */
  worker: string | null;
}
