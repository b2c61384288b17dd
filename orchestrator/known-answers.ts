/**
 * Whether a device class holds fewer known answers (its spot-check pool) than the farm stocks
 * while a trusted worker is online (decide.ts). Every verdict asks, so each class's count is read
 * at most once a second; classes are the few the operator's trusted workers established.
 */
import { readAtMostEvery } from './read-cache.ts';
import type { Tasks } from './state/tasks.ts';

export function knownAnswersShortness(tasks: Pick<Tasks, 'knownAnswers'>, target: number): (deviceClass: string) => Promise<boolean> {
  const counts = new Map<string, () => Promise<number>>();
  return async (deviceClass) => {
    // A task without a class has no replica yet; a failed read counts as stocked.
    if (!deviceClass || target === 0) return false;
    let count = counts.get(deviceClass);
    if (!count) {
      count = readAtMostEvery(1000, () => tasks.knownAnswers(deviceClass), target);
      counts.set(deviceClass, count);
    }
    return (await count()) < target;
  };
}
