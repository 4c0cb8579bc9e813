export { DEFAULT_HOME, ensureHome, HOME_DIR_MODE, resolveHome, SECRET_FILE_MODE } from './home.js';
export type { Migration } from './migrations/index.js';
export { migrations } from './migrations/index.js';
export {
  CONTROL_POOL_SIZE,
  CONTROL_URL_ENV,
  type Control,
  type ControlDialect,
  controlUrl,
  type OpenControlOptions,
  openControl,
  requireSqlite,
} from './open.js';
export type { ControlDatabase } from './schema.js';
export {
  applyMigrations,
  BUSY_TIMEOUT_MS,
  CONTROL_DB_FILE,
  type ControlStore,
  type OpenControlStoreOptions,
  openControlStore,
} from './store.js';
