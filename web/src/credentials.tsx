import { type FormEvent, useState } from 'react';
import { ApiError, api, type Credential } from './api';
import { ApiKeyField, ErrorAlert, errorText, NameDescriptionFields } from './form';
import { Overlay } from './overlay';

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

export function ReadOnlyWarning(props: { credential: Credential }) {
  const ops = props.credential.failingOperations;
  if (ops.length === 0) return null;
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
  const body = (
    <>
      <h3>{c.name}</h3>
      {c.description ? <p className="muted">{c.description}</p> : null}
      <p>
        Key <code>{c.maskedKey}</code>
      </p>
      <p>
        <span className={`badge ${c.status}`}>{STATUS_LABEL[c.status]}</span>{' '}
        {c.verifiedAt ? (
          <span className="muted">checked {new Date(c.verifiedAt).toLocaleString()}</span>
        ) : null}
      </p>
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

/** The "Add New Credential" overlay: Save verifies the key, then shows the permission map. */
export function AddCredentialOverlay(props: { onClose: () => void; onSaved: (c: Credential) => void }) {
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [key, setKey] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState<Credential>();
  // No probe reached Ashby: the key is saved only when the person asks for it.
  const [unchecked, setUnchecked] = useState(false);
  const save = async (saveUnverified: boolean) => {
    setBusy(true);
    setError(undefined);
    try {
      const res = await api<{ credential: Credential }>('POST', '/credentials', {
        name,
        apiKey: key,
        ...(description.trim() ? { description } : {}),
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
  return (
    <Overlay title="Add New Credential" onClose={props.onClose}>
      {saved ? (
        <div className="saved">
          <p role="status">
            Saved <strong>{saved.name}</strong> ({saved.maskedKey}).
          </p>
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
          <ErrorAlert error={error} />
          <button type="submit" disabled={busy}>
            {busy ? 'Verifying…' : 'Save'}
          </button>
          {unchecked ? (
            <button type="button" disabled={busy} onClick={() => void save(true)}>
              Save without verification
            </button>
          ) : null}
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
