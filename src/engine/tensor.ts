/**
 * The Tensor class and the scopes that free tensors deterministically.
 *
 * Every native tensor has exactly one owner, a Tensor object. `dispose()` frees it at once.
 * `tidy(fn)` frees every tensor made while fn runs except the ones it returns and the ones
 * passed to `keep()`. Garbage collection frees forgotten tensors too, but only as a backstop:
 * native memory is invisible to V8, so relying on it lets memory grow.
 */
import { native, type Handle } from './binding.js';

export type DType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'uint8' | 'int8' | 'bool';
export type Device = 'cpu' | 'cuda' | `cuda:${number}`;

type Scope = Set<Tensor>;
const scopes: Scope[] = [];

export class Tensor {
  /** @internal */
  handle: Handle;
  private _shape?: number[];
  private _disposed = false;

  /** @internal Wraps a native handle; use the factory functions in ops.ts instead. */
  constructor(handle: Handle) {
    this.handle = handle;
    const scope = scopes[scopes.length - 1];
    if (scope) scope.add(this);
  }

  get shape(): number[] {
    if (!this._shape) this._shape = native.shape(this.handle);
    return this._shape;
  }
  get rank(): number { return this.shape.length; }
  get size(): number { return this.shape.reduce((a, b) => a * b, 1); }
  get dtype(): DType { return native.info(this.handle).dtype as DType; }
  get device(): string { return native.info(this.handle).device; }
  get requiresGrad(): boolean { return native.info(this.handle).requiresGrad; }
  get isDisposed(): boolean { return this._disposed; }

  /** Marks this tensor as a leaf whose gradient autograd should compute. Returns this. */
  requireGrad(flag = true): this {
    native.setRequiresGrad(this.handle, flag);
    return this;
  }

  /** The accumulated gradient, or null. The returned tensor is a new owner of the same memory. */
  get grad(): Tensor | null {
    const g = native.grad(this.handle);
    return g ? new Tensor(g) : null;
  }

  /** Computes gradients of this scalar (or of this tensor against `gradient`) into the leaves. */
  backward(gradient?: Tensor): void {
    native.backward(this.handle, gradient?.handle);
  }

  /** A copy of the data on the CPU; int64 comes back as Float64Array, bool as Uint8Array. */
  toArray(): Float32Array | Float64Array | Int32Array | Uint8Array | Int8Array {
    return native.toArray(this.handle);
  }
  /** The data as float32 (converting if needed). */
  toFloat32(): Float32Array {
    const a = this.toArray();
    return a instanceof Float32Array ? a : Float32Array.from(a as ArrayLike<number>);
  }
  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new Error(`item(): tensor has ${this.size} elements, shape [${this.shape}]`);
    return Number(this.toArray()[0]);
  }

  /** Frees the native memory now. Safe to call twice. */
  dispose(): void {
    if (this._disposed) return;
    this._disposed = true;
    native.dispose(this.handle);
    for (const s of scopes) s.delete(this);
  }

  toString(): string {
    return `Tensor(shape=[${this.shape}], dtype=${this.dtype}, device=${this.device})`;
  }
}

/** Anything tidy can return: tensors are kept, everything else is left alone. */
export type TensorContainer = Tensor | TensorContainer[] | { [k: string]: TensorContainer } | number | string | boolean | null | undefined | void;

function collect(value: unknown, into: Set<Tensor>, depth = 0): void {
  if (depth > 8 || value == null) return;
  if (value instanceof Tensor) { into.add(value); return; }
  if (Array.isArray(value)) { for (const v of value) collect(v, into, depth + 1); return; }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value as object)) collect(v, into, depth + 1);
  }
}

/**
 * Runs fn and disposes every tensor created inside it, except those it returns (anywhere in an
 * array or plain object) and those passed to keep(). The survivors belong to the enclosing scope.
 * Synchronous only: an async fn would let other work's tensors land in this scope.
 */
export function tidy<T>(fn: () => T): T {
  const scope: Scope = new Set();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
    if (result instanceof Promise) throw new Error('tidy() takes a synchronous function');
  } catch (e) {
    scopes.pop();
    for (const t of scope) t.dispose();
    throw e;
  }
  scopes.pop();
  const survivors = new Set<Tensor>();
  collect(result, survivors);
  for (const t of scope) if (!survivors.has(t)) t.dispose();
  const parent = scopes[scopes.length - 1];
  if (parent) for (const t of survivors) if (!t.isDisposed) parent.add(t);
  return result;
}

/** Takes t out of every enclosing scope, so it outlives them; the caller now owns it. */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

/** Disposes all tensors found in a value (a tensor, an array or a plain object of them). */
export function dispose(value: unknown): void {
  const found = new Set<Tensor>();
  collect(value, found);
  for (const t of found) t.dispose();
}

/** Number of native tensors alive right now, for leak checks. */
export function liveTensors(): number {
  return native.liveCount();
}

/** Runs fn with gradient recording off, restoring the previous mode afterwards (also on throw). */
export function noGrad<T>(fn: () => T): T {
  const prev = native.setGradEnabled(false);
  try {
    return fn();
  } finally {
    native.setGradEnabled(prev);
  }
}

export function isGradEnabled(): boolean {
  return native.isGradEnabled();
}
