/** Why the vault refused: every message names the credential (when there is one) and what is wrong. */
export type VaultErrorCode =
  | 'master_key_invalid'
  | 'master_key_missing'
  | 'master_key_mismatch'
  | 'tampered'
  | 'not_found'
  | 'name_taken'
  | 'invalid_input';

/** An error of the credentials vault. Never carries a key. */
export class VaultError extends Error {
  override name = 'VaultError';
  constructor(
    readonly code: VaultErrorCode,
    message: string,
  ) {
    super(message);
  }
}
