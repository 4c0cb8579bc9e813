/**
 * Personal data: a policy per stream and field (`keep`, `hash`, `mask`, `drop`) applied to every record
 * before it is written anywhere.
 */
import { createHash } from 'node:crypto';
import { type HashKeySource, hashKeyId, loadHashKey } from './key.js';
import {
  canonicalPolicy,
  defaultPolicy,
  isEmptyPolicy,
  loadPolicyFile,
  NO_POLICY,
  policyHashes,
} from './policy.js';
import { PiiTransformer } from './transform.js';
import type { PiiPolicy } from './types.js';

export {
  ANONYMISED_REASON,
  type AnonymisedRewrite,
  looksAnonymised,
  rewriteAnonymisedCopies,
} from './anonymised.js';
export { type CatalogueEntry, DEFAULT_CATALOGUE, PUSH_PERSONAL_FIELDS } from './catalogue.js';
export {
  type ControlStoreErasure,
  ERASURES_TABLE,
  type EraseOptions,
  type EraseReport,
  type EraseSubject,
  eraseFromControlStore,
  eraseFromQuarantine,
  eraseFromTarget,
  remaskStoredReasons,
} from './erase.js';
export { deriveHashKey, type HashKeySource, hashKeyId, loadHashKey } from './key.js';
export { maskPersonalText, personalValuesOf } from './messages.js';
export {
  canonicalPolicy,
  defaultPolicy,
  inferKind,
  loadPolicyFile,
  NO_POLICY,
  PiiPolicyError,
  parsePolicy,
  parsePolicyDocument,
  policyHashes,
} from './policy.js';
export {
  type CandidatePurge,
  candidatePurger,
  controlStoreEraser,
  ON_DELETE,
  type OnDelete,
  PURGE_REASON,
  type PurgeReason,
  parseOnDelete,
  purgeDeletedCandidates,
} from './purge.js';
export { MASKED_TEXT, maskString, normalizeForHash, PiiTransformer, titleKey } from './transform.js';
export * from './types.js';
export { transformWebhookPayload, WEBHOOK_RECORD_STREAMS } from './webhooks.js';

/** What `--pii-policy` and `options.piiPolicy` take: `none`, `default` or a policy file. */
export type PiiPolicySpec = 'none' | 'default' | (string & {});

/** The policy a spec names (a file is read and checked). */
export function policyOf(spec: PiiPolicySpec): PiiPolicy {
  if (spec === 'none') return NO_POLICY;
  if (spec === 'default') return defaultPolicy();
  return loadPolicyFile(spec);
}

/**
 * The fingerprint stored with each stream's state: the policy's rules and the hash key's id (a new
 * master key hashes differently, which is a change of policy too).
 */
export function policyFingerprint(policy: PiiPolicy, hashKey: Buffer | undefined): string {
  return createHash('sha256')
    .update(canonicalPolicy(policy))
    .update(hashKey ? hashKeyId(hashKey) : '')
    .digest('hex')
    .slice(0, 16);
}

/** A transformer for a policy with a hash key already loaded (used only when the policy hashes). */
export function transformerFor(policy: PiiPolicy, hashKey: Buffer): PiiTransformer | undefined {
  if (isEmptyPolicy(policy)) return undefined;
  const key = policyHashes(policy) ? hashKey : undefined;
  return new PiiTransformer(policy, key, policyFingerprint(policy, key));
}

/**
 * A transformer for a policy; the hash key is loaded (from the control store's master key) only when the
 * policy hashes.
 * @example const pii = await loadTransformer(defaultPolicy(), { home, env: process.env, control });
 */
export async function loadTransformer(
  policy: PiiPolicy,
  key: HashKeySource | Buffer,
): Promise<PiiTransformer | undefined> {
  if (isEmptyPolicy(policy)) return undefined;
  if (Buffer.isBuffer(key)) return transformerFor(policy, key);
  return transformerFor(policy, policyHashes(policy) ? await loadHashKey(key) : Buffer.alloc(0));
}

/** `loadTransformer(policyOf(spec), key)`: `undefined` for `none`. */
export function resolvePiiPolicy(
  spec: PiiPolicySpec,
  key: HashKeySource | Buffer,
): Promise<PiiTransformer | undefined> {
  return loadTransformer(policyOf(spec), key);
}
