/** What the CLI prints: tables without an index column or quotes, and a progress line whose ETA reads as words until it can be estimated. */
import type cliProgress from 'cli-progress';
import { describe, expect, it } from 'vitest';
import { progressLine } from '../cli/progress.ts';
import { table } from '../cli/table.ts';

describe('CLI output', () => {
  it('prints tables as aligned text, and says when there are no rows', () => {
    expect(
      table([
        { name: 'alpha', credibility: '99.9 %' },
        { name: 'b', credibility: 'new' },
      ]),
    ).toBe(['| name  | credibility |', '| ----- | ----------- |', '| alpha | 99.9 %      |', '| b     | new         |'].join('\n'));
    expect(table([])).toBe('(none)');
  });

  it('shows an ETA it cannot estimate yet as a word, not "NFs"', () => {
    // What SingleBar passes its formatter (it renders the bar strings once, from the preset's chars).
    const options = {
      barsize: 10,
      barCompleteString: '#'.repeat(10),
      barIncompleteString: '-'.repeat(10),
      barGlue: '',
      autopaddingChar: '0',
    } as cliProgress.Options;
    const line = progressLine('job j1');
    const at = (eta: number | string, value: number) =>
      line(
        options,
        { progress: value / 10, eta: eta as number, startTime: Date.now(), stopTime: null, total: 10, value, maxWidth: 80 },
        { extra: 'tiles' },
      );
    expect(at('INF', 0)).toBe('job j1 [----------] 0% | 0/10 tiles | ETA estimating');
    expect(at(30, 5)).toBe('job j1 [#####-----] 50% | 5/10 tiles | ETA 30s');
  });
});
