/**
 * POST /v1/models/{name}/score: one image as the raw body (any image/* type or
 * application/octet-stream), or several as multipart/form-data. Each image's header is checked
 * (an image at all, pixel count) before anything decodes it; the images then join the model's
 * batch queue. `?map=overlay` adds the error map over the image (PNG, base64 in the JSON), and
 * `Accept: image/png` with one image answers that PNG itself, the verdict in headers.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import { Type } from 'typebox';
import { DeadlineError, QueueFullError } from '../batcher.js';
import { HttpError } from '../errors.js';
import { inspectImage } from '../images.js';
import { overlayPng } from '../overlay.js';
import type { ImageJob } from '../scorer.js';
import { ErrorSchema, ModelParams, ScoreResponseSchema } from './schemas.js';

const ScoreQuery = Type.Object({
  map: Type.Optional(Type.Literal('overlay', { description: 'Also return the error map blended over the image (PNG)' })),
  id: Type.Optional(Type.String({ maxLength: 200, description: 'Name of a raw-body image in the answer (default "image")' })),
});

interface ScoreRoute {
  Params: { name: string };
  Querystring: { map?: 'overlay'; id?: string };
}

const routes: FastifyPluginAsync = async (app) => {
  const ctx = app.vigil;
  const { limits } = ctx;
  // only images reach this route: JSON or text bodies are a 415, not parsed
  app.removeAllContentTypeParsers();
  const raw = (_req: FastifyRequest, body: Buffer, done: (err: Error | null, body?: Buffer) => void) => done(null, body);
  app.addContentTypeParser(/^image\/[\w.+-]+$/, { parseAs: 'buffer', bodyLimit: limits.bodyLimit }, raw);
  app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer', bodyLimit: limits.bodyLimit }, raw);
  await app.register(multipart, {
    limits: { fileSize: limits.bodyLimit, files: limits.maxFiles, fields: 16, parts: limits.maxFiles + 16, fieldSize: 4096 },
  });

  /** The request's images: the raw body, or every file part of a multipart body (all parts at most bodyLimit). */
  async function readImages(req: FastifyRequest<ScoreRoute>): Promise<{ bytes: Buffer; id: string }[]> {
    if (req.isMultipart()) {
      const out: { bytes: Buffer; id: string }[] = [];
      let total = 0;
      for await (const part of req.parts()) {
        if (part.type !== 'file') continue;
        const bytes = await part.toBuffer();
        total += bytes.length;
        if (total > limits.bodyLimit) throw new HttpError(413, 'body_too_large', `the images add up to more than the limit of ${limits.bodyLimit} bytes (--max-body)`);
        out.push({ bytes, id: part.filename || part.fieldname || `image${out.length}` });
      }
      if (out.length === 0) throw new HttpError(400, 'empty_body', 'the multipart body has no file parts: send each image as a file field');
      return out;
    }
    const body = req.body as Buffer | undefined;
    if (!body || body.length === 0) {
      throw new HttpError(400, 'empty_body', 'no image in the body: send one image as the raw body, or several as multipart/form-data');
    }
    return [{ bytes: body, id: req.query.id ?? 'image' }];
  }

  app.post<ScoreRoute>('/v1/models/:name/score', {
    schema: {
      summary: 'Score images: the raw body (one image) or multipart/form-data (several)',
      tags: ['scoring'],
      params: ModelParams,
      querystring: ScoreQuery,
      consumes: ['image/png', 'image/jpeg', 'image/bmp', 'image/tiff', 'image/webp', 'application/octet-stream', 'multipart/form-data'],
      produces: ['application/json', 'image/png'],
      response: {
        200: ScoreResponseSchema,
        ...Object.fromEntries([400, 401, 404, 406, 413, 415, 422, 503, 504].map((s) => [s, ErrorSchema])),
      },
    },
  }, async (req, reply) => {
    const entry = ctx.models.get(req.params.name);
    if (!entry) throw new HttpError(404, 'unknown_model', `no model '${req.params.name}'; GET /v1/models lists them`);
    if (ctx.draining) throw new HttpError(503, 'shutting_down', 'the server is shutting down', { 'Retry-After': '5', Connection: 'close' });
    if (!entry.current) throw new HttpError(503, 'model_not_ready', `model '${entry.name}' is still loading${entry.error ? ` (last attempt failed: ${entry.error})` : ''}`, { 'Retry-After': '1' });
    const wantsPng = /\bimage\/png\b/.test(req.headers.accept ?? '') && !/application\/json/.test(req.headers.accept ?? '');
    const images = await readImages(req);
    if (wantsPng && images.length !== 1) throw new HttpError(406, 'not_acceptable', `Accept: image/png answers one image; this request has ${images.length}: ask for JSON`);
    for (const im of images) await inspectImage(im.bytes, im.id, limits.maxPixels);
    const overlay = req.query.map === 'overlay' || wantsPng;
    const jobs: ImageJob[] = images.map((im) => ({ bytes: im.bytes, id: im.id, map: overlay }));
    let scored;
    try {
      scored = await ctx.scorer.score(entry, jobs, limits.timeoutMs);
    } catch (err) {
      if (err instanceof QueueFullError) throw new HttpError(503, 'queue_full', err.message, { 'Retry-After': String(err.retryAfterSeconds) });
      if (err instanceof DeadlineError) throw new HttpError(504, 'deadline_exceeded', `${err.message} (--timeout)`);
      throw err;
    }
    const pngs = overlay
      ? await Promise.all(scored.map((s, i) => overlayPng(images[i]!.bytes, s.map!, s.preprocessing, { scale: s.mapScale! })))
      : undefined;
    if (wantsPng) {
      const s = scored[0]!;
      return reply.type('image/png')
        .header('X-Vigil-Score', String(s.score)).header('X-Vigil-Threshold', String(s.threshold))
        .header('X-Vigil-Anomaly', String(s.isAnomaly)).header('X-Vigil-Model-Version', String(s.modelVersion))
        .send(pngs![0]);
    }
    return {
      model: entry.name,
      scoreKind: entry.current?.host.info.scoreKind ?? 'combined',
      ...(overlay ? { mapScale: scored[0]!.mapScale } : {}),
      results: scored.map((s, i) => ({
        id: s.id, score: s.score, isAnomaly: s.isAnomaly, threshold: s.threshold,
        scores: s.scores as Record<string, number>, flags: s.flags as Record<string, boolean>, modelVersion: s.modelVersion,
        ...(pngs ? { overlay: pngs[i]!.toString('base64') } : {}),
      })),
    };
  });
};
export default routes;
