import { randomBytes } from 'node:crypto';

/**
 * The PostgreSQL server of the tests (`ASHPIPE_TEST_POSTGRES_URL`). Unset, the tests that need it skip
 * loudly, naming `what` is skipped, or fail when `ASHPIPE_REQUIRE_POSTGRES=1`.
 */
export function testPostgresUrl(what: string): string | undefined {
  const url = process.env.ASHPIPE_TEST_POSTGRES_URL;
  if (!url) {
    if (process.env.ASHPIPE_REQUIRE_POSTGRES === '1')
      throw new Error('ASHPIPE_REQUIRE_POSTGRES=1 but ASHPIPE_TEST_POSTGRES_URL is not set');
    console.warn(`ASHPIPE_TEST_POSTGRES_URL is not set: SKIPPING ${what}`);
  }
  return url;
}

/** A fresh schema name for one test run (`ashpipe_t_<random>`); the test drops it afterwards. */
export function testSchemaName(): string {
  return `ashpipe_t_${randomBytes(6).toString('hex')}`;
}
