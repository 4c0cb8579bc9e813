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

// The API's types come from the server's own schemas (type-only: nothing of the server is bundled).
export type {
  Access,
  AlertChannel,
  ApiResponse,
  ApiToken,
  Credential,
  CredentialList,
  DryRunResult,
  Flow,
  FlowTest,
  InsightsRows,
  InsightsStatus,
  OperationInfo,
  ParkedEvent,
  QuarantineItem,
  Run,
  RunCount,
  StreamInfo,
  WebhookStatus,
} from '../../src/server/api-schema';

/** Ashby's own API: the default server, where the server field is an advanced setting. */
export const ASHBY_API = 'https://api.ashbyhq.com';
