/**
 * What a failed write means to the push engine, decided from the error's class by
 * {@link classifyAshbyError} (never by a name or code string), and the messages that stop a run.
 */

import { describeScope, findEndpoint } from '../ashby/catalogue.js';
import {
  AshbyAuthError,
  type AshbyError,
  AshbyPermissionError,
  classifyAshbyError,
  type ErrorInfo,
} from '../ashby/errors.js';

export type { ErrorInfo };

/** How the destination engine treats an error raised for one record. */
export type ErrorClass =
  /** The key lacks a permission: stop the whole run, leave the rest pending. */
  | 'permission'
  /** The key is missing, wrong or deactivated: stop the whole run. */
  | 'auth'
  /** A write may or may not have reached Ashby: reconcile, never resend blindly. */
  | 'outcome-unknown'
  /** Ashby refused this record (`invalid_input`, `*_not_found`, a code without a class): quarantine it, go on. */
  | 'record'
  /**
   * Ashby could not be reached or answered badly after the retry policy gave up, or the error is not
   * Ashby's at all: the record stays pending.
   */
  | 'transient';

/** Classifies an error thrown by the Ashby client. */
export function classifyError(error: unknown): ErrorClass {
  switch (classifyAshbyError(error)) {
    case 'permission':
      return 'permission';
    case 'auth':
      return 'auth';
    case 'outcome-unknown':
      return 'outcome-unknown';
    case 'invalid-input':
    case 'not-found':
    case 'other':
      return 'record';
    default:
      return 'transient';
  }
}

/**
 * The message that stops a run for a missing permission: names the scope and the module, and says
 * where to fix it.
 */
export function permissionMessage(error: unknown, endpoint: string): string {
  const scope =
    (error instanceof AshbyPermissionError ? error.scope : undefined) ??
    findEndpoint(endpoint)?.scope ??
    undefined;
  if (scope) {
    const { label } = describeScope(scope);
    return `this key lacks ${label} (${scope}) needed by ${endpoint} — re-issue it in Ashby under Admin > Integrations > API Keys`;
  }
  return `this key lacks the permission ${endpoint} needs — re-issue it in Ashby under Admin > Integrations > API Keys`;
}

/** The message that stops a run for a bad key. */
export function authMessage(error: AshbyError): string {
  const why =
    error instanceof AshbyAuthError && error.httpStatus === 401
      ? 'no API key was sent'
      : 'the API key is wrong or deactivated';
  return `Ashby refused the key: ${why} — check it in Ashby under Admin > Integrations > API Keys (${error.detail})`;
}
