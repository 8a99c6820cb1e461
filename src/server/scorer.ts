/**
 * Scoring for the service: one batcher per model, whose batches run on the model version that is
 * current when the batch starts (held by a lease, so a reload never pulls a model from under a
 * running batch). Images arrive as encoded bytes and go to the model's worker thread, which
 * decodes them from memory with the same preprocessing as files and runs the network
 * (model-worker.ts); this thread only waits.
 */
import type { Preprocessing } from '../data/types.js';
import { Batcher, type BatcherOptions } from './batcher.js';
import { HttpError } from './errors.js';
import { isFailure, type HostScored } from './model-host.js';
import type { ServiceMetrics } from './metrics.js';
import type { ModelEntry, ModelRegistry } from './models.js';

export interface ImageJob {
  bytes: Uint8Array;
  /** The client's name for the image (file name or `image`); never a path vigil opens. */
  id: string;
  /** Return the per-pixel error map. */
  map: boolean;
}

/** What the worker scored (model-host.ts), named and stamped with the version that scored it. */
export interface ScoredImage extends HostScored {
  id: string;
  /** The model version that scored it (increases with each reload). */
  modelVersion: number;
  preprocessing: Preprocessing;
}

export class Scorer {
  private readonly batchers = new Map<string, Batcher<ImageJob, ScoredImage>>();

  constructor(private readonly models: ModelRegistry, readonly options: BatcherOptions, private readonly metrics?: ServiceMetrics) {
    for (const e of models.entries.values()) {
      this.batchers.set(e.name, new Batcher((jobs) => this.runBatch(e, jobs), options, (size, seconds) => {
        metrics?.batchSize.observe({ model: e.name }, size);
        metrics?.batchSeconds.observe({ model: e.name }, seconds);
      }));
    }
  }

  depth(name: string): number { return this.batchers.get(name)?.depth ?? 0; }

  /** Scores one request's images (all or nothing); errors are HttpErrors or the batcher's QueueFull/Deadline. */
  async score(entry: ModelEntry, jobs: ImageJob[], deadlineMs: number): Promise<ScoredImage[]> {
    const batcher = this.batchers.get(entry.name)!;
    const p = batcher.submit(jobs, deadlineMs);
    this.metrics?.queueDepth.set({ model: entry.name }, batcher.depth);
    let out: (ScoredImage | Error)[];
    try {
      out = await p;
    } finally {
      this.metrics?.queueDepth.set({ model: entry.name }, batcher.depth);
    }
    const bad = out.find((r): r is Error => r instanceof Error);
    if (bad) throw bad;
    for (const r of out as ScoredImage[]) this.metrics?.images.inc({ model: entry.name, verdict: r.isAnomaly ? 'anomaly' : 'normal' });
    return out as ScoredImage[];
  }

  /** Resolves once no model has queued or running work. */
  async idle(): Promise<void> {
    await Promise.all([...this.batchers.values()].map((b) => b.idle()));
  }

  private async runBatch(entry: ModelEntry, jobs: ImageJob[]): Promise<(ScoredImage | Error)[]> {
    const version = entry.current;
    if (!version) return jobs.map(() => new HttpError(503, 'model_not_ready', `model '${entry.name}' is not loaded yet`, { 'Retry-After': '1' }));
    return version.use(async (host) => {
      const outcomes = await host.score(jobs.map((j) => ({ bytes: j.bytes, map: j.map })));
      return outcomes.map((o, i): ScoredImage | Error => {
        const id = jobs[i]!.id;
        if (isFailure(o)) return new HttpError(o.failed.status, o.failed.code, `${id}: ${o.failed.message}`);
        return { id, ...o, modelVersion: version.version, preprocessing: host.info.preprocessing };
      });
    });
  }
}
