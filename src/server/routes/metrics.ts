/** GET /metrics: Prometheus text format. */
import type { FastifyPluginAsync } from 'fastify';

const routes: FastifyPluginAsync = async (app) => {
  const { metrics, scorer, models } = app.vigil;
  app.get('/metrics', { schema: { summary: 'Prometheus metrics: requests, latency, queue depth, batch sizes, process', tags: ['health'], produces: ['text/plain'] } }, async (_req, reply) => {
    for (const name of models.entries.keys()) metrics.queueDepth.set({ model: name }, scorer.depth(name));
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
};
export default routes;
