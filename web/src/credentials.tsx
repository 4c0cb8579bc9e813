import { createContext, type FormEvent, useContext, useState } from 'react';
import { ApiError, type ApiResponse, ASHBY_API, api, type Credential } from './api';
import { ApiKeyField, ErrorAlert, errorText, NameDescriptionFields } from './form';
import { Overlay } from './overlay';

/** The console's default Ashby server (`serve --base-url`), for credentials that name none. */
export const DefaultServer = createContext(ASHBY_API);

const ACCESS_LABEL: Record<string, string> = { allowed: 'yes', missing: 'no', unknown: '?', error: 'error' };

export function PermissionMap(props: { credential: Credential }) {
  const v = props.credential.verification;
  if (!v) return <p className="muted">Not verified yet.</p>;
  return (
    <table className="perm" aria-label={`Permissions of ${props.credential.name}`}>
      <thead>
        <tr>
          <th scope="col">Module</th>
          <th scope="col">Read</th>
          <th scope="col">Write</th>
        </tr>
      </thead>
      <tbody>
        {v.permissions.map((p) => (
          <tr key={p.module}>
            <th scope="row">{p.module}</th>
            <td className={`access ${p.read}`}>{ACCESS_LABEL[p.read]}</td>
            <td className={`access ${p.write}`}>{ACCESS_LABEL[p.write]}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Whether the key may write to no module at all (every module's write permission is missing). */
export function isReadOnly(c: Credential): boolean {
  const permissions = c.verification?.permissions ?? [];
  return permissions.length > 0 && permissions.every((p) => p.write === 'missing');
}

/** The last verification's problem in one sentence, or nothing when the key was accepted. */
export function lastError(c: Credential): string | undefined {
  if (c.status === 'invalid') return 'The server rejected this key (wrong, deactivated or missing).';
  if (c.status === 'error')
    return `Could not check the key: ${(c.verification?.message ?? 'no probe reached the server')
      .replace(/^[a-zA-Z]+\.[a-zA-Z]+: /, '')
      .replace(/\s*\[code=[a-z_]+\]\s*$/, '')
      .replace(/\.\s*$/, '')}.`;
  return undefined;
}

export function ReadOnlyWarning(props: { credential: Credential }) {
  const ops = props.credential.failingOperations;
  if (ops.length === 0) return null;
  if (isReadOnly(props.credential))
    return (
      <div className="note" role="note">
        <strong>Read-only key.</strong> Flows can sync from Ashby with it, but not push into it.
      </div>
    );
  return (
    <div className="warning" role="note">
      <strong>Read-only for some modules.</strong> These destination operations will fail with this key:{' '}
      {ops.map((o) => `${o.name} (needs ${o.permission})`).join(', ')}.
    </div>
  );
}

const STATUS_LABEL: Record<Credential['status'], string> = {
  verified: 'Valid',
  invalid: 'Invalid',
  error: 'Could not verify',
  unverified: 'Not verified',
};

/** One credential: name, description, masked key, validity, permission map, confidential access. */
export function CredentialTile(props: {
  credential: Credential;
  selected?: boolean;
  onSelect?: () => void;
  onChanged?: () => void;
  compact?: boolean;
}) {
  const c = props.credential;
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [mode, setMode] = useState<'rotate' | 'edit' | 'delete'>();
  const closeOverlay = () => setMode(undefined);
  const overlayDone = () => {
    setMode(undefined);
    props.onChanged?.();
  };
  const act = async (fn: () => Promise<unknown>) => {
    setBusy(true);
    setError(undefined);
    try {
      await fn();
      props.onChanged?.();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  const defaultBaseUrl = useContext(DefaultServer);
  const problem = lastError(c);
  const body = (
    <>
      <h3>{c.name}</h3>
      {c.description ? <p className="muted">{c.description}</p> : null}
      <p>
        Key <code>{c.maskedKey}</code>
      </p>
      <p className="server">
        Server <code>{c.baseUrl ?? defaultBaseUrl}</code>
      </p>
      <p>
        <span className={`badge ${c.status}`}>{STATUS_LABEL[c.status]}</span>{' '}
        {isReadOnly(c) ? <span className="badge readonly">Read-only</span> : null}{' '}
        {c.verifiedAt ? (
          <span className="muted">checked {new Date(c.verifiedAt).toLocaleString()}</span>
        ) : null}
      </p>
      {problem ? (
        <p className="error last-error" data-testid="last-error">
          {problem}
        </p>
      ) : null}
      <p>
        Confidential jobs and projects:{' '}
        <strong>
          {c.verification?.confidential === 'yes'
            ? 'yes'
            : c.verification?.confidential === 'no'
              ? 'no'
              : 'unknown'}
        </strong>
      </p>
    </>
  );
  if (props.onSelect) {
    return (
      <button
        type="button"
        className={`tile selectable${props.selected ? ' selected' : ''}`}
        aria-pressed={props.selected ?? false}
        onClick={props.onSelect}
        data-credential={c.name}
      >
        {body}
      </button>
    );
  }
  return (
    <article className="tile" data-credential={c.name} aria-label={`Credential ${c.name}`}>
      {body}
      <PermissionMap credential={c} />
      <ReadOnlyWarning credential={c} />
      <ErrorAlert error={error} />
      <div className="actions">
        <button
          type="button"
          disabled={busy}
          onClick={() => act(() => api('POST', `/credentials/${c.id}/probe`))}
        >
          Check validity
        </button>
        <button type="button" onClick={() => setMode('rotate')}>
          Rotate
        </button>
        <button type="button" onClick={() => setMode('edit')}>
          Edit
        </button>
        <button type="button" className="danger" onClick={() => setMode('delete')}>
          Delete
        </button>
      </div>
      {mode === 'rotate' ? (
        <RotateOverlay credential={c} onClose={closeOverlay} onDone={overlayDone} />
      ) : null}
      {mode === 'edit' ? <EditOverlay credential={c} onClose={closeOverlay} onDone={overlayDone} /> : null}
      {mode === 'delete' ? (
        <Overlay title={`Delete ${c.name}?`} onClose={closeOverlay}>
          {c.usedBy.length > 0 ? (
            <>
              <p>These flows use this credential and will be paused:</p>
              <ul>
                {c.usedBy.map((f) => (
                  <li key={f.id}>{f.name}</li>
                ))}
              </ul>
            </>
          ) : (
            <p>No flow uses this credential.</p>
          )}
          <div className="actions">
            <button type="button" onClick={closeOverlay}>
              Cancel
            </button>
            <button
              type="button"
              className="danger"
              onClick={() =>
                act(() =>
                  api('DELETE', `/credentials/${c.id}${c.usedBy.length > 0 ? '?force=true' : ''}`),
                ).then(closeOverlay)
              }
            >
              Delete credential
            </button>
          </div>
        </Overlay>
      ) : null}
    </article>
  );
}

function RotateOverlay(props: { credential: Credential; onClose: () => void; onDone: () => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    try {
      await api('POST', `/credentials/${props.credential.id}/rotate`, { apiKey: key });
      setKey('');
      props.onDone();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Overlay title={`Rotate ${props.credential.name}`} onClose={props.onClose}>
      <form onSubmit={submit}>
        <ApiKeyField id="rotate-key" label="New API Key *" value={key} onChange={setKey} />
        <ErrorAlert error={error} />
        <button type="submit" disabled={busy}>
          {busy ? 'Verifying…' : 'Verify and rotate'}
        </button>
      </form>
    </Overlay>
  );
}

function EditOverlay(props: { credential: Credential; onClose: () => void; onDone: () => void }) {
  const [name, setName] = useState(props.credential.name);
  const [description, setDescription] = useState(props.credential.description ?? '');
  const [error, setError] = useState<string>();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    try {
      await api('PATCH', `/credentials/${props.credential.id}`, { name, description });
      props.onDone();
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <Overlay title={`Edit ${props.credential.name}`} onClose={props.onClose}>
      <form onSubmit={submit}>
        <NameDescriptionFields
          idPrefix="edit"
          name={name}
          onName={setName}
          description={description}
          onDescription={setDescription}
        />
        <ErrorAlert error={error} />
        <button type="submit">Save</button>
      </form>
    </Overlay>
  );
}

/**
 * The "Add New Credential" overlay: Save verifies the key against the chosen server and stores it only
 * when the server accepted it, or when the person chooses to save it without verification.
 */
export function AddCredentialOverlay(props: { onClose: () => void; onSaved: (c: Credential) => void }) {
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [key, setKey] = useState('');
  const defaultBaseUrl = useContext(DefaultServer);
  const [server, setServer] = useState(defaultBaseUrl);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState<Credential>();
  // No probe reached the server: the key is saved only when the person asks for it.
  const [unchecked, setUnchecked] = useState(false);
  const baseUrl = server.trim();
  const save = async (saveUnverified: boolean) => {
    setBusy(true);
    setError(undefined);
    try {
      const res = await api<ApiResponse<'credential'>>('POST', '/credentials', {
        name,
        apiKey: key,
        ...(description.trim() ? { description } : {}),
        // The default is not stored, so the credential follows the console's server.
        ...(baseUrl && baseUrl !== defaultBaseUrl ? { baseUrl } : {}),
        ...(saveUnverified ? { saveUnverified: true } : {}),
      });
      setUnchecked(false);
      // The key leaves the page's memory as soon as the server has it.
      setKey('');
      setSaved(res.credential);
      props.onSaved(res.credential);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
      setUnchecked(err instanceof ApiError && err.code === 'probe_failed');
    } finally {
      setBusy(false);
    }
  };
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    await save(false);
  };
  const serverField = (
    <>
      <label htmlFor="cred-server">Ashby server</label>
      <input
        id="cred-server"
        type="url"
        required
        value={server}
        onChange={(e) => {
          setServer(e.target.value);
          setUnchecked(false);
        }}
        aria-describedby="cred-server-hint"
      />
      <p className="hint" id="cred-server-hint">
        {defaultBaseUrl === ASHBY_API
          ? 'Ashby’s API; change it only for a sandbox or a proxy.'
          : `This console’s default server (${defaultBaseUrl}); use ${ASHBY_API} for a real Ashby account.`}
      </p>
    </>
  );
  return (
    <Overlay title="Add New Credential" onClose={props.onClose}>
      {saved ? (
        <div className="saved">
          <p role="status">
            Saved <strong>{saved.name}</strong> ({saved.maskedKey}).
          </p>
          {lastError(saved) ? <p className="error">{lastError(saved)}</p> : null}
          <PermissionMap credential={saved} />
          <ReadOnlyWarning credential={saved} />
          <button type="button" onClick={props.onClose}>
            Done
          </button>
        </div>
      ) : (
        <form onSubmit={submit}>
          <NameDescriptionFields
            idPrefix="cred"
            name={name}
            onName={setName}
            description={description}
            onDescription={setDescription}
          />
          <ApiKeyField id="cred-key" label="API Key *" value={key} onChange={setKey} />
          {defaultBaseUrl === ASHBY_API ? (
            <details className="advanced" open={baseUrl !== defaultBaseUrl}>
              <summary>Advanced</summary>
              {serverField}
            </details>
          ) : (
            serverField
          )}
          <ErrorAlert error={error} />
          <div className="actions">
            <button type="submit" className="primary" disabled={busy}>
              {busy ? `Verifying with ${baseUrl}…` : 'Save'}
            </button>
            {unchecked ? (
              <button type="button" disabled={busy} onClick={() => void save(true)}>
                Save without verifying
              </button>
            ) : null}
          </div>
        </form>
      )}
    </Overlay>
  );
}

/** Credential tiles plus the "Add Credential" tile; used by the Credentials page and the Authenticate step. */
export function CredentialGrid(props: {
  credentials: Credential[];
  reload: () => void;
  selectedId?: string | undefined;
  onSelect?: (c: Credential) => void;
}) {
  const [adding, setAdding] = useState(false);
  return (
    <div className="grid">
      {props.credentials.map((c) => (
        <CredentialTile
          key={c.id}
          credential={c}
          selected={props.selectedId === c.id}
          onChanged={props.reload}
          {...(props.onSelect ? { onSelect: () => props.onSelect?.(c) } : {})}
        />
      ))}
      <button type="button" className="tile add" onClick={() => setAdding(true)}>
        <span aria-hidden="true">+</span> Add Credential
      </button>
      {adding ? (
        <AddCredentialOverlay
          onClose={() => setAdding(false)}
          onSaved={(c) => {
            props.reload();
            props.onSelect?.(c);
          }}
        />
      ) : null}
    </div>
  );
}
