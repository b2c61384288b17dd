import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Worker-process and Redis tests start real processes; running files one at a time keeps
    // the 2-core machine's timings (heartbeats, deadlines) honest.
    fileParallelism: false,
    // One process for all files: each file's imports had cost CI ~80 s of its 20 minutes. A file
    // that spies on a shared module restores it (no vi.mock: it could not apply to a module an
    // earlier file loaded).
    isolate: false,
    // expect.poll waits on real processes and a real browser: give it seconds, not vitest's 1 s.
    expect: { poll: { timeout: 30_000, interval: 100 } },
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
