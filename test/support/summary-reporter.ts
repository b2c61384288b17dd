/**
 * Prints the plain `N passed, N failed` line CI reads, after vitest's own summary, and why tests
 * were skipped where they name it ("— skipped: no Chromium; `command`").
 */
import type { Reporter, TestModule } from 'vitest/node';

export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: readonly TestModule[]): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    const reasons = new Set<string>();
    for (const module of modules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
        else {
          skipped++;
          const why = /— skipped: (.*?)(?: > |$)/.exec(test.fullName)?.[1];
          if (why) reasons.add(why);
        }
      }
      if (module.state() === 'failed' && [...module.children.allTests()].length === 0) failed++;
    }
    for (const why of reasons) process.stdout.write(`\nskipped: ${why}`);
    process.stdout.write(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
  }
}
