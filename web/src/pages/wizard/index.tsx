import { type FormEvent, useEffect, useReducer, useState } from 'react';
import {
  type ApiResponse,
  api,
  type Credential,
  type Flow,
  type OperationInfo,
  type StreamInfo,
} from '../../api';
import { ErrorAlert, errorText } from '../../form';
import { AuthStep } from './auth-step';
import { ConfigureStep } from './configure-step';
import { KindStep } from './kind-step';
import { ScheduleStep } from './schedule-step';
import { flowBody, initialState, STEP_LABEL, STEPS, wizardReducer } from './state';
import { TestStep } from './test-step';

/**
 * New data flow: Type → Authenticate → Configure → Test → Schedule → Save and activate. Steps already
 * reached can be clicked to go back. With `initial`, the same steps edit that flow, opening on Configure,
 * and Save keeps its status.
 */
export function FlowWizard(props: {
  credentials: Credential[];
  reload: () => void;
  onDone: (flowId: string) => void;
  initial?: Flow | undefined;
}) {
  const init = props.initial;
  const [state, dispatch] = useReducer(wizardReducer, init, initialState);
  const [streams, setStreams] = useState<StreamInfo[]>([]);
  const [operations, setOperations] = useState<OperationInfo[]>([]);
  const [timezone, setTimezone] = useState<string>();
  const [error, setError] = useState<string>();
  const credential = props.credentials.find((c) => c.id === state.credentialId);
  const previousOptions = init?.config.options ?? {};

  useEffect(() => {
    api<ApiResponse<'streams'>>('GET', '/streams').then(
      (r) => setStreams(r.streams),
      (e: Error) => setError(e.message),
    );
    api<ApiResponse<'operations'>>('GET', '/operations').then(
      (r) => setOperations(r.operations),
      (e: Error) => setError(e.message),
    );
    api<{ timezone?: string }>('GET', '/flows').then(
      (r) => setTimezone(r.timezone),
      () => {},
    );
  }, []);
  // The CLI's default: every stream that is not opt-in.
  useEffect(() => {
    if (state.streams === undefined && streams.length > 0)
      dispatch({ type: 'set', patch: { streams: streams.filter((s) => !s.optIn).map((s) => s.name) } });
  }, [state.streams, streams]);

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    try {
      const body = flowBody(state, previousOptions);
      const r = init
        ? await api<{ flow: Flow }>('PUT', `/flows/${init.id}`, body)
        : await api<{ flow: Flow }>('POST', '/flows?activate=true', body);
      props.onDone(r.flow.id);
    } catch (err) {
      setError(errorText(err));
    }
  };

  const current = STEPS.indexOf(state.step);
  return (
    <section aria-labelledby="wizard-title">
      <h1 id="wizard-title">{init ? `Edit ${init.name}` : 'New data flow'}</h1>
      {typeof previousOptions.managedBy === 'string' ? (
        <div className="warning" role="note" data-testid="managed-by">
          This flow is managed by <strong>{previousOptions.managedBy}</strong>: the next{' '}
          <code>ashpipe apply</code> of that file puts back what the file says. Change the file to keep a
          change.
        </div>
      ) : null}
      <ol className="steps" aria-label="Steps">
        {STEPS.map((s, i) => (
          <li key={s} className={i < current ? 'done' : undefined}>
            <button
              type="button"
              className="step"
              aria-current={s === state.step ? 'step' : undefined}
              // An edited flow's type is fixed.
              disabled={i > state.reached || (init !== undefined && s === 'kind')}
              onClick={() => {
                setError(undefined);
                dispatch({ type: 'go', step: s });
              }}
            >
              <span className="step-number">{i + 1}</span> {STEP_LABEL[s]}
            </button>
          </li>
        ))}
      </ol>
      <ErrorAlert error={error} />
      {state.step === 'kind' ? <KindStep kind={state.kind} dispatch={dispatch} /> : null}
      {state.step === 'auth' ? (
        <AuthStep
          credentials={props.credentials}
          credentialId={state.credentialId}
          reload={props.reload}
          dispatch={dispatch}
        />
      ) : null}
      {state.step === 'configure' ? (
        <ConfigureStep
          state={state}
          dispatch={dispatch}
          credential={credential}
          streams={streams}
          operations={operations}
          setError={setError}
        />
      ) : null}
      {state.step === 'test' ? (
        <TestStep state={state} dispatch={dispatch} previousOptions={previousOptions} setError={setError} />
      ) : null}
      {state.step === 'schedule' ? (
        <ScheduleStep
          schedule={state.schedule}
          timezone={timezone}
          editing={init !== undefined}
          dispatch={dispatch}
          onSave={save}
        />
      ) : null}
      {current > 0 && !(init && current <= 1) ? (
        <button
          type="button"
          className="back"
          onClick={() => {
            setError(undefined);
            const previous = STEPS[current - 1];
            if (previous) dispatch({ type: 'go', step: previous });
          }}
        >
          Back
        </button>
      ) : null}
    </section>
  );
}

/** Loads a flow, then edits it with the wizard. */
export function FlowEditor(props: {
  flowId: string;
  credentials: Credential[];
  reload: () => void;
  onDone: () => void;
}) {
  const [flow, setFlow] = useState<Flow>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    api<{ flow: Flow }>('GET', `/flows/${props.flowId}`).then(
      (r) => setFlow(r.flow),
      (e: Error) => setError(e.message),
    );
  }, [props.flowId]);
  if (error) return <ErrorAlert error={error} />;
  if (!flow) return <p>Loading flow…</p>;
  return (
    <FlowWizard credentials={props.credentials} reload={props.reload} onDone={props.onDone} initial={flow} />
  );
}
