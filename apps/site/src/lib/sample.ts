/**
 * 32-bit FNV-1a hash of a string. Used to pick stable pseudo-random samples so two builds of the
 * same catalogue emit byte-identical pages.
 */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/**
 * A deterministic sample of at most `size` items, different for each `seed` (the page it appears
 * on), so that every tool of a category gets linked from some other page instead of the same
 * dozen everywhere. Ties break on the key, so the order never depends on input order.
 *
 * @param items - candidates
 * @param key - stable identity of an item (e.g. `server/tool`)
 * @param seed - identity of the page asking; an item whose key equals `seed` is left out
 * @param size - maximum number of items returned
 */
export function stableSample<T>(
  items: readonly T[],
  key: (item: T) => string,
  seed: string,
  size: number,
): T[] {
  const scored: { item: T; k: string; score: number }[] = [];
  for (const item of items) {
    const k = key(item);
    if (k === seed) continue;
    scored.push({ item, k, score: fnv1a(`${seed}\u0000${k}`) });
  }
  scored.sort((a, b) => a.score - b.score || (a.k < b.k ? -1 : a.k > b.k ? 1 : 0));
  return scored.slice(0, size).map((s) => s.item);
}
