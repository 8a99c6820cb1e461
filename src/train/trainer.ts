/**
 * The training loop, shared by every model: epochs of batches, a learning-rate schedule,
 * validation loss, early stopping, a checkpoint after each epoch and resuming from it, progress.
 * What one step does belongs to a `TrainingTask` (the plain autoencoder's is below; the
 * adversarial autoencoder brings its own), so the loop is written once (PyOD's template method).
 */
import { betweenSteps, type AbortSignalLike } from '../util/abort.js';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tidy, type Tensor, encodeTensors, decodeTensors, manualSeed } from '../engine/index.js';
import { commitFolder, parsePayloadRef, readCommitted, recoverInterrupted } from '../util/fs.js';
import { lockFolder } from '../util/lock.js';
import { consoleProgress, silentProgress, type ProgressReporter, fmtTime } from './progress.js';
import type { BatchPlan } from './batches.js';

export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  valLoss?: number;
  lr: number;
  seconds: number;
  /** Extra per-task numbers (e.g. discriminator loss, rejected samples). */
  extra?: Record<string, number>;
}

export interface TrainingSummary {
  epochs: number;
  history: EpochRecord[];
  bestEpoch: number;
  bestValLoss?: number;
  stoppedEarly: boolean;
  resumedFrom?: number;
  seconds: number;
  skipped: { id: string; reason: string }[];
}

/** What a model contributes to the loop. */
export interface TrainingTask {
  /** Called at the start of each epoch (e.g. to rank and reject samples). */
  beginEpoch?(epoch: number, lr: number): Promise<void> | void;
  /** One optimisation step on a batch; returns the loss value. */
  step(batch: { x: Tensor; indices: number[] }, epoch: number): number;
  /** Validation loss of a batch (no gradient). */
  validate(x: Tensor): number;
  /** Sets the learning rate(s) for this epoch. */
  setLr(lr: number): void;
  /** Extra numbers for the epoch record. */
  epochExtra?(): Record<string, number>;
  /** Everything needed to resume: tensors (model + optimizer state) and JSON. */
  checkpoint(): { tensors: Map<string, Tensor>; state: unknown };
  restore(tensors: Map<string, Tensor>, state: unknown): void;
  /** Snapshot of the best weights so far (kept in memory when early stopping) and restoring it. */
  snapshot(): Map<string, Tensor>;
  loadSnapshot(s: Map<string, Tensor>): void;
}

export interface LoopOptions {
  epochs: number;
  schedule: (epoch: number) => number;
  train: BatchPlan;
  val?: BatchPlan;
  /** Stop after this many epochs without validation improvement (0 = never). */
  patience?: number;
  /** Folder for the per-epoch checkpoint (written atomically). */
  checkpointDir?: string;
  /** Continue from the checkpoint in checkpointDir when there is one. */
  resume?: boolean;
  /**
   * What the run's result depends on (loss, epochs, architecture, preprocessing, learning rate,
   * batch size...): stored with the checkpoint, and a resume with other values is refused.
   */
  settings?: Record<string, unknown>;
  seed: number;
  progress?: boolean | ProgressReporter;
  onEpochEnd?: (r: EpochRecord) => void | Promise<void>;
  /** Checked between steps: an aborted signal stops training with its reason (an AbortError). */
  signal?: AbortSignalLike;
}

const CHECKPOINT_FORMAT = 'vigil-checkpoint/1';

/**
 * Runs the loop. With a checkpoint folder, holds its lock for the whole run, so a second run
 * with the same checkpoint folder refuses at the start instead of overwriting this one's.
 */
export async function runTraining(task: TrainingTask, o: LoopOptions): Promise<TrainingSummary> {
  const lock = o.checkpointDir ? lockFolder(o.checkpointDir, { purpose: 'training' }) : undefined;
  try {
    return await trainingLoop(task, o);
  } finally {
    lock?.release();
  }
}

async function trainingLoop(task: TrainingTask, o: LoopOptions): Promise<TrainingSummary> {
  const progress = o.progress === true ? consoleProgress() : o.progress ? o.progress : silentProgress;
  const history: EpochRecord[] = [];
  let start = 0;
  let best = { loss: Infinity, epoch: -1 };
  let snapshot: Map<string, Tensor> | undefined;
  let resumedFrom: number | undefined;
  const t0 = Date.now();

  if (o.resume && o.checkpointDir && hasCheckpoint(o.checkpointDir)) {
    const ck = loadCheckpoint(o.checkpointDir, o.settings);
    task.restore(ck.tensors, ck.state.task);
    for (const t of ck.tensors.values()) t.dispose();
    history.push(...ck.state.history);
    start = ck.state.epoch + 1;
    best = ck.state.best;
    resumedFrom = ck.state.epoch;
    if (start < o.epochs) progress.end(`resuming after epoch ${start} of ${o.epochs} from ${o.checkpointDir}`);
  } else if (o.resume && o.checkpointDir) {
    progress.end(`no checkpoint in ${o.checkpointDir}; starting from scratch`);
  }
  manualSeed(o.seed + start);
  o.signal?.throwIfAborted();

  let stoppedEarly = false;
  try {
    for (let epoch = start; epoch < o.epochs; epoch++) {
      const e0 = Date.now();
      const lr = o.schedule(epoch);
      task.setLr(lr);
      await task.beginEpoch?.(epoch, lr);
      progress.start(epoch, o.epochs, o.train.batchCount);
      let lossSum = 0, count = 0, done = 0;
      for await (const b of o.train.pass(epoch, true)) {
        try {
          const loss = task.step(b, epoch);
          if (!Number.isFinite(loss)) throw new Error(`training diverged: loss is ${loss} at epoch ${epoch + 1}; lower the learning rate (--lr)`);
          lossSum += loss * b.indices.length;
          count += b.indices.length;
        } finally {
          b.x.dispose();
        }
        progress.batch(++done, lossSum / Math.max(count, 1));
        await betweenSteps(o.signal);
      }
      const record: EpochRecord = { epoch: epoch + 1, trainLoss: lossSum / Math.max(count, 1), lr, seconds: 0 };
      if (o.val) record.valLoss = await validationLoss(task, o.val, o.signal);
      // the last step's update can break the weights after its own loss was fine: the validation loss shows it
      if (record.valLoss !== undefined && !Number.isFinite(record.valLoss)) throw new Error(`training diverged: validation loss is ${record.valLoss} at epoch ${epoch + 1}; lower the learning rate (--lr)`);
      const extra = task.epochExtra?.();
      if (extra) record.extra = extra;
      record.seconds = (Date.now() - e0) / 1000;
      history.push(record);

      const monitored = record.valLoss ?? record.trainLoss;
      if (monitored < best.loss) {
        best = { loss: monitored, epoch: epoch + 1 };
        if (o.patience) {
          if (snapshot) for (const t of snapshot.values()) t.dispose();
          snapshot = task.snapshot();
        }
      }
      progress.end(`epoch ${epoch + 1}/${o.epochs} loss ${record.trainLoss.toFixed(5)}` +
        (record.valLoss !== undefined ? ` val ${record.valLoss.toFixed(5)}` : '') + ` lr ${lr.toExponential(2)} ${fmtTime(record.seconds)}`);
      if (o.checkpointDir) saveCheckpoint(o.checkpointDir, task, { epoch, history, best, settings: o.settings });
      await o.onEpochEnd?.(record);
      if (o.patience && epoch + 1 - best.epoch >= o.patience) {
        stoppedEarly = true;
        progress.end(`early stop: no validation improvement for ${o.patience} epochs; keeping epoch ${best.epoch}`);
        break;
      }
    }
  } catch (e) {
    if (snapshot) for (const t of snapshot.values()) t.dispose();
    throw e;
  }
  if (snapshot) {
    task.loadSnapshot(snapshot);
    for (const t of snapshot.values()) t.dispose();
  }
  return {
    epochs: history.length, history, bestEpoch: best.epoch, bestValLoss: Number.isFinite(best.loss) ? best.loss : undefined,
    stoppedEarly, resumedFrom, seconds: (Date.now() - t0) / 1000, skipped: skippedOnce(o.train, o.val),
  };
}

async function validationLoss(task: TrainingTask, val: BatchPlan, signal?: AbortSignalLike): Promise<number> {
  let sum = 0, n = 0;
  for await (const b of val.pass(0, false)) {
    try {
      sum += task.validate(b.x) * b.indices.length;
      n += b.indices.length;
    } finally {
      b.x.dispose();
    }
    await betweenSteps(signal);
  }
  return sum / Math.max(n, 1);
}

/** Every item either plan left out, once, with the first reason given for it. */
function skippedOnce(...plans: (BatchPlan | undefined)[]): { id: string; reason: string }[] {
  const seen = new Map<string, string>();
  for (const p of plans) for (const s of p?.skipped() ?? []) if (!seen.has(s.id)) seen.set(s.id, s.reason);
  return [...seen].map(([id, reason]) => ({ id, reason }));
}

interface CheckpointState {
  format: string; epoch: number; history: EpochRecord[]; best: { loss: number; epoch: number }; task: unknown;
  settings?: Record<string, unknown>;
  weights?: unknown;
}

const CHECKPOINT_JSON = 'checkpoint.json';

/** True when dir holds a checkpoint (after putting back one that an interrupted swap of vigil 0.1 left aside). */
function hasCheckpoint(dir: string): boolean {
  try {
    recoverInterrupted(dir);
  } catch { /* report what is there */ }
  return existsSync(join(dir, CHECKPOINT_JSON));
}

/**
 * Written as one commit (util/fs.ts): `checkpoint.<sha>.safetensors`, then `checkpoint.json`
 * naming it by one rename, so a kill at any moment leaves the previous epoch's checkpoint or this one.
 */
function saveCheckpoint(dir: string, task: TrainingTask, s: { epoch: number; history: EpochRecord[]; best: { loss: number; epoch: number }; settings?: Record<string, unknown> }): void {
  const { tensors, state } = task.checkpoint();
  const json: CheckpointState = { format: CHECKPOINT_FORMAT, ...s, best: { loss: Number.isFinite(s.best.loss) ? s.best.loss : 1e308, epoch: s.best.epoch }, task: state };
  commitFolder(dir, {
    payload: encodeTensors(tensors), stem: 'checkpoint', ext: '.safetensors', pointer: CHECKPOINT_JSON, hook: 'checkpoint', obsolete: ['checkpoint.safetensors'],
    render: (ref) => JSON.stringify({ ...json, weights: ref }),
  });
}

function loadCheckpoint(dir: string, settings?: Record<string, unknown>): { tensors: Map<string, Tensor>; state: CheckpointState } {
  const jsonPath = join(dir, CHECKPOINT_JSON);
  let state: CheckpointState | undefined;
  const { payload, path } = readCommitted(dir, {
    pointer: CHECKPOINT_JSON, legacyFile: 'checkpoint.safetensors', what: 'checkpoint',
    refOf: (text) => {
      try {
        state = JSON.parse(text);
      } catch (e) {
        throw new Error(`${jsonPath}: damaged checkpoint (${(e as Error).message}); delete ${dir} to start over`);
      }
      if (state!.format !== CHECKPOINT_FORMAT) throw new Error(`${jsonPath}: not a vigil checkpoint (format ${state!.format})`);
      if (state!.weights === undefined) return undefined; // written by vigil 0.1
      const ref = parsePayloadRef(state!.weights, '.safetensors');
      if (typeof ref === 'string') throw new Error(`${jsonPath}: damaged checkpoint: 'weights' ${ref}; delete ${dir} to start over`);
      return ref;
    },
  });
  checkSettings(dir, state!, settings);
  const { tensors } = decodeTensors(payload, path);
  return { tensors, state: state! };
}

/**
 * Refuses to resume a checkpoint made with other settings, naming the first that differs. More
 * epochs than the checkpoint's run is allowed (training on from where it stopped); fewer than
 * it has already done is not.
 */
function checkSettings(dir: string, state: CheckpointState, now: Record<string, unknown> | undefined): void {
  const saved = state.settings;
  if (!saved || !now) return; // a checkpoint of vigil 0.1, or a caller that does not say
  const done = state.epoch + 1;
  if (typeof now.epochs === 'number' && now.epochs < done) {
    throw new Error(`cannot resume from ${dir}: its checkpoint has ${done} epochs done, this run asks for ${now.epochs} epochs in all; ` +
      `ask for at least ${done}, or delete ${dir} (or drop --resume) to start over`);
  }
  for (const k of new Set([...Object.keys(saved), ...Object.keys(now)])) {
    if (k === 'epochs') continue;
    const a = JSON.stringify(saved[k]) ?? 'unset';
    const b = JSON.stringify(now[k]) ?? 'unset';
    if (a !== b) {
      throw new Error(`cannot resume from ${dir}: its checkpoint was trained with ${k} ${a}, this run asks for ${b}; ` +
        `resume with the same settings, or delete ${dir} (or drop --resume) to start over`);
    }
  }
}

/** The tensors of the last checkpoint committed in `dir` (for a live view of training; the caller disposes them). */
export function readCheckpointTensors(dir: string): Map<string, Tensor> {
  return loadCheckpoint(dir).tensors;
}

export function removeCheckpoint(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export { tidy };
