import type { Dispatch } from 'react';
import type { WizardAction } from './state';

/** The tiles of the wizard's first step. */
const FLOW_KINDS = [
  { kind: 'source', title: 'Ashby source', text: 'Sync Ashby streams into a database.' },
  { kind: 'destination', title: 'Ashby destination', text: 'Push records from a file into Ashby.' },
] as const;

/** Step 1: what the flow does. */
export function KindStep(props: { kind: string; dispatch: Dispatch<WizardAction> }) {
  return (
    <div className="grid">
      {FLOW_KINDS.map((k) => (
        <button
          key={k.kind}
          type="button"
          className={`tile selectable${props.kind === k.kind ? ' selected' : ''}`}
          onClick={() => {
            props.dispatch({ type: 'set', patch: { kind: k.kind } });
            props.dispatch({ type: 'next' });
          }}
        >
          <h3>{k.title}</h3>
          <p>{k.text}</p>
        </button>
      ))}
    </div>
  );
}
