import type { Flow } from '../../api';

/** The wizard's steps, in order. */
export const STEPS = ['kind', 'auth', 'configure', 'test', 'schedule'] as const;
export type Step = (typeof STEPS)[number];
export const STEP_LABEL: Record<Step, string> = {
  kind: 'Type',
  auth: 'Authenticate',
  configure: 'Configure',
  test: 'Test',
  schedule: 'Schedule',
};

export type TargetType = 'sqlite' | 'postgres' | 'jsonl';
export type InputType = 'csv' | 'jsonl' | 'json';

/** Everything the wizard's steps fill in; the flow's body is built from it on Test and Save. */
export interface WizardState {
  step: Step;
  /** The furthest step reached: every step up to it can be clicked. */
  reached: number;
  kind: 'source' | 'destination';
  credentialId: string | undefined;
  /** Chosen streams; `undefined` until the stream list arrives, then the CLI's default (all). */
  streams: string[] | undefined;
  name: string;
  targetType: TargetType;
  targetPath: string;
  targetSchema: string;
  /** `options.analytics`: install the analytics views after each run (SQL targets only). */
  analytics: boolean;
  /**
   * `options.history`, as typed: stream names separated by commas, or `all` (every version kept in
   * `<stream>_history`); empty for none.
   */
  history: string;
  operation: string;
  endpoint: string;
  inputType: InputType;
  inputPath: string;
  csv: string;
  mappingText: string;
  schedule: string;
}

export type WizardAction =
  | { type: 'set'; patch: Partial<Omit<WizardState, 'step' | 'reached'>> }
  | { type: 'go'; step: Step }
  | { type: 'next' };

export function wizardReducer(state: WizardState, action: WizardAction): WizardState {
  switch (action.type) {
    case 'set':
      return { ...state, ...action.patch };
    case 'go': {
      const index = STEPS.indexOf(action.step);
      return index <= state.reached ? { ...state, step: action.step } : state;
    }
    case 'next': {
      const index = Math.min(STEPS.indexOf(state.step) + 1, STEPS.length - 1);
      return { ...state, step: STEPS[index] ?? state.step, reached: Math.max(state.reached, index) };
    }
  }
}

/**
 * The first state: a new flow starts at its type; an edited flow opens on Configure with every step
 * reachable, since its type and credential are already chosen.
 */
export function initialState(flow: Flow | undefined): WizardState {
  const source = flow?.config.kind === 'source' ? flow.config : undefined;
  const destination = flow?.config.kind === 'destination' ? flow.config : undefined;
  const target = source?.target;
  const input = destination?.input;
  return {
    step: flow ? 'configure' : 'kind',
    reached: flow ? STEPS.length - 1 : 0,
    kind: flow?.kind ?? 'source',
    credentialId: flow?.credentialId,
    streams: source?.streams,
    name: flow?.name ?? '',
    targetType: target?.type ?? 'sqlite',
    targetPath: (target?.type === 'postgres' ? target.url : target?.path) || (flow ? '' : 'ashby.db'),
    targetSchema: target?.type === 'postgres' ? (target.schema ?? '') : '',
    analytics: source?.options.analytics === true,
    history: historyText(source?.options.history),
    operation: destination?.operation ?? 'candidate.create',
    endpoint: destination?.endpoint ?? '',
    // A SQL input is kept as it is; the wizard itself offers files only.
    inputType: (input?.type ?? 'csv') as InputType,
    inputPath: input?.path ?? '',
    csv: input?.content ?? '',
    mappingText: destination?.mapping
      ? JSON.stringify(destination.mapping, null, 2)
      : '{\n  "name": "Name",\n  "email": "Email"\n}',
    schedule: flow?.schedule ?? '',
  };
}

/** The mapping parsed from its text, or why it cannot be. */
export function parseMapping(text: string): { mapping: Record<string, string>; error?: string } {
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      return { mapping: {}, error: 'The mapping must be a JSON object: {"field": "column"}.' };
    return { mapping: parsed as Record<string, string> };
  } catch {
    return { mapping: {}, error: 'The mapping is not valid JSON.' };
  }
}

/** `options.history` as the wizard's text field shows it. */
function historyText(value: unknown): string {
  if (value === 'all') return 'all';
  return Array.isArray(value) ? value.filter((s) => typeof s === 'string').join(', ') : '';
}

/** The flow's options with `history` from the text field (`all` or a list), or left out when empty. */
function withHistory(options: Record<string, unknown>, text: string): Record<string, unknown> {
  const { history: _previous, ...rest } = options;
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 0) return rest;
  return { ...rest, history: names.includes('all') ? 'all' : names };
}

/** The flow's options with `analytics` set, or left out when off (the server's default). */
function withAnalytics(options: Record<string, unknown>, on: boolean): Record<string, unknown> {
  const { analytics: _previous, ...rest } = options;
  return on ? { ...rest, analytics: true } : rest;
}

/** The flow as the API takes it (create, update and test). */
export function flowBody(state: WizardState, previousOptions: Record<string, unknown> = {}) {
  const schedule = state.schedule || null;
  if (state.kind === 'source') {
    const target =
      state.targetType === 'postgres'
        ? {
            type: state.targetType,
            url: state.targetPath,
            ...(state.targetSchema ? { schema: state.targetSchema } : {}),
          }
        : { type: state.targetType, path: state.targetPath };
    return {
      kind: state.kind,
      name: state.name,
      credentialId: state.credentialId,
      streams: state.streams ?? [],
      target,
      schedule,
      options: withHistory(
        withAnalytics(previousOptions, state.analytics && state.targetType !== 'jsonl'),
        state.history,
      ),
    };
  }
  return {
    kind: state.kind,
    name: state.name,
    credentialId: state.credentialId,
    ...(state.endpoint ? { endpoint: state.endpoint } : { operation: state.operation }),
    input: state.inputPath
      ? { type: state.inputType, path: state.inputPath }
      : { type: state.inputType, content: state.csv },
    mapping: parseMapping(state.mappingText).mapping,
    schedule,
    options: previousOptions,
  };
}
