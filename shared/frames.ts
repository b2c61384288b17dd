/**
 * Blender-style frame ranges: `"0-23"`, `"1,5,10-12"`, `"0-20x5"` (every 5th frame).
 * Returns the sorted, de-duplicated frame numbers or throws a RangeError that says what is wrong.
 */
export function parseFrameRange(spec: string, frameCount: number): number[] {
  const frames = new Set<number>();
  for (const raw of spec.split(',')) {
    const part = raw.trim();
    const m = /^(\d+)(?:-(\d+)(?:x(\d+))?)?$/.exec(part);
    if (!m) throw new RangeError(`bad frame range "${part}": expected N, A-B or A-BxSTEP`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    const step = m[3] === undefined ? 1 : Number(m[3]);
    if (to < from) throw new RangeError(`bad frame range "${part}": end before start`);
    if (step < 1) throw new RangeError(`bad frame range "${part}": step must be at least 1`);
    if (to >= frameCount) throw new RangeError(`frame ${to} is outside the scene's ${frameCount} frame(s) (0-${frameCount - 1})`);
    for (let f = from; f <= to; f += step) frames.add(f);
  }
  return [...frames].sort((a, b) => a - b);
}
