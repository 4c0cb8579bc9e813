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
