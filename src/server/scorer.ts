/**
 * Scoring for the service: one batcher per model, whose batches run on the model version that is
 * current when the batch starts (held by a lease, so a reload never pulls a model from under a
 * running batch). Images arrive as encoded bytes and are decoded from memory (memorySource),
 * with the same preprocessing as files.
 */
import { memorySource } from '../data/memory.js';
import type { Preprocessing } from '../data/types.js';
import type { BaseRecord, ScoreRecord } from '../detector.js';
import { Batcher, type BatcherOptions } from './batcher.js';
import { HttpError } from './errors.js';
import type { ServiceMetrics } from './metrics.js';
import type { ModelEntry, ModelRegistry } from './models.js';

export interface ImageJob {
  bytes: Uint8Array;
  /** The client's name for the image (file name or `image`); never a path vigil opens. */
  id: string;
  /** Return the per-pixel error map. */
  map: boolean;
}

export interface ScoredImage {
  id: string;
  score: number;
  isAnomaly: boolean;
  threshold: number;
  scores: ScoreRecord<number>;
  flags: BaseRecord<boolean>;
  /** The model version that scored it (increases with each reload). */
  modelVersion: number;
  /** Per-pixel error map at the model's input size, when asked for. */
  map?: Float32Array;
  /** What the map's colours are scaled by (see overlay.ts). */
  mapScale?: number;
  preprocessing: Preprocessing;
}

/** Multiplier of the per-image threshold that tops the overlay's colour map. */
export const MAP_SCALE_FACTOR = 4;

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
    const failed = new Map<number, string>();
    // ids are the batch positions: clients may send two images of the same name
    const source = memorySource(jobs.map((j) => j.bytes), jobs.map((_, i) => String(i)), { onError: (i, reason) => failed.set(i, reason) });
    return version.use(async (det) => {
      const mapKind = det.resolveKind('recon') as 'mse' | 'ssim';
      let results: Awaited<ReturnType<typeof det.score>>;
      try {
        results = await det.score(source, { maps: jobs.some((j) => j.map) ? mapKind : false, batchSize: jobs.length });
      } catch (err) {
        // a batch of only unreadable images is an error of the scorer; here each image gets its own 422
        if (failed.size !== jobs.length) throw err;
        results = [];
      }
      const kind = det.scoreKind;
      const threshold = det.thresholds[kind]!.value;
      const mapScale = MAP_SCALE_FACTOR * det.thresholds[mapKind]!.value;
      const byIndex = new Map(results.map((r) => [Number(r.id), r]));
      return jobs.map((j, i): ScoredImage | Error => {
        const r = byIndex.get(i);
        if (!r) return new HttpError(422, 'corrupt_image', `${j.id}: cannot decode the image: ${failed.get(i) ?? 'unreadable'}`);
        return {
          id: j.id, score: r.score, isAnomaly: r.isAnomaly, threshold, scores: r.scores, flags: r.flags, modelVersion: version.version,
          preprocessing: det.preprocessing,
          ...(j.map && r.map ? { map: r.map, mapScale } : {}),
        };
      });
    });
  }
}
