/**
 * The models a service holds: each loaded from a folder named at start-up (requests name models,
 * never paths) into its own worker thread (model-host.ts), warmed by one forward pass, and
 * swapped on reload without dropping requests: a batch holds a lease on the version it started
 * with, so in-flight images finish on the old model, whose worker ends only when its last lease
 * does. A worker that dies is reported and its model reloaded.
 */
import { basename, resolve } from 'node:path';
import { ModelHost } from './model-host.js';

/** A loaded model and the number of batches using it. */
export class ModelVersion {
  private leases = 0;
  private retired = false;
  constructor(readonly host: ModelHost, readonly loadedAt: Date, readonly version: number) {}

  /** Runs `fn` with this version held; disposed after the last holder if retired meanwhile. */
  async use<T>(fn: (h: ModelHost) => Promise<T>): Promise<T> {
    this.leases++;
    try {
      return await fn(this.host);
    } finally {
      if (--this.leases === 0 && this.retired) this.host.dispose();
    }
  }

  /** No new work goes here; freed now if nothing holds it, else when the last lease ends. */
  retire(): void {
    this.retired = true;
    if (this.leases === 0) this.host.dispose();
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

export class ModelRegistry {
  readonly entries = new Map<string, ModelEntry>();
  private versions = 0;

  private closed = false;

  /**
   * `options.device`: where the models compute (default 'auto'); `options.threads`: libtorch CPU
   * threads of each model's worker (default VIGIL_THREADS, else all cores).
   */
  constructor(models: { name: string; dir: string }[], private readonly options: { device?: string; threads?: number } = {}) {
    for (const m of models) {
      if (this.entries.has(m.name)) throw new Error(`two models are named '${m.name}': name them with name=folder`);
      this.entries.set(m.name, { name: m.name, dir: m.dir });
    }
  }

  get(name: string): ModelEntry | undefined { return this.entries.get(name); }

  /** Every model loaded and warmed. */
  get ready(): boolean { return [...this.entries.values()].every((e) => e.current !== undefined); }

  /** Loads every model (each in its own worker, at the same time). Throws on the first failure. */
  async loadAll(): Promise<void> {
    await Promise.all([...this.entries.values()].map((e) => this.reload(e.name)));
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
      const host = await ModelHost.start({ dir: e.dir, device: this.options.device ?? 'auto', threads: this.options.threads });
      if (this.closed) {
        host.dispose();
        throw new Error('the service is shutting down');
      }
      const next = new ModelVersion(host, new Date(), ++this.versions);
      host.onExit = (reason) => this.lost(e, next, reason);
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

  /** A worker died: its version stops serving (503 until the reload), and the model is loaded again. */
  private lost(e: ModelEntry, version: ModelVersion, reason: string): void {
    if (e.current !== version || this.closed) return;
    e.current = undefined;
    e.error = `the model stopped (${reason}); reloading`;
    const retry = () => {
      if (this.closed) return;
      this.reload(e.name).catch(() => setTimeout(retry, 5000).unref());
    };
    retry();
  }

  /** Frees every model (after the batches using them end). */
  dispose(): void {
    this.closed = true;
    for (const e of this.entries.values()) {
      e.current?.retire();
      e.current = undefined;
    }
  }
}
