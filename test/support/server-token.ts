import type { RunningServer } from '../../src/server/index.js';
import type { Run } from '../../src/server/model.js';

/** Signs in to a running server with the admin password and creates an API token, as a person would. */
export async function createApiToken(serverUrl: string, password: string, name = 'tests'): Promise<string> {
  const login = await fetch(`${serverUrl}/api/v1/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ password }),
  });
  if (!login.ok) throw new Error(`sign-in refused: ${login.status}`);
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  const { csrfToken } = (await login.json()) as { csrfToken: string };
  const created = await fetch(`${serverUrl}/api/v1/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie, 'x-csrf-token': csrfToken },
    body: JSON.stringify({ name }),
  });
  if (!created.ok) throw new Error(`token refused: ${created.status}`);
  return ((await created.json()) as { plaintext: string }).plaintext;
}

/** One answer of the API: its status, its text, and that text parsed (`{}` when empty). */
export interface ApiAnswer<T> {
  status: number;
  text: string;
  body: T;
}

/**
 * A JSON client of a running server's `/api/v1` with a bearer token. Server and token are read at each
 * call (suites set them in `beforeAll`); `onAnswer` sees every answer's text, for suites that search the
 * answers for secrets.
 */
export function tokenClient(at: () => { url: string; token: string }, onAnswer?: (text: string) => void) {
  /** Any answer, whatever its status. */
  const call = async <T = Record<string, unknown>>(
    method: string,
    route: string,
    body?: unknown,
  ): Promise<ApiAnswer<T>> => {
    const { url, token } = at();
    const res = await fetch(`${url}/api/v1${route}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    onAnswer?.(text);
    return { status: res.status, text, body: (text === '' ? {} : JSON.parse(text)) as T };
  };
  /** The answer's body; a status outside 2xx throws, naming the call and the answer. */
  const api = async <T = Record<string, unknown>>(
    method: string,
    route: string,
    body?: unknown,
  ): Promise<T> => {
    const res = await call<T>(method, route, body);
    if (res.status < 200 || res.status >= 300)
      throw new Error(`${method} ${route}: ${res.status} ${res.text}`);
    return res.body;
  };
  return { call, api };
}

/**
 * Runs a flow now through the API and waits for the run to end, for the scheduler to let the flow go
 * (it does so after queueing the run's alerts), and for the alert queue to empty.
 */
export async function runAndSettle(
  api: ReturnType<typeof tokenClient>['api'],
  server: RunningServer,
  flowId: string,
): Promise<Run> {
  const { run } = await api<{ run: Run }>('POST', `/flows/${flowId}/run`);
  for (;;) {
    const { run: now } = await api<{ run: Run }>('GET', `/runs/${run.id}`);
    if (now.status !== 'running') {
      for (
        let i = 0;
        i < 100 &&
        (await api<{ flow: { runningRunId: string | null } }>('GET', `/flows/${flowId}`)).flow.runningRunId;
        i++
      )
        await new Promise((r) => setTimeout(r, 50));
      await server.deps.alerting?.idle();
      return now;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
