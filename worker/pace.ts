/**
 * When a render will end, at the pace it kept since its first progress report: the first call
 * carries the kernel's compile and the scene's set-up, which the calls after it do not repeat.
 */
export class Pace {
  private first?: { at: number; done: number };

  /** Records that `done` of `total` were done at `at` (ms); the projected end, once two reports differ. */
  report(at: number, done: number, total: number): number | undefined {
    if (!this.first) {
      this.first = { at, done };
      return undefined;
    }
    const { at: at0, done: done0 } = this.first;
    if (done <= done0 || at <= at0) return undefined;
    return at + ((total - done) * (at - at0)) / (done - done0);
  }
}
