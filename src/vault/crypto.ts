import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { VaultError } from './errors.js';

/** AES-256-GCM: 32-byte keys, 12-byte IVs (the size GCM is specified for), 16-byte tags. */
const ALGORITHM = 'aes-256-gcm';
export const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** One AES-256-GCM encryption result. */
export interface Sealed {
  ciphertext: Buffer;
  iv: Buffer;
  tag: Buffer;
}

/** The API key sealed twice over: by its own data key, and that data key by the master key. */
export interface Envelope {
  key: Sealed;
  dataKey: Sealed;
}

function seal(key: Buffer, plaintext: Buffer, aad: Buffer): Sealed {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { ciphertext, iv, tag: cipher.getAuthTag() };
}

function open(key: Buffer, sealed: Sealed, aad: Buffer): Buffer {
  if (sealed.iv.length !== IV_BYTES || sealed.tag.length !== TAG_BYTES) throw new Error('bad envelope');
  const decipher = createDecipheriv(ALGORITHM, key, sealed.iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.tag);
  return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]);
}

// The credential id is bound as associated data at both layers: a row's ciphertext copied onto another
// credential fails authentication instead of decrypting under the wrong name.
const keyAad = (credentialId: string) => Buffer.from(`ashpipe/credential/${credentialId}/api-key`);
const dataKeyAad = (credentialId: string) => Buffer.from(`ashpipe/credential/${credentialId}/data-key`);

/** Encrypts an API key under a fresh random data key, which the master key wraps. */
export function sealApiKey(masterKey: Buffer, credentialId: string, apiKey: string): Envelope {
  const dataKey = randomBytes(KEY_BYTES);
  try {
    return {
      key: seal(dataKey, Buffer.from(apiKey, 'utf8'), keyAad(credentialId)),
      dataKey: seal(masterKey, dataKey, dataKeyAad(credentialId)),
    };
  } finally {
    dataKey.fill(0);
  }
}

/**
 * Decrypts an API key. Any altered byte (ciphertext, IV, tag, wrapped data key) or an envelope that
 * belongs to another credential id fails GCM authentication.
 */
export function openApiKey(
  masterKey: Buffer,
  credentialId: string,
  envelope: Envelope,
  name: string,
): string {
  let dataKey: Buffer | undefined;
  try {
    dataKey = open(masterKey, envelope.dataKey, dataKeyAad(credentialId));
    return open(dataKey, envelope.key, keyAad(credentialId)).toString('utf8');
  } catch {
    throw new VaultError(
      'tampered',
      `credential "${name}" could not be decrypted: its stored ciphertext was altered or belongs to another credential`,
    );
  } finally {
    dataKey?.fill(0);
  }
}

/** Whether the master key unwraps a credential's data key (nothing is decrypted beyond it). */
export function unwrapsDataKey(masterKey: Buffer, credentialId: string, dataKey: Sealed): boolean {
  try {
    open(masterKey, dataKey, dataKeyAad(credentialId)).fill(0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A fingerprint of the master key that reveals nothing about it (HMAC of a constant), stored so that a
 * different master key is recognised before anything is decrypted.
 */
export function fingerprintMasterKey(masterKey: Buffer): string {
  return createHmac('sha256', masterKey).update('ashpipe master key fingerprint v1').digest('hex');
}
