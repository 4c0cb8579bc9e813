export { type AuditInput, readAudit, recordAudit } from './audit.js';
export { VaultError, type VaultErrorCode } from './errors.js';
export { loadMasterKey, MASTER_KEY_FILE, type MasterKeyOptions } from './master-key.js';
export type * from './types.js';
export {
  maskKey,
  type NewCredential,
  type OpenVaultOptions,
  openVault,
  Vault,
  type VaultOptions,
  validateApiKey,
  validateName,
} from './vault.js';
export {
  MODULE_PROBES,
  permissionsFromScopes,
  permissionWarnings,
  type VerifyOptions,
  verifyKey,
} from './verify.js';
