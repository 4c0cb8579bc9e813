import type { Scope } from '../ashby/catalogue.js';
import type { Codec } from './codec.js';
import type { Faults } from './faults.js';
import type { World } from './world.js';

/** An API key the sandbox accepts. */
export interface SandboxKey {
  /**
   * The secret itself, sent as the Basic auth username.
   * @example 'sandbox-full'
   */
  key: string;
  /**
   * Name shown by `apiKey.info`.
   * @default the key's position, e.g. "Sandbox key 3"
   */
  title?: string;
  /** Permissions granted, in the spec's spelling (`candidatesRead`). */
  scopes: readonly Scope[];
  /** "Allow access to confidential jobs and projects". */
  confidential: boolean;
  /**
   * A deactivated key answers HTTP 403.
   * @default false
   */
  deactivated?: boolean;
}

/** What one API request's handler sees. */
export interface RequestContext {
  endpoint: string;
  body: Record<string, unknown>;
  key: SandboxKey;
  world: World;
  codec: Codec;
  faults: Faults;
}

/** A successful answer. */
export interface Success {
  results: unknown;
  moreDataAvailable?: boolean;
  nextCursor?: string;
  syncToken?: string;
  /**
   * For a write: the natural key it is counted under in the stats (`writesByKey`), e.g. the email of a
   * created candidate, so that tests can count how often the same thing was written.
   */
  naturalKey?: string;
}

/** Answers one request of one endpoint; an Ashby error answer is thrown as an `ApiError`. */
export type Handler = (ctx: RequestContext) => Success;

/** The handlers of one family of endpoints, by endpoint name. */
export type Handlers = Readonly<Record<string, Handler>>;
