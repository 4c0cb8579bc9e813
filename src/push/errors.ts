import { describeScope, findEndpoint, type Scope } from '../ashby/catalogue.js';
import { redact } from '../util/redact.js';

/** How the destination engine treats an error raised for one record. */
export type ErrorClass =
  /** The key lacks a permission: stop the whole run, leave the rest pending. */
  | 'permission'
  /** The key is missing, wrong or deactivated: stop the whole run. */
  | 'auth'
  /** A write may or may not have reached Ashby: reconcile, never resend blindly. */
  | 'outcome-unknown'
  /** Ashby refused this record (`invalid_input`, `*_not_found`, …): quarantine it, go on. */
  | 'record'
  /** Ashby could not be reached or answered badly after the retry policy gave up: the record stays pending. */
  | 'transient';

/** The error details kept in the quarantine and the results. */
export interface ErrorInfo {
  code: string;
  message: string;
  requestId?: string;
  path?: string;
}

function field(error: unknown, name: string): unknown {
  return error !== null && typeof error === 'object' ? (error as Record<string, unknown>)[name] : undefined;
}

function text(error: unknown, name: string): string | undefined {
  const v = field(error, name);
  return typeof v === 'string' ? v : undefined;
}

/** Classifies an error thrown by the Ashby client (matched by class name and Ashby code). */
export function classifyError(error: unknown): ErrorClass {
  const name = text(error, 'name') ?? '';
  const code = text(error, 'code') ?? '';
  if (name === 'AshbyPermissionError' || code === 'missing_endpoint_permission') return 'permission';
  if (name === 'AshbyAuthError') return 'auth';
  if (name === 'AshbyOutcomeUnknownError') return 'outcome-unknown';
  if (
    name === 'AshbyInvalidInputError' ||
    name === 'AshbyNotFoundError' ||
    code === 'invalid_input' ||
    code.endsWith('_not_found') ||
    (name === 'AshbyError' && code !== '' && !code.startsWith('rate_limit'))
  )
    return 'record';
  return 'transient';
}

/** Code, message and requestId of an error, redacted. */
export function errorInfo(error: unknown): ErrorInfo {
  const code = text(error, 'code') ?? text(error, 'name') ?? 'error';
  const message = redact(text(error, 'detail') ?? (error instanceof Error ? error.message : String(error)));
  const requestId = text(error, 'requestId');
  const parameter = (() => {
    const problems = field(error, 'problems');
    if (Array.isArray(problems)) {
      const p = problems.find((x) => typeof field(x, 'parameter') === 'string');
      return p ? text(p, 'parameter') : undefined;
    }
    return undefined;
  })();
  return {
    code,
    message,
    ...(requestId !== undefined ? { requestId } : {}),
    ...(parameter !== undefined ? { path: parameter } : {}),
  };
}

/**
 * The message that stops a run for a missing permission: names the scope and the module, and says
 * where to fix it.
 */
export function permissionMessage(error: unknown, endpoint: string): string {
  const scope = (text(error, 'scope') as Scope | undefined) ?? findEndpoint(endpoint)?.scope ?? undefined;
  if (scope) {
    const { label } = describeScope(scope);
    return `this key lacks ${label} (${scope}) needed by ${endpoint} — re-issue it in Ashby under Admin > Integrations > API Keys`;
  }
  return `this key lacks the permission ${endpoint} needs — re-issue it in Ashby under Admin > Integrations > API Keys`;
}

/** The message that stops a run for a bad key. */
export function authMessage(error: unknown): string {
  const status = field(error, 'httpStatus');
  const why = status === 401 ? 'no API key was sent' : 'the API key is wrong or deactivated';
  return `Ashby refused the key: ${why} — check it in Ashby under Admin > Integrations > API Keys (${redact(
    text(error, 'detail') ?? (error instanceof Error ? error.message : String(error)),
  )})`;
}
