/**
 * The runner of one stream: waits for the streams it needs, takes its lock, finishes a pass the last run
 * left half done, chooses the mode, runs its passes (restarting them after a refused token or an expired
 * cursor) and turns any failure into the stream's result.
 */
import { toErrorInfo } from '../ashby/errors.js';
import { ATTR, inSpan } from '../observability/tracing.js';
import type { StreamState } from '../sinks/index.js';
import { changedParentsPass } from './changed-parents-pass.js';
import { childPass } from './child-pass.js';
import { type RunContext, StreamTally } from './context.js';
import { classifyFailure } from './failure.js';
import { listPass } from './list-pass.js';
import { takeLock } from './lock.js';
import { chooseMode, type ModeChoice } from './mode.js';
import { StreamWriter } from './pages.js';
import type { PlannedStream } from './plan.js';
import { refreshAfterOf } from './refresh.js';
import { awaitsFinish, nextState, readState } from './state.js';
import type { StreamResult } from './types.js';

/** Why a stream cannot start: a stream it waits for did not complete. */
async function blockedBy(
  ctx: RunContext,
  planned: PlannedStream,
  tally: StreamTally,
): Promise<StreamResult | undefined> {
  const { stream } = planned;
  for (const dep of planned.waitsFor) {
    const depResult = await ctx.results.get(dep);
    if (!depResult || depResult.status === 'ok') continue;
    if (stream.parent?.kind === 'stream' && stream.parent.stream === dep) {
      tally.reasons.push(`parent stream ${dep} did not complete`);
      return tally.result('skipped', {
        code: 'parent_incomplete',
        message: `parent stream ${dep} ${depResult.status}`,
      });
    }
    if (ctx.settings.excludeConfidential) {
      // Without the parent's confidential ids this stream could store what the user asked to leave out.
      tally.reasons.push(`${dep} did not complete, so confidential records could not be told apart`);
      return tally.result('skipped', {
        code: 'parent_incomplete',
        message: `needs ${dep} for --exclude-confidential`,
      });
    }
  }
  return undefined;
}

/**
 * Runs one stream of the plan to its result (never throws for the stream's own failure). The lock is held
 * from before the state is read until the stream's last write.
 */
export async function runStream(ctx: RunContext, planned: PlannedStream): Promise<StreamResult> {
  // Let every stream's promise be registered before any looks up the streams it waits for.
  await Promise.resolve();
  const attributes = { [ATTR.stream]: planned.stream.name, [ATTR.endpoint]: planned.stream.endpoint };
  return inSpan(`stream ${planned.stream.name}`, attributes, async (span) => {
    const result = await runStreamInSpan(ctx, planned);
    span.setAttribute('ashpipe.stream.status', result.status);
    span.setAttribute('ashpipe.stream.records', result.records);
    return result;
  });
}

async function runStreamInSpan(ctx: RunContext, planned: PlannedStream): Promise<StreamResult> {
  const tally = new StreamTally(planned.stream, ctx.counters);
  if (planned.note) tally.reasons.push(planned.note);
  const end = (result: StreamResult): StreamResult => {
    ctx.emit({ type: 'stream-end', result });
    return result;
  };
  const blocked = await blockedBy(ctx, planned, tally);
  if (blocked) return end(blocked);
  if (ctx.signal.aborted) return end(tally.result('aborted'));
  tally.restartClock();
  let taken: Awaited<ReturnType<typeof takeLock>>;
  try {
    taken = await takeLock(ctx, planned.lock);
  } catch (error) {
    // The target could not even be asked (its lock connection failed, its disk is full): this stream fails.
    ctx.logger.error('stream failed', { stream: planned.stream.name, ...toErrorInfo(error) });
    tally.reasons.push('failed');
    return end(tally.result('failed', toErrorInfo(error)));
  }
  if ('refused' in taken) {
    tally.reasons.push(taken.refused);
    ctx.emit({ type: 'warning', stream: planned.stream.name, message: taken.refused });
    ctx.logger.warn('stream skipped: locked by another run', {
      stream: planned.stream.name,
      reason: taken.refused,
    });
    return end(tally.result('skipped', { code: 'stream_locked', message: taken.refused }));
  }
  let result: StreamResult;
  try {
    result = await syncStream(ctx, new StreamWriter(ctx, planned.stream, tally, taken.lock));
  } finally {
    await taken.lock.release().catch((error: unknown) => {
      ctx.logger.warn('could not release a stream lock', {
        stream: planned.stream.name,
        error: String(error),
      });
    });
  }
  return end(result);
}

/** Everything after the lock: the stored state, the mode, the passes, the result. */
async function syncStream(ctx: RunContext, writer: StreamWriter): Promise<StreamResult> {
  const { stream, tally } = writer;
  let mode: ModeChoice['mode'] = 'full';
  try {
    let state = readState(await ctx.sink.getState(stream.name));
    tally.firstSync = state === undefined;
    if (awaitsFinish(state)) {
      // The last run read every page but stopped before applying deletes: apply them now.
      await writer.finishFull(state);
      tally.reasons.push('finished the interrupted full pass');
      state = readState(await ctx.sink.getState(stream.name));
    }
    const choice = chooseMode(
      state,
      { incremental: stream.incremental, child: stream.parent !== undefined },
      {
        fullRefresh: ctx.settings.fullRefresh,
        reconcileAfterMs: ctx.settings.reconcileAfterMs,
        refresh: ctx.settings.refresh,
        refreshAfterMs: refreshAfterOf(stream, ctx.settings.refreshAfter),
      },
      ctx.now(),
    );
    tally.reasons.push(choice.reason);
    if (choice.notDue) {
      tally.notDue = choice.notDue;
      return tally.result('ok');
    }
    mode = choice.mode;
    // A fresh full pass over an incremental stream that holds a token: asked for, or a reconcile.
    const hadToken = state?.syncToken !== undefined || state?.parentsChangedAfter !== undefined;
    if (stream.incremental && hadToken && mode === 'full' && !choice.resume) {
      const reason = ctx.settings.fullRefresh ? 'full_refresh' : 'reconcile';
      ctx.emit({ type: 'token-reset', stream: stream.name, reason });
    }
    await runPasses(ctx, writer, state, choice, (m) => {
      mode = m;
    });
    return tally.result('ok');
  } catch (error) {
    return failed(ctx, writer, error, mode);
  }
}

/** Runs the chosen pass, starting over as the failure classification says (a full pass after a refused token, the same pass after an expired cursor). */
async function runPasses(
  ctx: RunContext,
  writer: StreamWriter,
  stored: StreamState | undefined,
  choice: ModeChoice,
  onMode: (mode: ModeChoice['mode']) => void,
): Promise<void> {
  const { stream, tally } = writer;
  let { mode, resume } = choice;
  let state = stored;
  let restarts = 0;
  for (;;) {
    tally.mode = mode;
    onMode(mode);
    ctx.emit({
      type: 'stream-start',
      stream: stream.name,
      endpoint: stream.endpoint,
      mode,
      reason: tally.reasons.join('; '),
    });
    try {
      if (stream.changedParents) await changedParentsPass(ctx, writer, mode, state, resume);
      else if (stream.parent) await childPass(ctx, writer, state, resume);
      else await listPass(ctx, writer, mode, state, resume);
      return;
    } catch (error) {
      const what = classifyFailure(error, { aborted: ctx.signal.aborted, mode, restarts });
      if (what.action !== 'restart') throw error;
      if (what.pass === 'full') {
        tally.reasons.push(`${what.code}: token discarded, full pass`);
        ctx.emit({ type: 'token-reset', stream: stream.name, reason: what.code });
        ctx.emit({
          type: 'warning',
          stream: stream.name,
          message: `${what.code}: sync token discarded, full pass`,
        });
        state = nextState(state ?? {}, { type: 'token-discarded' });
        await ctx.sink.saveState(stream.name, state);
        mode = 'full';
      } else {
        restarts++;
        tally.reasons.push(`${what.code}: pass restarted`);
        ctx.emit({ type: 'warning', stream: stream.name, message: `${what.code}: ${mode} pass restarted` });
        state = readState(await ctx.sink.getState(stream.name));
      }
      resume = false;
    }
  }
}

/** The result of a stream whose pass threw: the run stops, or the stream is aborted, skipped or failed. */
function failed(
  ctx: RunContext,
  writer: StreamWriter,
  error: unknown,
  mode: ModeChoice['mode'],
): StreamResult {
  const { stream, tally } = writer;
  const what = classifyFailure(error, {
    aborted: ctx.signal.aborted,
    mode,
    restarts: Number.POSITIVE_INFINITY,
  });
  if (what.action === 'fatal') {
    ctx.stopAll(toErrorInfo(error));
    tally.reasons.push('authentication failed');
    return tally.result('failed', toErrorInfo(error));
  }
  if (what.action === 'aborted') {
    tally.reasons.push('run stopped');
    return tally.result('aborted');
  }
  if (what.action === 'skip') {
    const message = `skipped: the API key lacks ${stream.permission} (${stream.scope}), needed by ${stream.endpoint}`;
    tally.reasons.push(message);
    ctx.emit({ type: 'warning', stream: stream.name, message });
    ctx.logger.warn('stream skipped', {
      stream: stream.name,
      scope: stream.scope,
      module: stream.permission,
    });
    return tally.result('skipped', {
      ...toErrorInfo(error),
      message,
      scope: stream.scope,
      module: stream.permission,
    });
  }
  const info = toErrorInfo(error);
  ctx.logger.error('stream failed', { stream: stream.name, ...info });
  tally.reasons.push('failed');
  return tally.result('failed', info);
}
