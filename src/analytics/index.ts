/** Ready-made recruiting analytics: SQL views over the synced tables (`ashpipe analytics`). */
export { type Dialect, type DialectName, dialectOf, quoteIdent } from './dialect.js';
export {
  type AnalyticsTarget,
  type InstalledView,
  installAnalytics,
  listAnalytics,
  openAnalyticsTarget,
  placeholder,
  readView,
  type ViewListing,
  type ViewRow,
} from './store.js';
export { ANALYTICS_VIEWS, type AnalyticsView, findView, PERCENTILE_RULE, type ViewColumn } from './views.js';
