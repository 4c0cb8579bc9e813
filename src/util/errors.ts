/**
 * Errors any layer may raise about its own configuration. They live here, below every layer, so that
 * sinks and push can refuse a setting without knowing who asked: the CLI maps a {@link ConfigError} to
 * exit code 2, the server to HTTP 422.
 */

/**
 * A setting or argument is wrong (an unknown target scheme, a malformed PostgreSQL URL, an unknown push
 * operation): nothing was attempted. The message names what is wrong and how to write it instead.
 */
export class ConfigError extends Error {
  override name = 'ConfigError';
}
