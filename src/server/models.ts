/**
 * The models a service holds: each loaded from a folder named at start-up (requests name models,
 * never paths), warmed by one forward pass, and swapped on reload without dropping requests: a
 * batch holds a lease on the detector it started with, so in-flight images finish on the old
 * model, and the old one is disposed only when its last lease ends.
 */
import { basename, resolve } from 'node:path';
import sharp from 'sharp';
import { Detector } from '../detector.js';
import { memorySource } from '../data/memory.js';

/** A detector and the number of batches using it. */
export class ModelVersion {
  private leases = 0;
  private retired = false;
  constructor(readonly detector: Detector, readonly loadedAt: Date, readonly version: number) {}

  /** Runs `fn` with this version held; disposed after the last holder if retired meanwhile. */
  async use<T>(fn: (d: Detector) => Promise<T>): Promise<T> {
    this.leases++;
    try {
      return await fn(this.detector);
    } finally {
      if (--this.leases === 0 && this.retired) this.detector.dispose();
    }
  }

  /** No new work goes here; freed now if nothing holds it, else when the last lease ends. */
  retire(): void {
    this.retired = true;
    if (this.leases === 0) this.detector.dispose();
  }
}

export interface ModelEntry {
  name: string;
  /** Resolved model folder. */
  dir: string;
  /** The version serving now; undefined until the first load and warm-up finish. */
  current?: ModelVersion;
  /** Why the last load failed, when it did. */
  error?: string;
  reloading?: Promise<ModelVersion>;
}

/** `name=folder` or `folder` (named after its last path component). */
export function parseModelArg(arg: string): { name: string; dir: string } {
  const eq = arg.indexOf('=');
  const [name, dir] = eq > 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [basename(resolve(arg)), arg];
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) {
    throw new Error(`model name '${name}' (from '${arg}') must be letters, digits, '.', '_' or '-'; name it with name=folder`);
  }
  return { name, dir: resolve(dir) };
}

/** One forward pass on a mid-gray image of the model's size: the first request does not pay for start-up. */
export async function warm(detector: Detector): Promise<void> {
  const { width, height } = detector.preprocessing;
  const png = await sharp({ create: { width, height, channels: 3, background: { r: 128, g: 128, b: 128 } } }).png().toBuffer();
  const r = await detector.score(memorySource([png], ['warm-up']), { maps: 'mse', batchSize: 1 });
  if (r.length !== 1 || !Number.isFinite(r[0]!.score)) throw new Error('warm-up forward pass gave no score');
}

export class ModelRegistry {
  readonly entries = new Map<string, ModelEntry>();
  private versions = 0;

  constructor(models: { name: string; dir: string }[], private readonly device = 'auto') {
    for (const m of models) {
      if (this.entries.has(m.name)) throw new Error(`two models are named '${m.name}': name them with name=folder`);
      this.entries.set(m.name, { name: m.name, dir: m.dir });
    }
  }

  get(name: string): ModelEntry | undefined { return this.entries.get(name); }

  /** Every model loaded and warmed. */
  get ready(): boolean { return [...this.entries.values()].every((e) => e.current !== undefined); }

  /** Loads every model (in turn: loading is native work on the one JS thread). Throws on the first failure. */
  async loadAll(): Promise<void> {
    for (const e of this.entries.values()) await this.reload(e.name);
  }

  /**
   * Loads the model's folder again and swaps it in once warmed; the previous version serves
   * until then and finishes its in-flight batches. On failure the previous version stays.
   */
  reload(name: string): Promise<ModelVersion> {
    const e = this.entries.get(name);
    if (!e) throw new Error(`unknown model '${name}'`);
    if (e.reloading) return e.reloading;
    const p = (async () => {
      // yield first, so a reload request's reply is not held behind the synchronous load
      await new Promise((r) => setImmediate(r));
      const detector = Detector.load(e.dir, { device: this.device });
      try {
        await warm(detector);
      } catch (err) {
        detector.dispose();
        throw err;
      }
      const next = new ModelVersion(detector, new Date(), ++this.versions);
      const prev = e.current;
      e.current = next;
      e.error = undefined;
      prev?.retire();
      return next;
    })();
    e.reloading = p;
    p.catch((err) => { e.error = (err as Error).message; }).finally(() => { e.reloading = undefined; });
    return p;
  }

  /** Frees every model (after the batches using them end). */
  dispose(): void {
    for (const e of this.entries.values()) {
      e.current?.retire();
      e.current = undefined;
    }
  }
}
