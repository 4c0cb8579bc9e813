/** The logger lives in `src/observability/`; this module keeps the import path the rest of the code uses. */
export {
  LOG_LEVELS,
  Logger,
  type LoggerOptions,
  type LogLevel,
  silentLogger,
} from '../observability/logger.js';
