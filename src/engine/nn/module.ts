/**
 * Modules in the PyTorch style: a module owns named parameters and buffers and has children;
 * `namedParameters()` gives dotted paths (`encoder.0.weight`) used by optimizers and by save/load.
 */
import { Tensor, noGrad } from '../tensor.js';
import * as ops from '../ops.js';

export abstract class Module {
  private readonly _params = new Map<string, Tensor>();
  private readonly _buffers = new Map<string, Tensor>();
  private readonly _children = new Map<string, Module>();
  /** Training mode: batch norm uses batch statistics and updates running ones, dropout is on. */
  training = true;

  abstract forward(x: Tensor): Tensor;

  /** Registers a trainable tensor (marked requiring grad). */
  protected param(name: string, t: Tensor): Tensor {
    t.requireGrad(true);
    this._params.set(name, t);
    return t;
  }
  protected buffer(name: string, t: Tensor): Tensor {
    this._buffers.set(name, t);
    return t;
  }
  protected child<M extends Module>(name: string, m: M): M {
    this._children.set(name, m);
    return m;
  }

  *namedParameters(prefix = ''): Generator<[string, Tensor]> {
    for (const [n, p] of this._params) yield [prefix + n, p];
    for (const [n, c] of this._children) yield* c.namedParameters(`${prefix}${n}.`);
  }
  *namedBuffers(prefix = ''): Generator<[string, Tensor]> {
    for (const [n, b] of this._buffers) yield [prefix + n, b];
    for (const [n, c] of this._children) yield* c.namedBuffers(`${prefix}${n}.`);
  }
  parameters(): Tensor[] {
    return [...this.namedParameters()].map(([, p]) => p);
  }
  children(): Module[] {
    return [...this._children.values()];
  }
  /** Number of trainable scalars. */
  parameterCount(): number {
    return this.parameters().reduce((n, p) => n + p.size, 0);
  }

  train(flag = true): this {
    this.training = flag;
    for (const c of this._children.values()) c.train(flag);
    return this;
  }
  eval(): this {
    return this.train(false);
  }

  /** Parameters and buffers by dotted name: what save/load persist. */
  stateDict(): Map<string, Tensor> {
    return new Map([...this.namedParameters(), ...this.namedBuffers()]);
  }

  /** Copies values into this module's tensors by name; every name and shape must match. */
  loadStateDict(state: Map<string, Tensor>, source = 'state'): void {
    const own = this.stateDict();
    const missing = [...own.keys()].filter((k) => !state.has(k));
    const extra = [...state.keys()].filter((k) => !own.has(k));
    if (missing.length || extra.length) {
      throw new Error(`${source}: parameters do not match the model` +
        (missing.length ? `; missing: ${missing.slice(0, 5).join(', ')}` : '') +
        (extra.length ? `; unexpected: ${extra.slice(0, 5).join(', ')}` : ''));
    }
    noGrad(() => {
      for (const [k, t] of own) {
        const src = state.get(k)!;
        if (src.shape.join(',') !== t.shape.join(',')) {
          throw new Error(`${source}: ${k} has shape [${src.shape}] but the model expects [${t.shape}]`);
        }
        ops.copy_(t, src).dispose();
      }
    });
  }

  /** Moves every parameter and buffer to a device (in place: the module keeps its tensors' names). */
  to(device: string): this {
    const move = (m: Map<string, Tensor>, isParam: boolean) => {
      for (const [k, t] of m) {
        if (t.device === device || (device === 'cuda' && t.device.startsWith('cuda'))) continue;
        const moved = noGrad(() => ops.toDevice(t, device));
        t.dispose();
        if (isParam) moved.requireGrad(true);
        m.set(k, moved);
      }
    };
    move(this._params, true);
    move(this._buffers, false);
    for (const c of this._children.values()) c.to(device);
    return this;
  }

  /** Frees every parameter and buffer. */
  dispose(): void {
    for (const t of this._params.values()) t.dispose();
    for (const t of this._buffers.values()) t.dispose();
    for (const c of this._children.values()) c.dispose();
  }

  /** Reads a parameter or buffer by local name (after `to()` the tensor objects change). */
  protected get(name: string): Tensor {
    const t = this._params.get(name) ?? this._buffers.get(name);
    if (!t) throw new Error(`no parameter or buffer ${name}`);
    return t;
  }
  protected has(name: string): boolean {
    return this._params.has(name) || this._buffers.has(name);
  }
}

/** Runs children in order: `new Sequential([new Conv2d(...), new LeakyReLU(0.2)])`. */
export class Sequential extends Module {
  readonly layers: Module[];
  constructor(layers: Module[]) {
    super();
    this.layers = layers;
    layers.forEach((l, i) => this.child(String(i), l));
  }
  forward(x: Tensor): Tensor {
    let h = x;
    for (const l of this.layers) {
      const next = l.forward(h);
      if (h !== x) h.dispose();
      h = next;
    }
    return h;
  }
}
