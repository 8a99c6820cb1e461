/**
 * A model held by a worker thread, so that the service's JavaScript thread never runs a forward
 * pass: it parses requests, batches images and writes replies while the worker decodes, runs the
 * network and post-processes (model-worker.ts). One worker per loaded model version; a reload
 * starts a new worker, and the old one ends after its last batch (see ModelVersion).
 *
 * Worker threads rather than an async native call per op: a forward is hundreds of engine calls
 * composed in TypeScript (engine/nn), and the worker runs them all, decoding included, off the
 * main thread without a second implementation of the network in C++.
 *
 * A worker that dies (a native crash, out of memory) rejects the batches it held with an error
 * and reports itself through `onExit`; the registry then reloads the model.
 */
import { Worker } from 'node:worker_threads';
import type { Preprocessing } from '../data/types.js';
import type { BaseRecord, ScoreRecord } from '../detector.js';

/** What the main thread sends with a new worker. */
export interface WorkerInit {
  dir: string;
  device: string;
  /** libtorch CPU threads of the worker; undefined = VIGIL_THREADS or all cores. */
  threads?: number;
}

/** What the main thread needs of a model without touching it: its manifest summary and the scoring facts. */
export interface HostInfo {
  summary: Record<string, unknown>;
  scoreKind: string;
  preprocessing: Preprocessing;
}

/** One image to score: encoded bytes, and whether to return its per-pixel error map. */
export interface HostJob {
  bytes: Uint8Array;
  map: boolean;
}

export interface HostScored {
  score: number;
  isAnomaly: boolean;
  threshold: number;
  scores: ScoreRecord<number>;
  flags: BaseRecord<boolean>;
  /** Per-pixel error map at the model's input size, when asked for. */
  map?: Float32Array;
  /** What the map's colours are scaled by (see overlay.ts). */
  mapScale?: number;
}

/** An image the worker could not score alone (e.g. corrupt): the HTTP status and error it gets. */
export interface HostFailure {
  failed: { status: number; code: string; message: string };
}

export type HostOutcome = HostScored | HostFailure;

export type ToWorker = { type: 'score'; id: number; jobs: HostJob[] } | { type: 'close' };
export type FromWorker =
  | { type: 'ready'; info: HostInfo }
  | { type: 'failed'; message: string }
  | { type: 'scored'; id: number; outcomes: HostOutcome[] }
  | { type: 'error'; id: number; message: string };

export function isFailure(o: HostOutcome): o is HostFailure {
  return 'failed' in o;
}

interface Pending {
  resolve: (o: HostOutcome[]) => void;
  reject: (e: Error) => void;
}

/** How long a closing worker may take to free its model before it is terminated. */
const CLOSE_GRACE_MS = 5000;

export class ModelHost {
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private stopped: string | undefined;
  private closing = false;
  /** Called once if the worker ends without being asked to (with the reason). */
  onExit?: (reason: string) => void;

  private constructor(private readonly worker: Worker, readonly info: HostInfo, readonly dir: string) {
    worker.on('message', (m: FromWorker) => this.receive(m));
    worker.on('error', (e) => this.stop(`its worker failed: ${e.message}`));
    worker.on('exit', (code) => this.stop(`its worker exited with code ${code}`));
    // an idle model does not keep the process alive; pending work does (see score). After the
    // listeners: adding a 'message' listener refs the worker's port again.
    worker.unref();
  }

  /** Starts a worker, which loads the model from `dir` and warms it by one forward pass. */
  static start(init: WorkerInit): Promise<ModelHost> {
    const worker = new Worker(new URL('./model-worker.js', import.meta.url), { workerData: init });
    return new Promise((resolve, reject) => {
      const fail = (message: string) => { void worker.terminate(); reject(new Error(message)); };
      const onMessage = (m: FromWorker) => {
        worker.off('error', onError).off('exit', onEarlyExit).off('message', onMessage);
        if (m.type === 'ready') resolve(new ModelHost(worker, m.info, init.dir));
        else fail(m.type === 'failed' ? m.message : `unexpected message '${m.type}' from the model worker`);
      };
      const onError = (e: Error) => fail(e.message);
      const onEarlyExit = (code: number) => fail(`the model worker exited with code ${code} while loading ${init.dir}`);
      worker.on('message', onMessage).on('error', onError).on('exit', onEarlyExit);
    });
  }

  /** True until the worker ends. */
  get alive(): boolean { return this.stopped === undefined; }

  /** Scores one batch in the worker: one outcome per job, in order. Rejects if the worker dies meanwhile. */
  score(jobs: HostJob[]): Promise<HostOutcome[]> {
    if (this.stopped !== undefined) return Promise.reject(new Error(`the model from ${this.dir} is gone: ${this.stopped}`));
    const id = this.nextId++;
    // copies: the caller keeps its bytes (the overlay is drawn over them), and the copies move to the worker without another copy
    const sent = jobs.map((j) => ({ bytes: new Uint8Array(j.bytes), map: j.map }));
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ type: 'score', id, jobs: sent } satisfies ToWorker, sent.map((j) => j.bytes.buffer as ArrayBuffer));
    });
  }

  /** Frees the model and ends the worker (terminated if it takes longer than a few seconds). */
  dispose(): void {
    if (this.closing || this.stopped !== undefined) return;
    this.closing = true;
    this.worker.postMessage({ type: 'close' } satisfies ToWorker);
    const timer = setTimeout(() => void this.worker.terminate(), CLOSE_GRACE_MS);
    timer.unref();
    this.worker.once('exit', () => clearTimeout(timer));
  }

  private receive(m: FromWorker): void {
    if (m.type !== 'scored' && m.type !== 'error') return;
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (this.pending.size === 0) this.worker.unref();
    if (m.type === 'scored') p.resolve(m.outcomes);
    else p.reject(new Error(m.message));
  }

  private stop(reason: string): void {
    if (this.stopped !== undefined) return;
    this.stopped = reason;
    const err = new Error(`the model from ${this.dir} stopped: ${reason}`);
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    if (!this.closing) this.onExit?.(reason);
  }
}
