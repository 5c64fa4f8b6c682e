/**
 * The services `npm test` started. A test run without them is a mistake, not a reason to skip:
 * the error says how to run the tests.
 */
export interface TestEnv {
  databaseUrl: string;
  redisUrl: string;
  dockerHost: string;
  tmp: string;
}

export function testEnv(): TestEnv {
  const e = process.env;
  if (!e.BAI_TEST_DATABASE_URL || !e.BAI_TEST_REDIS_URL || !e.BAI_TEST_DOCKER_HOST || !e.BAI_TEST_TMP) {
    throw new Error(
      'Integration tests need the services of `npm test` (node dist/scripts/test-run.js starts them).',
    );
  }
  return {
    databaseUrl: e.BAI_TEST_DATABASE_URL,
    redisUrl: e.BAI_TEST_REDIS_URL,
    dockerHost: e.BAI_TEST_DOCKER_HOST,
    tmp: e.BAI_TEST_TMP,
  };
}
