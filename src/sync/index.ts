/** The sync engine: streams from Ashby into a sink, checkpointed per page. */
export { EndpointCounters, type EndpointCounts } from './counters.js';
export { formatDuration, parseDuration } from './duration.js';
export {
  DEFAULT_LOCK_LABEL,
  DEFAULT_RECONCILE_AFTER_MS,
  type PageSource,
  runSync,
  type SyncOptions,
} from './engine.js';
export { HistoryOptionError, historyCapableStreams, parseHistoryStreams } from './history-option.js';
export { describeHolder } from './lock.js';
export { chooseMode, type ModeChoice } from './mode.js';
export {
  DEFAULT_REFRESH_AFTER_MS,
  parseRefreshAfter,
  type RefreshAfter,
  RefreshAfterError,
  refreshAfterOf,
} from './refresh.js';
export { type SyncRunOptions, syncToTarget } from './run.js';
export { nextState, readState, type StateEvent } from './state.js';
export type { PassMode, StreamResult, SyncEvent, SyncSummary } from './types.js';
