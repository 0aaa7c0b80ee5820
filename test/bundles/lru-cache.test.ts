import LRUCache from '../../lambda/shared/lru-cache';

describe('the LRU cache the bundles use instead of mnemonist/lru-cache', () => {
  test('evicts the least recently used entry beyond its capacity; get refreshes recency, peek does not', () => {
    const c = new LRUCache<string, number>(2);
    c.set('a', 1).set('b', 2);
    expect(c.get('a')).toBe(1); // a is now the most recent
    c.set('c', 3); // evicts b
    expect([c.has('a'), c.has('b'), c.has('c')]).toEqual([true, false, true]);
    expect(c.peek('a')).toBe(1);
    c.set('d', 4); // the order of use is a (get), c (set): a is the least recent, peek did not change that
    expect([c.has('a'), c.has('c'), c.has('d')]).toEqual([false, true, true]);
    expect(c.size).toBe(2);
    c.clear();
    expect(c.size).toBe(0);
  });
});
