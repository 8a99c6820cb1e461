/**
 * The error colour map: Vega's 'inferno' scheme (dark to bright: brighter is more error, also in grey print) sampled into a lookup table, so the overlays drawn
 * pixel by pixel and the Vega-Lite legends beside them use one and the same colours.
 */
import * as vega from 'vega';

export const ERROR_SCHEME = 'inferno';

let lut: Uint8Array | undefined;

/** 256 RGB triples of the scheme on [0, 1]. */
export function errorLut(): Uint8Array {
  if (lut) return lut;
  const interpolate = vega.scheme(ERROR_SCHEME) as (t: number) => string;
  const table = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const m = /rgb\((\d+),\s*(\d+),\s*(\d+)\)/.exec(interpolate(i / 255));
    if (!m) throw new Error(`colour scheme ${ERROR_SCHEME}: unexpected colour '${interpolate(i / 255)}'`);
    table.set([Number(m[1]), Number(m[2]), Number(m[3])], i * 3);
  }
  lut = table;
  return table;
}

/** The colour of an error `v` on a scale whose top is `top` (values above saturate). */
export function errorColour(v: number, top: number): [number, number, number] {
  const t = errorLut();
  const i = Math.round(Math.min(1, Math.max(0, v / top)) * 255) * 3;
  return [t[i]!, t[i + 1]!, t[i + 2]!];
}
