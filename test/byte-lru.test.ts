/** The gateway's CAR cache (orchestrator/byte-lru.ts): bounded by bytes, least recently used out first. */
import { describe, expect, it } from 'vitest';
import { ByteLru } from '../orchestrator/byte-lru.ts';

const bytes = (n: number) => new Uint8Array(n);

describe('ByteLru', () => {
  it('evicts the least recently used entries until the new one fits', () => {
    const lru = new ByteLru<Uint8Array>(10);
    lru.set('a', bytes(4), 4);
    lru.set('b', bytes(4), 4);
    lru.get('a');
    lru.set('c', bytes(4), 4);
    expect(lru.get('b')).toBeUndefined();
    expect(lru.get('a')).toHaveLength(4);
    expect(lru.get('c')).toHaveLength(4);
    expect(lru.bytes).toBe(8);
    lru.set('d', bytes(10), 10);
    expect([lru.get('a'), lru.get('c')]).toEqual([undefined, undefined]);
    expect(lru.bytes).toBe(10);
  });

  it('does not keep a value larger than its capacity, nor count it', () => {
    const lru = new ByteLru<Uint8Array>(10);
    lru.set('a', bytes(3), 3);
    const big = bytes(11);
    expect(lru.set('big', big, big.length)).toBe(big);
    expect(lru.get('big')).toBeUndefined();
    expect(lru.get('a')).toHaveLength(3);
    expect(lru.bytes).toBe(3);
  });

  it('counts a key set again once, at its new size', () => {
    const lru = new ByteLru<Uint8Array>(10);
    lru.set('a', bytes(6), 6);
    lru.set('a', bytes(2), 2);
    lru.set('b', bytes(8), 8);
    expect(lru.bytes).toBe(10);
    expect(lru.get('a')).toHaveLength(2);
  });

  it('keeps nothing at capacity 0', () => {
    const lru = new ByteLru<Uint8Array>(0);
    lru.set('a', bytes(1), 1);
    expect(lru.get('a')).toBeUndefined();
    expect(lru.bytes).toBe(0);
  });
});
