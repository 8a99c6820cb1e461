/** Liveness (the process answers) apart from readiness (every model loaded and warmed, not draining). */
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';

const routes: FastifyPluginAsync = async (app) => {
  const ctx = app.vigil;
  app.get('/healthz', {
    schema: { summary: 'Liveness: the process is up', tags: ['health'], response: { 200: Type.Object({ status: Type.Literal('ok'), uptimeSeconds: Type.Number() }) } },
  }, async () => ({ status: 'ok' as const, uptimeSeconds: (Date.now() - ctx.startedAt.getTime()) / 1000 }));

  app.get('/readyz', {
    schema: {
      summary: 'Readiness: every model loaded and warmed by one forward pass, and not shutting down', tags: ['health'],
      response: {
        200: Type.Object({ ready: Type.Boolean(), models: Type.Record(Type.String(), Type.String()) }),
        503: Type.Object({ ready: Type.Boolean(), draining: Type.Boolean(), models: Type.Record(Type.String(), Type.String()) }),
      },
    },
  }, async (_req, reply) => {
    const models: Record<string, string> = {};
    for (const e of ctx.models.entries.values()) models[e.name] = e.current ? 'ready' : e.error ? `failed: ${e.error}` : 'loading';
    const ready = ctx.models.ready && !ctx.draining;
    if (!ready) return reply.code(503).header('Retry-After', '1').send({ ready, draining: ctx.draining, models });
    return { ready, models };
  });
};
export default routes;
