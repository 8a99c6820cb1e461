/** GET /: the web page (drop images, verdicts, overlays, threshold slider, model card). */
import type { FastifyPluginAsync } from 'fastify';
import { inlinePage } from '../assets.js';

const routes: FastifyPluginAsync<{ token: boolean }> = async (app) => {
  const page = inlinePage('index.html', 'style.css', 'app.js');
  app.get('/', { schema: { hide: true } }, async (_req, reply) => {
    reply.type('text/html; charset=utf-8')
      .header('Content-Security-Policy', page.csp)
      .header('X-Content-Type-Options', 'nosniff')
      .header('Referrer-Policy', 'no-referrer')
      .header('Cache-Control', 'no-store');
    return page.html;
  });
  app.get('/favicon.ico', { schema: { hide: true } }, async (_req, reply) => reply.code(204).send());
};
export default routes;
