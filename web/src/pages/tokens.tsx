import { type FormEvent, useState } from 'react';
import { type ApiResponse, type ApiToken, api, setCsrf } from '../api';
import { ErrorAlert, errorText, useApiList } from '../form';

/** Changes the admin password; every other browser is logged out, and API tokens go too when asked. */
function PasswordChange(props: { onTokensRevoked: () => void }) {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [revoke, setRevoke] = useState(false);
  const [done, setDone] = useState<string>();
  const [error, setError] = useState<string>();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    setDone(undefined);
    try {
      const r = await api<ApiResponse<'passwordChanged'>>('PUT', '/session/password', {
        currentPassword: current,
        newPassword: next,
        revokeTokens: revoke,
      });
      // The session was replaced: the next mutating call needs its CSRF token.
      setCsrf(r.csrfToken);
      setCurrent('');
      setNext('');
      setDone(
        `Password changed; other browsers are logged out${revoke ? ` and ${r.revokedTokens} API token(s) revoked` : ''}.`,
      );
      if (revoke) props.onTokensRevoked();
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <form onSubmit={submit} aria-labelledby="password-title">
      <h2 id="password-title">Admin password</h2>
      <label htmlFor="current-password">Current password *</label>
      <input
        id="current-password"
        type="password"
        autoComplete="current-password"
        required
        value={current}
        onChange={(e) => setCurrent(e.target.value)}
      />
      <label htmlFor="new-password">New password (at least 10 characters) *</label>
      <input
        id="new-password"
        type="password"
        autoComplete="new-password"
        required
        minLength={10}
        value={next}
        onChange={(e) => setNext(e.target.value)}
      />
      <label>
        <input type="checkbox" checked={revoke} onChange={(e) => setRevoke(e.target.checked)} /> Also revoke
        every API token
      </label>
      <button type="submit">Change password</button>
      <ErrorAlert error={error} />
      {done ? <p role="status">{done}</p> : null}
    </form>
  );
}

/** API tokens for scripts: created here and shown once, listed by prefix, revoked. */
export function TokensPage() {
  const [name, setName] = useState('');
  const [shown, setShown] = useState<{ name: string; value: string }>();
  const [error, setError] = useState<string>();
  const { items: tokens, load } = useApiList('/tokens', (r: ApiResponse<'tokens'>) => r.tokens, setError);
  const create = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    try {
      const r = await api<ApiResponse<'tokenCreated'>>('POST', '/tokens', { name });
      setShown({ name: r.apiToken.name, value: r.plaintext });
      setName('');
      await load();
    } catch (err) {
      setError(errorText(err));
    }
  };
  const revoke = async (t: ApiToken) => {
    if (!window.confirm(`Revoke the API token "${t.name}"? Scripts using it stop working.`)) return;
    try {
      await api('DELETE', `/tokens/${t.id}`);
      if (shown?.name === t.name) setShown(undefined);
      await load();
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <section aria-labelledby="tokens-title">
      <h1 id="tokens-title">API tokens</h1>
      <p className="muted">
        Scripts call <code>/api/v1</code> with <code>Authorization: Bearer &lt;token&gt;</code>.
      </p>
      <form onSubmit={create}>
        <label htmlFor="token-name">Token name *</label>
        <input id="token-name" required value={name} onChange={(e) => setName(e.target.value)} />
        <button type="submit">Create token</button>
      </form>
      <ErrorAlert error={error} />
      {shown ? (
        <div className="warning" role="status">
          <p>
            Token <strong>{shown.name}</strong> — copy it now; it is not shown again:
          </p>
          <code data-testid="new-token">{shown.value}</code>
        </div>
      ) : null}
      <table className="list" aria-label="API tokens">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Starts with</th>
            <th scope="col">Created</th>
            <th scope="col">Last used</th>
            <th scope="col">Revoke</th>
          </tr>
        </thead>
        <tbody>
          {tokens.map((t) => (
            <tr key={t.id} data-token={t.name}>
              <td>{t.name}</td>
              <td>
                <code>{t.prefix}…</code>
              </td>
              <td>{new Date(t.createdAt).toLocaleString()}</td>
              <td>{t.lastUsedAt ? new Date(t.lastUsedAt).toLocaleString() : 'never'}</td>
              <td>
                <button type="button" onClick={() => revoke(t)}>
                  Revoke
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <PasswordChange
        onTokensRevoked={() => {
          setShown(undefined);
          void load();
        }}
      />
    </section>
  );
}
