/**
 * Jest setup file (jest.config.js `setupFiles`), run in every test file before its imports: a passing suite prints no
 * structured logs (retries, throttling, refusals, ledger records). Powertools loggers read POWERTOOLS_LOG_LEVEL when
 * they are created; to see a failing test's logs, run it with POWERTOOLS_LOG_LEVEL=DEBUG. Bundles run by
 * test/support/bundle-runner.ts get their own environment and keep logging, for the tests that read their logs.
 */
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
