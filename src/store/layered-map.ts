// An immutable ReadonlyMap that a change copies in part: a shared base Map plus a small overlay
// of the keys changed since the base was made. The snapshot's EndpointSlice collection is one:
// slices change far more often than anything else (every pod start, stop and readiness flip),
// and copying a plain Map of 10,000 slices per change made each endpoint change cost O(all
// slices) (bench/README.md, `npm run bench:scale`). A change copies the overlay, and the overlay
// is folded into a new base once it outgrows about the square root of the size, so a change
// costs O(√N) entries copied, amortized, instead of O(N).
//
// Iteration order is a Map's: a replaced key keeps its place, a new key (or one deleted and set
// again) comes last.

/** Overlays smaller than this are never folded (copying a few dozen entries costs nothing). */
const MIN_FOLD_SIZE = 64;

/** Entries copied by every edit so far (overlay copies and folds); tests read the difference. */
export const layeredMapWork = { copiedEntries: 0 };

interface Overlay<K, V> {
  /** base keys with a new value (their place in the order is the base's) */
  readonly replaced: Map<K, V>;
  /** base keys deleted */
  readonly removed: Set<K>;
  /** keys not in the base, or deleted from it and set again, in insertion order */
  readonly appended: Map<K, V>;
}

export class LayeredMap<K, V> implements ReadonlyMap<K, V> {
  readonly #base: ReadonlyMap<K, V>;
  readonly #overlay: Overlay<K, V>;

  constructor(base: ReadonlyMap<K, V> = new Map(), overlay?: Overlay<K, V>) {
    this.#base = base;
    this.#overlay = overlay ?? { replaced: new Map(), removed: new Set(), appended: new Map() };
  }

  /** keys changed since the base was made (what an edit copies) */
  get overlaySize(): number {
    const { replaced, removed, appended } = this.#overlay;
    return replaced.size + removed.size + appended.size;
  }

  get size(): number {
    return this.#base.size - this.#overlay.removed.size + this.#overlay.appended.size;
  }

  get(key: K): V | undefined {
    const { replaced, removed, appended } = this.#overlay;
    if (appended.has(key)) return appended.get(key);
    if (removed.has(key)) return undefined;
    return replaced.has(key) ? replaced.get(key) : this.#base.get(key);
  }

  has(key: K): boolean {
    const { removed, appended } = this.#overlay;
    return appended.has(key) || (!removed.has(key) && this.#base.has(key));
  }

  /** A mutable copy to apply a batch to; `freeze()` gives the next immutable map. */
  edit(): LayeredMapDraft<K, V> {
    const { replaced, removed, appended } = this.#overlay;
    layeredMapWork.copiedEntries += this.overlaySize;
    return new LayeredMapDraft(this.#base, {
      replaced: new Map(replaced),
      removed: new Set(removed),
      appended: new Map(appended),
    });
  }

  *entries(): MapIterator<[K, V]> {
    const { replaced, removed, appended } = this.#overlay;
    if (replaced.size === 0 && removed.size === 0) yield* this.#base.entries();
    else {
      for (const [key, value] of this.#base) {
        if (removed.has(key)) continue;
        yield [key, replaced.has(key) ? (replaced.get(key) as V) : value];
      }
    }
    yield* appended.entries();
  }

  *keys(): MapIterator<K> {
    for (const [key] of this.entries()) yield key;
  }

  *values(): MapIterator<V> {
    for (const [, value] of this.entries()) yield value;
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }

  forEach(callback: (value: V, key: K, map: ReadonlyMap<K, V>) => void, thisArg?: unknown): void {
    for (const [key, value] of this.entries()) callback.call(thisArg, value, key, this);
  }
}

export class LayeredMapDraft<K, V> {
  readonly #base: ReadonlyMap<K, V>;
  readonly #overlay: Overlay<K, V>;
  #frozen = false;

  constructor(base: ReadonlyMap<K, V>, overlay: Overlay<K, V>) {
    this.#base = base;
    this.#overlay = overlay;
  }

  get(key: K): V | undefined {
    return this.#view().get(key);
  }

  set(key: K, value: V): void {
    this.#assertOpen();
    const { replaced, removed, appended } = this.#overlay;
    if (appended.has(key) || removed.has(key) || !this.#base.has(key)) appended.set(key, value);
    else replaced.set(key, value);
  }

  /** true when the key was there */
  delete(key: K): boolean {
    this.#assertOpen();
    const { replaced, removed, appended } = this.#overlay;
    if (appended.delete(key)) return true;
    if (removed.has(key) || !this.#base.has(key)) return false;
    replaced.delete(key);
    removed.add(key);
    return true;
  }

  /** The immutable result; the overlay is folded into a new base when it has grown past √size. */
  freeze(): LayeredMap<K, V> {
    this.#frozen = true;
    const map = this.#view();
    if (map.overlaySize <= Math.max(MIN_FOLD_SIZE, Math.sqrt(map.size))) return map;
    layeredMapWork.copiedEntries += map.size;
    return new LayeredMap(new Map(map));
  }

  /** the frozen map shares the overlay: editing it afterwards would change that map */
  #assertOpen(): void {
    if (this.#frozen) throw new Error('LayeredMapDraft edited after freeze()');
  }

  #view(): LayeredMap<K, V> {
    return new LayeredMap(this.#base, this.#overlay);
  }
}
