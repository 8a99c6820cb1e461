/** JSON schemas (TypeBox) shared by the routes and the OpenAPI description. */
import { Type } from 'typebox';

export const ErrorSchema = Type.Object({
  error: Type.Object({
    code: Type.String({ description: 'Machine-readable reason, e.g. body_too_large, too_many_pixels, queue_full' }),
    message: Type.String({ description: 'What went wrong and what to do' }),
    requestId: Type.Optional(Type.String({ description: 'For 5xx: the id under which the server logged the details' })),
  }),
});

export const ModelParams = Type.Object({
  name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$', description: 'A model name as listed by GET /v1/models' }),
});

export const ImageResultSchema = Type.Object({
  id: Type.String({ description: 'The multipart file name, or ?id= for a raw body (default "image")' }),
  score: Type.Number({ description: "The model's ranking score; higher is more anomalous" }),
  isAnomaly: Type.Boolean({ description: 'score > threshold' }),
  threshold: Type.Number(),
  scores: Type.Record(Type.String(), Type.Number(), { description: 'Every score: mse, ssim (1 - SSIM), density, combined, transform and segment when the model has them' }),
  flags: Type.Record(Type.String(), Type.Boolean(), { description: 'Which base scores exceed their own thresholds' }),
  modelVersion: Type.Integer({ description: 'Increases with each reload of the model' }),
  overlay: Type.Optional(Type.String({ description: 'With ?map=overlay: PNG of the error map over the image, base64' })),
});

export const ScoreResponseSchema = Type.Object({
  model: Type.String(),
  scoreKind: Type.String(),
  mapScale: Type.Optional(Type.Number({ description: 'With ?map=overlay: the per-pixel error shown at the top of the colour map' })),
  results: Type.Array(ImageResultSchema),
});

export const ModelSummarySchema = Type.Object({
  name: Type.String(),
  ready: Type.Boolean(),
  version: Type.Optional(Type.Integer()),
  loadedAt: Type.Optional(Type.String()),
  error: Type.Optional(Type.String()),
  summary: Type.Optional(Type.Unknown({ description: "The manifest summary: model kind, preprocessing, architecture, scores, thresholds, training (with its loss history)" })),
});
