/**
 * The plan of a run: which streams, in which order, waiting for which others, under which locks.
 */
import type { Sink, StreamState } from '../sinks/index.js';
import { type ConfidentialContext, findStream, type ResolvedStream } from '../streams/index.js';
import { readState } from './state.js';

/** One stream of the plan. */
export interface PlannedStream {
  stream: ResolvedStream;
  /** Why the plan added a stream the caller did not ask for. */
  note?: string;
  /** Streams of the run that must end first: the parent, and (under `--exclude-confidential`) the streams whose confidential ids it needs. */
  waitsFor: string[];
  /** The lock it takes in the target before writing: one writer per (target, stream). */
  lock: string;
}

/** What the plan needs to know about the run. */
export interface PlanOptions {
  excludeConfidential: boolean;
}

/**
 * Plans a run over `streams`: a child whose parent is not asked for and never completed a pass gets its
 * parent added (so it has rows to walk). All streams start together; each waits for the streams it needs.
 */
export async function planSync(
  streams: readonly ResolvedStream[],
  getState: (stream: string) => Promise<StreamState | undefined>,
  options: PlanOptions,
): Promise<PlannedStream[]> {
  const planned = new Map<string, { stream: ResolvedStream; note?: string }>();
  for (const s of streams) planned.set(s.name, { stream: s });
  for (const s of streams) {
    if (s.parent?.kind !== 'stream' || planned.has(s.parent.stream)) continue;
    const parentState = readState(await getState(s.parent.stream));
    if (parentState?.lastCompletedAt) continue;
    const parent = findStream(s.parent.stream);
    if (parent) planned.set(parent.name, { stream: parent, note: `added: ${s.name} needs it` });
  }
  return [...planned.values()].map(({ stream, note }) => {
    const waitsFor = new Set<string>();
    if (stream.parent?.kind === 'stream') waitsFor.add(stream.parent.stream);
    if (options.excludeConfidential) for (const d of stream.confidentialAfter ?? []) waitsFor.add(d);
    return { stream, ...(note ? { note } : {}), waitsFor: [...waitsFor], lock: stream.name };
  });
}

/** The confidential ids the plan's streams remembered in earlier runs (`--exclude-confidential`). */
export async function rememberedConfidentialIds(
  plan: readonly PlannedStream[],
  sink: Pick<Sink, 'getState'>,
): Promise<ConfidentialContext> {
  const context: ConfidentialContext = {
    jobIds: new Set(),
    applicationIds: new Set(),
    projectIds: new Set(),
  };
  for (const { stream } of plan) {
    if (!stream.confidentialKind) continue;
    const state = readState(await sink.getState(stream.name));
    for (const id of state?.confidentialIds ?? []) context[stream.confidentialKind].add(id);
  }
  return context;
}
