import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Worker-process and Redis tests start real processes; running files one at a time keeps
    // the 2-core machine's timings (heartbeats, deadlines) honest.
    fileParallelism: false,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
