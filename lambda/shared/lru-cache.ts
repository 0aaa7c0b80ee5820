/**
 * A Map-based least-recently-used cache with the part of mnemonist's `LRUCache` interface that the SDK's DynamoDB
 * endpoint cache (`@aws-sdk/endpoint-cache`) uses: get, set, has, peek, clear. The bundles alias `mnemonist/lru-cache`
 * to this file (lib/bundles.ts): mnemonist and its dependency obliterator add about 7 KB to every bundle with a DynamoDB
 * client, for a cache that holds endpoints only when endpoint discovery is enabled (it is not: client-config.ts).
 */
export default class LRUCache<K, V> {
  private readonly map = new Map<K, V>();
  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.map.size;
  }

  /** The value, marked most recently used. */
  get(key: K): V | undefined {
    if (!this.map.has(key)) return undefined;
    const value = this.map.get(key)!;
    this.map.delete(key);
    this.map.set(key, value);
    return value;
  }

  /** The value, without changing its recency. */
  peek(key: K): V | undefined {
    return this.map.get(key);
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  set(key: K, value: V): this {
    this.map.delete(key);
    this.map.set(key, value);
    // A Map iterates in insertion order: the first key is the least recently used.
    while (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value as K);
    return this;
  }

  clear(): void {
    this.map.clear();
  }
}
