#!/bin/sh
# The test files `npm run test:services` runs: those that reach PostgreSQL or Redis, directly (TEST_DATABASE_URL,
# TEST_REDIS_URL) or through a test server (test/support/server.ts, or log-server.ts, which runs one in a
# child), and everything under test/services. The rest never touch either service, so a second run of them
# against the services would only repeat the first.
cd "$(dirname "$0")/.." || exit 1
{
  find test/services -name '*.test.ts'
  grep -rlE "TEST_DATABASE_URL|TEST_REDIS_URL|support/(server|log-server)\.ts" test --include='*.test.ts'
} | sort -u
