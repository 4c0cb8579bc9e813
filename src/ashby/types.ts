/** Types shared by the client, the paginator and their callers. */

/** A successful Ashby answer (`success: true`). */
export interface AshbyResult<T> {
  results: T;
  /** Warnings of a partial success, e.g. `unable_to_add_application_metadata`. */
  warnings: string[];
  moreDataAvailable?: boolean;
  nextCursor?: string;
  syncToken?: string;
  requestId?: string;
}

/** Where a page iteration starts and how big its pages are. */
export interface PageOptions {
  /**
   * Page size; Ashby's maximum (and default) is 100, larger values are lowered to it.
   * @default 100
   * @example 50
   */
  limit?: number;
  /**
   * Resume from this cursor (a checkpointed `nextCursor`) instead of the first page.
   * @example 'G8'
   */
  cursor?: string;
  /**
   * Only records changed since the pass that returned this token (incremental endpoints).
   * @example 'jYnEBmjzR'
   */
  syncToken?: string;
  /** Aborts the iteration (and the request in flight). */
  signal?: AbortSignal;
}

/** One page of a list endpoint. */
export interface AshbyPage<T> {
  results: T[];
  /** The cursor sent to get this page; undefined for the first page. */
  cursor: string | undefined;
  /** The cursor of the next page; undefined on the last page. */
  nextCursor: string | undefined;
  moreDataAvailable: boolean;
  /** Set on the last page only: the token for the next incremental pass. */
  syncToken: string | undefined;
  warnings: string[];
  /** 1 for the first page of this iteration. */
  pageNumber: number;
}

/** Progress and statistics events of the client. */
export type ClientEvent =
  | { type: 'request'; endpoint: string; attempt: number }
  | {
      type: 'response';
      endpoint: string;
      attempt: number;
      httpStatus: number;
      durationMs: number;
      success: boolean;
      code?: string;
      requestId?: string;
    }
  | {
      type: 'retry';
      endpoint: string;
      attempt: number;
      delayMs: number;
      reason: string;
      code?: string;
    }
  | {
      type: 'rateLimited';
      endpoint: string;
      retryAfterMs?: number;
      rateLimitScope: string;
    };
