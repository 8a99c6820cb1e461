/**
 * The convolutional autoencoder: the common design of strided conv + LeakyReLU + batch-norm
 * blocks down to a dense latent code, mirrored by transposed convolutions back to the image
 * ('strided'), or a variant with max pooling down and nearest upsampling + conv up ('pooling').
 *
 * ```ts
 * const ae = new ConvAutoencoder(defaultArchitecture({ height: 28, width: 28, channels: 1 }));
 * const recon = ae.forward(x);          // [N, C, H, W] in [0, 1]
 * const codes = ae.encode(x);           // [N, latent]
 * ```
 */
import { nn, ops, tidy, type Tensor } from '../engine/index.js';
import { Module } from '../engine/nn/module.js';

export interface Architecture {
  /** 'strided': stride-2 convs and transposed convs; 'pooling': max pooling and upsampling. */
  kind: 'strided' | 'pooling';
  height: number;
  width: number;
  channels: number;
  /** Filters of each encoder block; each block halves the spatial size. */
  filters: number[];
  /** Size of the dense bottleneck code. */
  latent: number;
  /** Negative slope of the LeakyReLUs. */
  slope: number;
  batchNorm: boolean;
  /** Dropout before the bottleneck (0 = off). */
  dropout: number;
}

const MIN_SIZE = 8;
const MAX_SIZE = 512;

/** Sensible defaults per input size: blocks until the feature map is about 8 px, latent 32 to 128. */
export function defaultArchitecture(shape: { height: number; width: number; channels: number }, overrides: Partial<Architecture> = {}): Architecture {
  const side = Math.min(shape.height, shape.width);
  const blocks = Math.max(2, Math.ceil(Math.log2(side / 8)));
  const filters = Array.from({ length: blocks }, (_, i) => Math.min(32 * 2 ** i, 256));
  const latent = side <= 32 ? 32 : side <= 64 ? 64 : 128;
  return { kind: 'strided', ...shape, filters, latent, slope: 0.2, batchNorm: true, dropout: 0, ...overrides };
}

export function validateArchitecture(a: Architecture): void {
  const bad = (why: string) => { throw new RangeError(`model architecture: ${why}`); };
  if (a.kind !== 'strided' && a.kind !== 'pooling') bad(`kind must be 'strided' or 'pooling', got '${a.kind}'`);
  for (const [k, v] of [['height', a.height], ['width', a.width]] as const) {
    if (!Number.isInteger(v) || v < MIN_SIZE || v > MAX_SIZE) bad(`${k} must be an integer from ${MIN_SIZE} to ${MAX_SIZE}, got ${v}`);
  }
  if (a.channels !== 1 && a.channels !== 3) bad(`channels must be 1 or 3, got ${a.channels}`);
  if (!a.filters.length || a.filters.some((f) => !Number.isInteger(f) || f < 1)) bad(`filters must be positive integers, got [${a.filters}]`);
  if (!Number.isInteger(a.latent) || a.latent < 1) bad(`latent must be a positive integer, got ${a.latent}`);
  const last = spatialSizes(a.height, a.filters.length).at(-1)!;
  if (last < 2) bad(`${a.filters.length} blocks shrink a ${a.height}x${a.width} image below 2 px; use fewer filters`);
  if (!(a.dropout >= 0 && a.dropout < 1)) bad(`dropout must be in [0, 1), got ${a.dropout}`);
}

/** Feature-map side after each stride-2 block (ceil halving, as conv k3 s2 p1 gives). */
function spatialSizes(side: number, blocks: number): number[] {
  const s = [side];
  for (let i = 0; i < blocks; i++) s.push(Math.ceil(s[i] / 2));
  return s;
}

class Block extends Module {
  constructor(private readonly core: Module, slope: number, channels: number, bn: boolean) {
    super();
    this.child('conv', core);
    this.act = new nn.LeakyReLU(slope);
    if (bn) this.bn = this.child('bn', new nn.BatchNorm(channels));
  }
  private readonly act: Module;
  private readonly bn?: Module;
  forward(x: Tensor): Tensor {
    const a = this.core.forward(x);
    const b = this.act.forward(a);
    a.dispose();
    if (!this.bn) return b;
    const c = this.bn.forward(b);
    b.dispose();
    return c;
  }
}

/** Resizes to a fixed size by nearest upsampling, then a conv block: the pooling decoder's step. */
class UpBlock extends Module {
  constructor(private readonly size: [number, number], inC: number, outC: number, slope: number, bn: boolean) {
    super();
    this.block = this.child('block', new Block(new nn.Conv2d(inC, outC, 3, { padding: 1 }), slope, outC, bn));
  }
  private readonly block: Block;
  forward(x: Tensor): Tensor {
    const up = ops.upsampleNearest2d(x, this.size);
    const out = this.block.forward(up);
    up.dispose();
    return out;
  }
}

export class ConvAutoencoder extends Module {
  readonly encoderConv: nn.Sequential;
  readonly toLatent: nn.Sequential;
  readonly fromLatent: nn.Sequential;
  readonly decoderConv: nn.Sequential;

  constructor(readonly arch: Architecture) {
    super();
    validateArchitecture(arch);
    const { filters, channels, slope, batchNorm: bn } = arch;
    const hs = spatialSizes(arch.height, filters.length);
    const ws = spatialSizes(arch.width, filters.length);
    const [hh, ww] = [hs.at(-1)!, ws.at(-1)!];
    const top = filters.at(-1)!;

    const enc: Module[] = [];
    filters.forEach((f, i) => {
      const inC = i === 0 ? channels : filters[i - 1];
      if (arch.kind === 'strided') {
        enc.push(new Block(new nn.Conv2d(inC, f, 3, { stride: 2, padding: 1 }), slope, f, bn));
      } else {
        enc.push(new Block(new nn.Conv2d(inC, f, 3, { padding: 1 }), slope, f, bn));
        enc.push(new CeilMaxPool());
      }
    });
    this.encoderConv = this.child('encoder', new nn.Sequential(enc));
    const bottleneck: Module[] = [new nn.Flatten()];
    if (arch.dropout > 0) bottleneck.push(new nn.Dropout(arch.dropout));
    bottleneck.push(new nn.Linear(top * hh * ww, arch.latent));
    this.toLatent = this.child('bottleneck', new nn.Sequential(bottleneck));
    this.fromLatent = this.child('expand', new nn.Sequential([new nn.Linear(arch.latent, top * hh * ww), new nn.Reshape([top, hh, ww])]));

    const dec: Module[] = [];
    for (let i = filters.length - 1; i >= 0; i--) {
      const inC = filters[i];
      const outC = i === 0 ? filters[0] : filters[i - 1];
      if (arch.kind === 'strided') {
        // output padding makes each transposed conv land exactly on the encoder's size
        const op = hs[i] - (2 * hs[i + 1] - 1);
        const opw = ws[i] - (2 * ws[i + 1] - 1);
        if (op !== opw) throw new RangeError('model architecture: strided decoder needs equal parity of height and width; use the pooling kind');
        dec.push(new Block(new nn.ConvTranspose2d(inC, outC, 3, { stride: 2, padding: 1, outputPadding: op }), slope, outC, bn));
      } else {
        dec.push(new UpBlock([hs[i], ws[i]], inC, outC, slope, bn));
      }
    }
    dec.push(arch.kind === 'strided'
      ? new nn.ConvTranspose2d(filters[0], channels, 3, { stride: 1, padding: 1 })
      : new nn.Conv2d(filters[0], channels, 3, { padding: 1 }));
    dec.push(new nn.Sigmoid());
    this.decoderConv = this.child('decoder', new nn.Sequential(dec));
  }

  /** Bottleneck codes [N, latent]. */
  encode(x: Tensor): Tensor {
    const h = this.encoderConv.forward(x);
    const z = this.toLatent.forward(h);
    h.dispose();
    return z;
  }
  /**
   * The bottleneck code and, in the same pass, the channel mean and standard deviation of every
   * encoder block's output over the image, concatenated [N, 2 * sum(filters)]: a texture
   * description at each of the encoder's scales, what the latent density of photographs reads
   * (src/scoring/density-input.ts).
   */
  encodeWithStats(x: Tensor): { code: Tensor; stats: Tensor } {
    return tidy(() => {
      const parts: Tensor[] = [];
      let h = x;
      for (const block of this.encoderConv.layers) {
        h = block.forward(h);
        if (block instanceof CeilMaxPool) continue;
        parts.push(ops.mean(h, [2, 3]), ops.std(h, [2, 3], false));
      }
      return { code: this.toLatent.forward(h), stats: ops.cat(parts, 1) };
    });
  }
  /** Images [N, C, H, W] in [0, 1] from codes. */
  decode(z: Tensor): Tensor {
    const h = this.fromLatent.forward(z);
    const out = this.decoderConv.forward(h);
    h.dispose();
    return out;
  }
  forward(x: Tensor): Tensor {
    const z = this.encode(x);
    const out = this.decode(z);
    z.dispose();
    return out;
  }
  /** Reconstruction and code in one pass. */
  forwardWithCode(x: Tensor): { recon: Tensor; code: Tensor } {
    const code = this.encode(x);
    return { recon: this.decode(code), code };
  }
}

/** 2x2 max pooling that keeps odd borders (ceil mode), so sizes match spatialSizes(). */
class CeilMaxPool extends Module {
  forward(x: Tensor): Tensor {
    const [, , h, w] = x.shape;
    if (h % 2 === 0 && w % 2 === 0) return ops.maxPool2d(x, 2, 2);
    const padded = ops.pad(x, [0, w % 2, 0, h % 2], 0);
    const out = ops.maxPool2d(padded, 2, 2);
    padded.dispose();
    return out;
  }
}
