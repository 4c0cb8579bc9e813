import type { Scope } from '../ashby/catalogue.js';
import type { Codec } from './codec.js';
import type { Faults } from './faults.js';
import type { Rec, World } from './world.js';

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
  /** Records a successful write for stats (per endpoint and per natural key). */
  countWrite(naturalKey?: string): void;
}

/** A successful answer. */
export interface Success {
  results: unknown;
  moreDataAvailable?: boolean;
  nextCursor?: string;
  syncToken?: string;
  warnings?: string[];
}

export type Handler = (ctx: RequestContext) => Success;

/** Whether a key without confidential access may see a record (confidential jobs and what hangs off them). */
export function visible(world: World, key: SandboxKey, kind: string, rec: Rec): boolean {
  if (key.confidential) return true;
  return world.visibleWithoutConfidential(kind, rec);
}
