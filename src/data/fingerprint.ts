/**
 * A small fingerprint of a set of image ids, stored with a model so that `evaluate` can tell
 * when it is given the model's own training images (whose scores are optimistic: the density
 * model holds their codes). A bottom-k sketch: the k smallest 32-bit hashes of the ids. Every
 * id whose hash is at most the largest kept one is known to be in the set or not, so the share
 * of an evaluation set that was trained on is estimated from a fixed 1 KB, whatever the size.
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';

export interface IdSketch {
  /** Ids in the set. */
  count: number;
  /** Sorted 32-bit hashes, little-endian, base64. */
  hashes: string;
}

const K = 256;

/** Paths are compared absolute; in-memory ids (`mnist:train:12`) as they are. */
function hashOf(id: string): number {
  const key = /^[\w-]+:[\w-]+:\d+$/.test(id) ? id : resolve(id);
  return createHash('sha1').update(key).digest().readUInt32LE(0);
}

export function sketchIds(ids: readonly string[], k = K): IdSketch {
  const all = [...new Set(ids.map(hashOf))].sort((a, b) => a - b).slice(0, k);
  const buf = Buffer.alloc(4 * all.length);
  all.forEach((h, i) => buf.writeUInt32LE(h, 4 * i));
  return { count: ids.length, hashes: buf.toString('base64') };
}

/**
 * Which of `ids` the sketched set holds: the ids found (those the sketch can see) and an estimate
 * of how many of `ids` in all are in the set. Undefined for a damaged sketch.
 */
export function overlap(sketch: IdSketch | undefined, ids: readonly string[]): { found: string[]; estimate: number } | undefined {
  if (!sketch || typeof sketch.hashes !== 'string' || !(sketch.count >= 0)) return undefined;
  const buf = Buffer.from(sketch.hashes, 'base64');
  const kept = new Set<number>();
  for (let i = 0; i + 4 <= buf.length; i += 4) kept.add(buf.readUInt32LE(i));
  if (kept.size === 0) return { found: [], estimate: 0 };
  const exact = kept.size >= sketch.count; // the whole set is in the sketch
  const found = ids.filter((id) => kept.has(hashOf(id)));
  // each id of the set is in the sketch with probability k / count
  const estimate = exact ? found.length : Math.min(ids.length, Math.round((found.length * sketch.count) / kept.size));
  return { found, estimate };
}
