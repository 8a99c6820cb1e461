/**
 * A dynamic batcher in the manner of Triton's: images from concurrent requests wait in one
 * bounded queue and are scored together, up to `maxBatch` at a time, a batch leaving as soon as
 * it is full or its oldest image has waited `maxWaitMs`. One batch runs at a time (the engine
 * computes one forward at a time anyway), and while it runs the next one fills.
 *
 * Limits answer instead of piling up: a request that would overflow the queue is refused at
 * once (QueueFullError, with a retry estimate), and every request has a deadline after which
 * its promise rejects (DeadlineError) whether its images are still queued (they are dropped) or
 * in a running batch (their results are discarded).
 */

export interface BatcherOptions {
  /** Images per batch. */
  maxBatch: number;
  /** Longest an image waits for others before its batch leaves, in ms. */
  maxWaitMs: number;
  /** Images waiting at most (not counting the running batch). */
  maxQueue: number;
}

/** Scores a batch: one result per item, or an Error for an item that failed alone (e.g. corrupt). */
export type BatchRunner<I, O> = (items: I[]) => Promise<(O | Error)[]>;

export class QueueFullError extends Error {
  constructor(readonly retryAfterSeconds: number, readonly depth: number) {
    super(`the scoring queue is full (${depth} images waiting); retry in ${retryAfterSeconds} s`);
    this.name = 'QueueFullError';
  }
}

export class DeadlineError extends Error {
  constructor(readonly deadlineMs: number) {
    super(`the request was not scored within its deadline of ${deadlineMs} ms`);
    this.name = 'DeadlineError';
  }
}

interface Job<I, O> {
  item: I;
  request: Pending<O>;
  slot: number;
  /** When it was queued (ms). */
  at: number;
}

interface Pending<O> {
  results: (O | Error | undefined)[];
  left: number;
  settled: boolean;
  resolve: (r: (O | Error)[]) => void;
  reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
}

export class Batcher<I, O> {
  private readonly queue: Job<I, O>[] = [];
  private running: Promise<void> | undefined;
  private waitTimer: NodeJS.Timeout | undefined;
  /** Smoothed seconds per batch, for Retry-After. */
  private batchSeconds = 0.05;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly run: BatchRunner<I, O>, readonly options: BatcherOptions, private readonly onBatch?: (size: number, seconds: number) => void) {
    for (const k of ['maxBatch', 'maxQueue'] as const) {
      if (!Number.isInteger(options[k]) || options[k] < 1) throw new RangeError(`${k} must be a positive integer, got ${options[k]}`);
    }
    if (!(options.maxWaitMs >= 0)) throw new RangeError(`maxWaitMs must be >= 0, got ${options.maxWaitMs}`);
  }

  /** Images waiting (not yet in a running batch). */
  get depth(): number { return this.queue.length; }

  /** True while a batch runs or images wait. */
  get busy(): boolean { return this.running !== undefined || this.queue.length > 0; }

  /**
   * Queues `items` (one request) and resolves with one result or Error per item, in order.
   * Rejects with QueueFullError when they do not fit, DeadlineError after `deadlineMs`.
   */
  submit(items: I[], deadlineMs: number): Promise<(O | Error)[]> {
    if (items.length === 0) return Promise.resolve([]);
    if (this.queue.length + items.length > this.options.maxQueue) {
      return Promise.reject(new QueueFullError(this.retryAfter(), this.queue.length));
    }
    return new Promise((resolve, reject) => {
      const request: Pending<O> = { results: new Array(items.length), left: items.length, settled: false, resolve, reject };
      if (Number.isFinite(deadlineMs)) {
        request.timer = setTimeout(() => {
          if (request.settled) return;
          request.settled = true;
          // queued images of this request leave the queue; those in a running batch finish unseen
          for (let i = this.queue.length - 1; i >= 0; i--) if (this.queue[i]!.request === request) this.queue.splice(i, 1);
          reject(new DeadlineError(deadlineMs));
          this.notifyIdle();
        }, deadlineMs);
      }
      const at = Date.now();
      items.forEach((item, slot) => this.queue.push({ item, request, slot, at }));
      this.schedule();
    });
  }

  /** Resolves once nothing is queued or running (for draining on shutdown). */
  idle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((res) => this.idleWaiters.push(res));
  }

  /** Seconds a refused client should wait: the batches ahead of it, at least 1. */
  retryAfter(): number {
    return Math.max(1, Math.ceil((this.queue.length / this.options.maxBatch + 1) * this.batchSeconds));
  }

  private schedule(): void {
    if (this.running || this.queue.length === 0) return;
    const waited = Date.now() - this.queue[0]!.at;
    if (this.queue.length >= this.options.maxBatch || waited >= this.options.maxWaitMs) {
      if (this.waitTimer) { clearTimeout(this.waitTimer); this.waitTimer = undefined; }
      this.running = this.runBatch().finally(() => {
        this.running = undefined;
        this.schedule();
        this.notifyIdle();
      });
    } else if (!this.waitTimer) {
      this.waitTimer = setTimeout(() => { this.waitTimer = undefined; this.schedule(); }, this.options.maxWaitMs - waited);
    }
  }

  private async runBatch(): Promise<void> {
    const jobs = this.queue.splice(0, this.options.maxBatch);
    const t0 = performance.now();
    let out: (O | Error)[];
    try {
      out = await this.run(jobs.map((j) => j.item));
      if (out.length !== jobs.length) throw new Error(`batch runner returned ${out.length} results for ${jobs.length} items`);
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      out = jobs.map(() => err);
    }
    const seconds = (performance.now() - t0) / 1000;
    this.batchSeconds = 0.8 * this.batchSeconds + 0.2 * seconds;
    this.onBatch?.(jobs.length, seconds);
    jobs.forEach((j, k) => {
      const r = j.request;
      if (r.settled) return;
      r.results[j.slot] = out[k];
      if (--r.left === 0) {
        r.settled = true;
        clearTimeout(r.timer);
        r.resolve(r.results as (O | Error)[]);
      }
    });
  }

  private notifyIdle(): void {
    if (this.busy) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }
}
