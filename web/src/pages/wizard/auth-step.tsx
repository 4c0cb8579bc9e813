import type { Dispatch } from 'react';
import type { Credential } from '../../api';
import { CredentialGrid } from '../../credentials';
import type { WizardAction } from './state';

/** Step 2: the credential the flow runs with (or a new one, added in place). */
export function AuthStep(props: {
  credentials: Credential[];
  credentialId: string | undefined;
  reload: () => void;
  dispatch: Dispatch<WizardAction>;
}) {
  return (
    <>
      <h2>Authenticate</h2>
      <CredentialGrid
        credentials={props.credentials}
        reload={props.reload}
        selectedId={props.credentialId}
        onSelect={(c) => props.dispatch({ type: 'set', patch: { credentialId: c.id } })}
      />
      <button
        type="button"
        className="primary"
        disabled={!props.credentialId}
        onClick={() => props.dispatch({ type: 'next' })}
      >
        Continue
      </button>
    </>
  );
}
