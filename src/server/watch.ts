/**
 * A live view of training (`vigil train ... --watch PORT`): a small page whose loss curves grow
 * every epoch, pushed by server-sent events, with the reconstructions of a fixed set of
 * validation images from the epoch's checkpoint. A page opened late gets every past epoch first.
 *
 * ```ts
 * const watch = await startWatch({ port: 0, title: 'cells', epochs: 30 });
 * await Detector.fit('cells/', { epochs: 30, onEpochEnd: (r) => watch.epoch(r) });
 * watch.done();
 * await watch.close();
 * ```
 *
 * Reconstructions need the model of each epoch, which fit does not hand out: they are computed
 * from the per-epoch checkpoint that training writes just before `onEpochEnd`
 * (checkpointReconstructions).
 */
import Fastify, { type FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { noGrad, ops, tidy } from '../engine/index.js';
import { ConvAutoencoder, defaultArchitecture, type Architecture } from '../models/autoencoder.js';
import type { ImageSource, Preprocessing } from '../data/types.js';
import { readCheckpointTensors, type EpochRecord } from '../train/trainer.js';
import type { AutoSettings } from '../config/auto.js';
import { inlinePage } from './assets.js';

export interface WatchOptions {
  /** 0 picks a free port. Default 0. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Shown as the page's heading (e.g. the data set). */
  title?: string;
  /** Planned epochs, for the progress line. */
  epochs?: number;
}

export interface TrainingWatch {
  url: string;
  /** The fixed images whose reconstructions are shown (PNG), set once. */
  images(originals: Buffer[]): void;
  /** One finished epoch, with the reconstructions of the fixed images (PNG, same order) when there are. */
  epoch(record: EpochRecord, reconstructions?: Buffer[]): void;
  /** Training finished (or failed, with a message). */
  done(message?: string): void;
  close(): Promise<void>;
}

type WatchEvent = { type: 'setup' | 'images' | 'epoch' | 'done'; data: unknown };

const dataUrl = (png: Buffer) => `data:image/png;base64,${png.toString('base64')}`;

export async function startWatch(o: WatchOptions = {}): Promise<TrainingWatch> {
  const history: WatchEvent[] = [{ type: 'setup', data: { title: o.title ?? 'training', epochs: o.epochs ?? null } }];
  const clients = new Map<(e: WatchEvent) => void, () => void>();
  const app: FastifyInstance = Fastify({ logger: false, forceCloseConnections: 'idle' });
  const page = inlinePage('watch.html', 'style.css', 'watch.js');
  app.get('/', async (_req, reply) => {
    reply.type('text/html; charset=utf-8').header('Content-Security-Policy', page.csp).header('Cache-Control', 'no-store');
    return page.html;
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/favicon.ico', async (_req, reply) => reply.code(204).send());
  app.get('/events', (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive' });
    const send = (e: WatchEvent) => res.write(`event: ${e.type}\ndata: ${JSON.stringify(e.data)}\n\n`);
    for (const e of history) send(e);
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
    clients.set(send, () => { clearInterval(ping); res.end(); });
    req.raw.on('close', () => { clearInterval(ping); clients.delete(send); });
  });
  const address = await app.listen({ host: o.host ?? '127.0.0.1', port: o.port ?? 0 });
  const emit = (e: WatchEvent) => {
    history.push(e);
    for (const c of clients.keys()) c(e);
  };
  return {
    url: address,
    images: (originals) => emit({ type: 'images', data: originals.map(dataUrl) }),
    epoch: (record, recons) => emit({ type: 'epoch', data: { ...record, ...(recons ? { reconstructions: recons.map(dataUrl) } : {}) } }),
    done: (message) => emit({ type: 'done', data: { message: message ?? 'training finished' } }),
    close: async () => {
      // end each stream (flushing what was written) rather than cutting the sockets
      for (const end of clients.values()) end();
      clients.clear();
      await app.close();
    },
  };
}

/** CHW floats in [0, 1] as a PNG, enlarged to at least `minSide` px. */
export async function tensorPng(chw: Float32Array, pre: { height: number; width: number; channels: number }, minSide = 96): Promise<Buffer> {
  const { height, width, channels } = pre;
  const plane = height * width;
  const px = Buffer.alloc(plane * channels);
  for (let i = 0; i < plane; i++) for (let c = 0; c < channels; c++) px[i * channels + c] = Math.round(Math.min(1, Math.max(0, chw[c * plane + i]!)) * 255);
  const step = Math.max(1, Math.ceil(minSide / Math.min(width, height)));
  return sharp(px, { raw: { width, height, channels: channels as 1 | 3 } }).resize(width * step, height * step, { kernel: 'nearest' }).png().toBuffer();
}

export interface ReconstructionSpec {
  /** Where training writes its per-epoch checkpoint (checkpoint.safetensors). */
  checkpointDir: string;
  /** The images to reconstruct, and which of them. */
  source: ImageSource;
  indices: number[];
  /** Model input height, width and resize; channels are read from the checkpoint when not given. */
  size: [number, number];
  resize: Preprocessing['resize'];
  channels?: 1 | 3;
  /** The architecture overrides given to fit (filters, latent, kind, dropout). */
  architecture?: Partial<Architecture>;
}

/**
 * Reconstructions of the fixed images by the model in the latest checkpoint, and (first call) the
 * images themselves as the model sees them. Returns undefined when the checkpoint cannot be read
 * as an autoencoder of this architecture (the view then shows the curves only).
 */
export function checkpointReconstructions(spec: ReconstructionSpec): () => Promise<{ originals?: Buffer[]; reconstructions: Buffer[] } | undefined> {
  let inputs: { pre: Preprocessing; data: Float32Array[] } | undefined;
  let failed = false;
  return async () => {
    if (failed) return undefined;
    let tensors;
    try {
      tensors = readCheckpointTensors(spec.checkpointDir);
    } catch {
      failed = true;
      return undefined;
    }
    try {
      const model = new Map([...tensors].filter(([k]) => k.startsWith('model.')).map(([k, t]) => [k.slice(6), t]));
      let originals: Buffer[] | undefined;
      if (!inputs) {
        const firstConv = [...model].find(([k, t]) => k.startsWith('encoder.') && k.endsWith('weight') && t.shape.length === 4);
        const channels = spec.channels ?? (firstConv?.[1].shape[1] as 1 | 3 | undefined);
        if (channels !== 1 && channels !== 3) { failed = true; return undefined; }
        const pre: Preprocessing = { height: spec.size[0], width: spec.size[1], channels, resize: spec.resize };
        const data = await Promise.all(spec.indices.map((i) => spec.source.load(i, pre)));
        inputs = { pre, data };
        originals = await Promise.all(data.map((d) => tensorPng(d, pre)));
      }
      const { pre, data } = inputs;
      const ae = new ConvAutoencoder(defaultArchitecture({ height: pre.height, width: pre.width, channels: pre.channels }, spec.architecture));
      let out: Float32Array;
      try {
        ae.loadStateDict(model, `${spec.checkpointDir} (checkpoint)`);
        ae.eval();
        const flat = new Float32Array(data.length * data[0]!.length);
        data.forEach((d, i) => flat.set(d, i * d.length));
        out = noGrad(() => tidy(() => ae.forward(ops.tensor(flat, [data.length, pre.channels, pre.height, pre.width])).toFloat32()));
      } finally {
        ae.dispose();
      }
      const n = data[0]!.length;
      const reconstructions = await Promise.all(data.map((_, i) => tensorPng(out.subarray(i * n, (i + 1) * n), pre)));
      return { ...(originals ? { originals } : {}), reconstructions };
    } catch {
      failed = true;
      return undefined;
    } finally {
      for (const t of tensors.values()) t.dispose();
    }
  };
}

export interface WatchTrainingOptions extends WatchOptions {
  /** What fit is given, and the settings that decide its split and input size. */
  input: string;
  normalClass?: string | string[];
  valFraction?: number;
  seed?: number;
  size?: number | [number, number];
  channels?: 1 | 3;
  resize?: Preprocessing['resize'];
  architecture?: Partial<Architecture>;
  checkpointDir: string;
  /** Fixed images shown. Default 6. */
  count?: number;
}

/**
 * The watch of a `vigil train` run: the page, and an `onEpochEnd` for fit that sends the epoch
 * with the reconstructions of `count` validation images (chosen as fit chooses its validation
 * split: same seed and fraction), or the curves alone when those cannot be made.
 */
export async function watchTraining(o: WatchTrainingOptions): Promise<{ url: string; onSettings: (s: AutoSettings) => void; onEpochEnd: (r: EpochRecord) => Promise<void>; finish: (message?: string) => Promise<void> }> {
  const { resolveImages } = await import('../detector.js');
  const { trainingSplit } = await import('../detector/fit.js');
  const source = await resolveImages(o.input, { normalClass: o.normalClass, onWarning: () => {} });
  // fit's own split: with few images its validation images are its training images
  const pool = trainingSplit(source, o.input, { normalClass: o.normalClass, valFraction: o.valFraction ?? 0.1, seed: o.seed ?? 0, warn: () => {} }).val;
  const count = Math.min(o.count ?? 6, pool.length);
  const chosen = Array.from({ length: count }, (_, k) => pool[Math.floor((k * pool.length) / count)]!);
  // the input size is the one fit chose (src/config/auto.ts), handed over by onSettings before the first epoch
  let size: [number, number] | undefined = o.size === undefined ? undefined : typeof o.size === 'number' ? [o.size, o.size] : o.size;
  let recon: ReturnType<typeof checkpointReconstructions> | undefined;
  const watch = await startWatch(o);
  return {
    url: watch.url,
    onSettings: (settings) => { size = settings.size; },
    onEpochEnd: async (r) => {
      recon ??= checkpointReconstructions({
        checkpointDir: o.checkpointDir, source, indices: chosen, size: size ?? [64, 64],
        resize: o.resize ?? 'stretch', channels: o.channels ?? source.nativeSize?.channels, architecture: o.architecture,
      });
      const out = await recon();
      if (out?.originals) watch.images(out.originals);
      watch.epoch(r, out?.reconstructions);
    },
    finish: async (message) => {
      watch.done(message);
      await watch.close();
    },
  };
}
