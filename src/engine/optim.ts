/**
 * Optimizers over a parameter list. Each step is one native call that updates every parameter
 * with libtorch's multi-tensor kernels. The state (moments, step count) is exposed by name so
 * checkpoints can save and restore it.
 */
import { native } from './binding.js';
import { Tensor, noGrad } from './tensor.js';
import * as ops from './ops.js';

export interface Optimizer {
  /** Current learning rate; schedules set it. */
  lr: number;
  step(): void;
  zeroGrad(): void;
  /** State tensors by name, plus scalars, for checkpoints. */
  stateDict(): { tensors: Map<string, Tensor>; scalars: Record<string, number> };
  loadStateDict(s: { tensors: Map<string, Tensor>; scalars: Record<string, number> }): void;
  dispose(): void;
}

function zerosLike(ps: Tensor[]): Tensor[] {
  return noGrad(() => ps.map((p) => ops.zeros(p.shape, { device: p.device, dtype: p.dtype })));
}

function restore(into: Tensor[], prefix: string, from: Map<string, Tensor>): void {
  noGrad(() => into.forEach((t, i) => {
    const src = from.get(`${prefix}.${i}`);
    if (!src) throw new Error(`optimizer state: missing ${prefix}.${i}`);
    ops.copy_(t, src).dispose();
  }));
}

export interface AdamOptions { lr?: number; betas?: [number, number]; eps?: number; weightDecay?: number }

/** Adam (Kingma & Ba). weightDecay adds an L2 term to the gradient, as torch.optim.Adam does. */
export class Adam implements Optimizer {
  lr: number;
  protected readonly betas: [number, number];
  protected readonly eps: number;
  protected readonly weightDecay: number;
  protected readonly decoupled: boolean = false;
  private t = 0;
  private readonly m: Tensor[];
  private readonly v: Tensor[];

  constructor(readonly params: Tensor[], opts: AdamOptions = {}) {
    this.lr = opts.lr ?? 1e-3;
    this.betas = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0;
    if (!(this.lr > 0)) throw new RangeError(`Adam: lr must be positive, got ${this.lr}`);
    if (!(this.betas[0] >= 0 && this.betas[0] < 1 && this.betas[1] >= 0 && this.betas[1] < 1)) throw new RangeError(`Adam: betas must be in [0, 1), got ${this.betas}`);
    if (!(this.weightDecay >= 0)) throw new RangeError(`Adam: weightDecay must be >= 0, got ${this.weightDecay}`);
    this.m = zerosLike(params);
    this.v = zerosLike(params);
  }
  step(): void {
    this.t++;
    native.adamStep(this.params.map((p) => p.handle), this.m.map((t) => t.handle), this.v.map((t) => t.handle), {
      lr: this.lr, beta1: this.betas[0], beta2: this.betas[1], eps: this.eps, weightDecay: this.weightDecay,
      decoupled: this.decoupled, step: this.t,
    });
  }
  zeroGrad(): void {
    native.zeroGrad(this.params.map((p) => p.handle));
  }
  stateDict() {
    const tensors = new Map<string, Tensor>();
    this.m.forEach((t, i) => tensors.set(`exp_avg.${i}`, t));
    this.v.forEach((t, i) => tensors.set(`exp_avg_sq.${i}`, t));
    return { tensors, scalars: { step: this.t, lr: this.lr } };
  }
  loadStateDict(s: { tensors: Map<string, Tensor>; scalars: Record<string, number> }): void {
    restore(this.m, 'exp_avg', s.tensors);
    restore(this.v, 'exp_avg_sq', s.tensors);
    this.t = s.scalars.step ?? 0;
    if (s.scalars.lr) this.lr = s.scalars.lr;
  }
  dispose(): void {
    for (const t of [...this.m, ...this.v]) t.dispose();
  }
}

/** AdamW (Loshchilov & Hutter): weight decay applied to the weights directly. Default decay 0.01. */
export class AdamW extends Adam {
  protected override readonly decoupled = true;
  constructor(params: Tensor[], opts: AdamOptions = {}) {
    super(params, { ...opts, weightDecay: opts.weightDecay ?? 0.01 });
  }
}

export interface SgdOptions { lr?: number; momentum?: number; weightDecay?: number; nesterov?: boolean; dampening?: number }

export class SGD implements Optimizer {
  lr: number;
  private readonly o: Required<Omit<SgdOptions, 'lr'>>;
  private readonly bufs: Tensor[];
  private first = true;
  constructor(readonly params: Tensor[], opts: SgdOptions = {}) {
    this.lr = opts.lr ?? 1e-2;
    this.o = { momentum: opts.momentum ?? 0, weightDecay: opts.weightDecay ?? 0, nesterov: opts.nesterov ?? false, dampening: opts.dampening ?? 0 };
    if (!(this.lr > 0)) throw new RangeError(`SGD: lr must be positive, got ${this.lr}`);
    if (this.o.nesterov && (this.o.momentum <= 0 || this.o.dampening !== 0)) throw new RangeError('SGD: nesterov needs momentum > 0 and no dampening');
    this.bufs = this.o.momentum ? zerosLike(params) : [];
  }
  step(): void {
    native.sgdStep(this.params.map((p) => p.handle), this.bufs.map((t) => t.handle), { lr: this.lr, ...this.o, first: this.first });
    this.first = false;
  }
  zeroGrad(): void {
    native.zeroGrad(this.params.map((p) => p.handle));
  }
  stateDict() {
    const tensors = new Map<string, Tensor>();
    this.bufs.forEach((t, i) => tensors.set(`momentum.${i}`, t));
    return { tensors, scalars: { first: this.first ? 1 : 0, lr: this.lr } };
  }
  loadStateDict(s: { tensors: Map<string, Tensor>; scalars: Record<string, number> }): void {
    if (this.bufs.length) restore(this.bufs, 'momentum', s.tensors);
    this.first = s.scalars.first === 1;
    if (s.scalars.lr) this.lr = s.scalars.lr;
  }
  dispose(): void {
    for (const t of this.bufs) t.dispose();
  }
}
