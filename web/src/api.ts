/** The console's client of `/api/v1`: same-origin cookie session, CSRF token on every mutating call. */

let csrfToken: string | undefined;

export function setCsrf(token: string | undefined): void {
  csrfToken = token;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  const res = await fetch(`/api/v1${path}`, {
    method,
    headers,
    credentials: 'same-origin',
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if (res.status === 204) return undefined as T;
  const data = (await res.json().catch(() => ({}))) as {
    error?: { code: string; message: string; details?: unknown };
  };
  if (!res.ok) {
    const e = data.error ?? { code: 'http_error', message: `HTTP ${res.status}` };
    throw new ApiError(res.status, e.code, e.message, e.details);
  }
  return data as T;
}

/** Uploads a file into the server's data directory; resolves with the path a flow names as its input. */
export async function uploadFile(file: File): Promise<{ path: string; name: string; bytes: number }> {
  const form = new FormData();
  form.append('file', file);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (csrfToken) headers['x-csrf-token'] = csrfToken;
  const res = await fetch('/api/v1/uploads', {
    method: 'POST',
    headers,
    body: form,
    credentials: 'same-origin',
  });
  const data = (await res.json().catch(() => ({}))) as {
    upload?: { path: string; name: string; bytes: number };
    error?: { code: string; message: string; details?: unknown };
  };
  if (!res.ok || !data.upload) {
    const e = data.error ?? { code: 'http_error', message: `HTTP ${res.status}` };
    throw new ApiError(res.status, e.code, e.message, e.details);
  }
  return data.upload;
}

export type Access = 'allowed' | 'missing' | 'unknown' | 'error';
export interface Credential {
  id: string;
  name: string;
  description?: string;
  /** The server the credential was added for; absent means the console's default. */
  baseUrl?: string;
  maskedKey: string;
  status: 'unverified' | 'verified' | 'invalid' | 'error';
  verifiedAt?: string;
  verification?: {
    status: 'valid' | 'invalid' | 'error';
    message?: string;
    title?: string;
    permissions: Array<{ module: string; read: Access; write: Access }>;
    confidential: 'yes' | 'no' | 'unknown';
    warnings: string[];
  };
  usedBy: Array<{ id: string; name: string; kind: string }>;
  failingOperations: Array<{ name: string; permission: string }>;
  unreadableStreams: string[];
}
/** `GET /credentials`: the credentials and the server's defaults for new ones. */
export interface CredentialList {
  credentials: Credential[];
  /** The Ashby server of credentials that name none (`serve --base-url`, `ASHBY_BASE_URL`). */
  defaultBaseUrl: string;
  /** Whether a credential may name plain http to this machine (a sandbox). */
  allowHttpBaseUrl: boolean;
}
/** Ashby's own API: the default server, where the server field is an advanced setting. */
export const ASHBY_API = 'https://api.ashbyhq.com';
export interface StreamInfo {
  name: string;
  incremental: boolean;
  permission: string;
  scope: string;
  description: string;
  optIn: boolean;
}
export interface OperationInfo {
  name: string;
  endpoint: string;
  permission: string;
  description: string;
}
export interface RunCount {
  name: string;
  status: string;
  read: number;
  written: number;
  deleted?: number;
  quarantined?: number;
  failed?: number;
  message?: string;
}
export interface Run {
  id: string;
  flowId: string;
  kind: string;
  trigger: string;
  status: string;
  startedAt: string;
  finishedAt: string | null;
  counts: RunCount[];
  errors: Array<{ scope?: string; code: string; message: string }>;
  dryRun: boolean;
}
export interface Flow {
  id: string;
  name: string;
  kind: 'source' | 'destination';
  credentialId: string;
  schedule: string | null;
  status: 'active' | 'paused';
  config: Record<string, unknown> & { streams?: string[] };
  runningRunId: string | null;
  lastRun: { id: string; status: string; startedAt: string; finishedAt: string | null } | null;
  nextRunAt: string | null;
}
