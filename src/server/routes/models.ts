/** GET /v1/models (what is loaded, with the manifest summary) and POST /v1/models/{name}/reload. */
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { HttpError } from '../errors.js';
import type { ModelEntry } from '../models.js';
import { ErrorSchema, ModelParams, ModelSummarySchema } from './schemas.js';

function describe(e: ModelEntry) {
  const v = e.current;
  return {
    name: e.name, ready: !!v,
    ...(v ? { version: v.version, loadedAt: v.loadedAt.toISOString(), summary: v.host.info.summary } : {}),
    ...(e.error ? { error: e.error } : {}),
  };
}

const routes: FastifyPluginAsync = async (app) => {
  const { models } = app.vigil;
  app.get('/v1/models', {
    schema: { summary: 'The models this server holds, with their manifest summary', tags: ['models'], response: { 200: Type.Object({ models: Type.Array(ModelSummarySchema) }) } },
  }, async () => ({ models: [...models.entries.values()].map(describe) }));

  app.post<{ Params: { name: string } }>('/v1/models/:name/reload', {
    schema: {
      summary: 'Load the model again from its folder (the one given at start-up); in-flight requests finish on the old version',
      tags: ['models'], params: ModelParams, response: { 200: ModelSummarySchema, 404: ErrorSchema, 409: ErrorSchema },
    },
  }, async (req) => {
    const e = models.get(req.params.name);
    if (!e) throw new HttpError(404, 'unknown_model', `no model '${req.params.name}'; GET /v1/models lists them`);
    try {
      await models.reload(e.name);
    } catch (err) {
      throw new HttpError(409, 'reload_failed', `model '${e.name}' could not be reloaded, the previous version keeps serving: ${(err as Error).message}`);
    }
    return describe(e);
  });
};
export default routes;
