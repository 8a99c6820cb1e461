/** Image sources made from other sources: a subset by index, and labelled sources joined into one. */
import type { ImageItem, ImageSource, Preprocessing } from '../data/types.js';
import { isMaskSource } from '../data/masks.js';

/** The items `indices` of `source`, in that order, as a source of their own (masks kept). */
export function subsetSource(source: ImageSource, indices: readonly number[]): ImageSource {
  const items = indices.map((i) => source.items[i]!);
  const sub: ImageSource & { loadMask?: (i: number, pre: Preprocessing) => Promise<Float32Array | undefined> } = {
    items,
    load: (i, pre) => source.load(indices[i]!, pre),
  };
  if (isMaskSource(source)) sub.loadMask = (i, pre) => source.loadMask(indices[i]!, pre);
  return sub;
}

/**
 * Several sources as one labelled source: every item of a part gets that part's label and,
 * unless it has its own, its class name; ids are kept (prefixed when two parts share one).
 */
export function labelledUnion(parts: { source: ImageSource; label: 0 | 1; className?: string }[]): ImageSource {
  const items: ImageItem[] = [];
  const where: [number, number][] = [];
  const seen = new Set<string>();
  parts.forEach((p, k) => p.source.items.forEach((it, i) => {
    const id = seen.has(it.id) ? `${k}:${it.id}` : it.id;
    seen.add(id);
    items.push({ id, label: p.label, className: p.className ?? it.className, ...(it.maskPath ? { maskPath: it.maskPath } : {}) });
    where.push([k, i]);
  }));
  return { items, load: (i, pre) => parts[where[i]![0]]!.source.load(where[i]![1], pre) };
}
