/** The sync engine: streams from Ashby into a sink, checkpointed per page. */
export { EndpointCounters, type EndpointCounts } from './counters.js';
export { formatDuration, parseDuration } from './duration.js';
export { DEFAULT_RECONCILE_AFTER_MS, type PageSource, runSync, type SyncOptions } from './engine.js';
export { createProgress, type Progress, type ProgressOptions } from './progress.js';
export { type SyncRunOptions, syncToTarget } from './run.js';
export { formatSummary } from './summary.js';
export type { PassMode, StreamResult, SyncEvent, SyncSummary } from './types.js';
