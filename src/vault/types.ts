import type { AshbyModule } from '../ashby/catalogue.js';

/** What a probe learned about one access level of one module. */
export type Access = 'allowed' | 'missing' | 'unknown' | 'error';

/** Read and write access of one module, as an Ashby admin grants it (Admin > Integrations > API Keys). */
export interface ModulePermission {
  module: AshbyModule;
  read: Access;
  write: Access;
  /** The error message when `read` is `error`. */
  readError?: string;
}

/** Whether the key may see confidential jobs and projects (a per-key toggle in Ashby). */
export type ConfidentialAccess = 'yes' | 'no' | 'unknown';

/** Outcome of verifying a key against Ashby. */
export interface Verification {
  /** `valid`: Ashby accepted the key; `invalid`: 401/403 (wrong or deactivated); `error`: could not tell. */
  status: 'valid' | 'invalid' | 'error';
  /** ISO timestamp of the verification. */
  verifiedAt: string;
  /** The key's title in Ashby, when `apiKey.info` is allowed. */
  title?: string;
  /** Scopes as `apiKey.info` lists them (newer Ashby), e.g. `candidates:read`. */
  scopes?: string[];
  permissions: ModulePermission[];
  confidential: ConfidentialAccess;
  /** What will or may fail with this key, in words an admin can act on. */
  warnings: string[];
  /** Why verification failed, for `invalid` and `error`. */
  message?: string;
}

/** Verification state of a stored credential. */
export type CredentialStatus = 'unverified' | 'verified' | 'invalid' | 'error';

/** A stored credential as everyone may see it: never the key, only its masked last four characters. */
export interface CredentialInfo {
  id: string;
  name: string;
  description?: string;
  /** Ashby-compatible server the credential was added for, when not the default. */
  baseUrl?: string;
  /** e.g. `••••a1b2`. */
  maskedKey: string;
  status: CredentialStatus;
  verifiedAt?: string;
  verification?: Verification;
  createdAt: string;
  updatedAt: string;
  rotatedAt?: string;
}

/** What the audit log records. */
export type AuditAction = 'create' | 'verify' | 'rotate' | 'edit' | 'delete' | 'use';

/** One audit log entry (never a key). */
export interface AuditEntry {
  id: number;
  at: string;
  /** OS user (`os.userInfo().username`) or the console user. */
  actor: string;
  action: AuditAction;
  credentialId?: string;
  credentialName?: string;
  /** The command or purpose of a use, e.g. `sync`. */
  purpose?: string;
  outcome: 'ok' | 'failed';
  detail?: string;
}
