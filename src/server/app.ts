/**
 * The scoring service as a fastify plugin: limits, authentication, metrics, the JSON error
 * handler, the OpenAPI description, and the routes (routes/). `index.ts` is the thin entry that
 * listens, loads the models and handles signals; tests register the same plugin and call
 * `inject`, without a socket.
 *
 * Routes: POST /v1/models/{name}/score, GET /v1/models, POST /v1/models/{name}/reload,
 * GET /healthz, GET /readyz, GET /metrics, GET /openapi.json, GET / (the web page).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import fp from 'fastify-plugin';
import swagger from '@fastify/swagger';
import cors from '@fastify/cors';
import { VERSION } from '../version.js';
import { errorBody, installErrorHandler } from './errors.js';
import { ServiceMetrics } from './metrics.js';
import type { ModelRegistry } from './models.js';
import { Scorer } from './scorer.js';
import scoreRoutes from './routes/score.js';
import modelRoutes from './routes/models.js';
import healthRoutes from './routes/health.js';
import metricsRoutes from './routes/metrics.js';
import webRoutes from './routes/web.js';

export interface ServiceLimits {
  /** Largest request body in bytes (one image, or all parts of a multipart request). Default 16 MiB. */
  bodyLimit: number;
  /** Largest image in pixels (width x height), checked from the header before decoding. Default 25 million. */
  maxPixels: number;
  /** Images per multipart request. Default 64. */
  maxFiles: number;
  /** Images per scored batch. Default 32 (bench/load: 0.92 of the in-process rate, against 0.76 with 8). */
  maxBatch: number;
  /** Longest an image waits for a batch to fill, in ms. Default 5. */
  maxWaitMs: number;
  /** Images waiting at most, per model, before requests get 503. Default 256. */
  maxQueue: number;
  /** Deadline from a request's images being received to their scores, in ms (504 after). Default 10000. */
  timeoutMs: number;
}

export const DEFAULT_LIMITS: ServiceLimits = {
  bodyLimit: 16 * 1024 * 1024,
  maxPixels: 25_000_000,
  maxFiles: 64,
  maxBatch: 32,
  maxWaitMs: 5,
  maxQueue: 256,
  timeoutMs: 10_000,
};

export interface ServiceOptions {
  models: ModelRegistry;
  limits?: Partial<ServiceLimits>;
  /** Bearer token every route but /healthz (and the empty /favicon.ico) requires; none = open (on loopback by default). */
  token?: string;
  /** Origins allowed by CORS; none = no CORS headers. */
  corsOrigins?: string[];
  /** Collect process metrics (memory, event loop); off in tests that build many apps. Default true. */
  processMetrics?: boolean;
}

/** What the routes share, decorated on the instance as `vigil`. */
export interface ServiceContext {
  models: ModelRegistry;
  limits: ServiceLimits;
  scorer: Scorer;
  metrics: ServiceMetrics;
  /** Set when shutdown starts: readiness turns false, new score requests get 503. */
  draining: boolean;
  startedAt: Date;
}

declare module 'fastify' {
  interface FastifyInstance {
    vigil: ServiceContext;
  }
}

function checkLimits(l: ServiceLimits): void {
  for (const [k, v] of Object.entries(l)) {
    if (!Number.isFinite(v) || v < (k === 'maxWaitMs' ? 0 : 1)) throw new RangeError(`limit ${k} must be a ${k === 'maxWaitMs' ? 'non-negative' : 'positive'} number, got ${v}`);
  }
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** The service plugin; needs the instance's bodyLimit to be at least `limits.bodyLimit` (createApp sets it). */
export const vigilService = fp<ServiceOptions>(async (app: FastifyInstance, opts: ServiceOptions) => {
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  checkLimits(limits);
  const metrics = new ServiceMetrics(opts.processMetrics ?? true);
  const ctx: ServiceContext = {
    models: opts.models, limits, metrics, draining: false, startedAt: new Date(),
    scorer: new Scorer(opts.models, { maxBatch: limits.maxBatch, maxWaitMs: limits.maxWaitMs, maxQueue: limits.maxQueue }, metrics),
  };
  app.decorate('vigil', ctx);
  installErrorHandler(app);

  if (opts.corsOrigins?.length) await app.register(cors, { origin: opts.corsOrigins, methods: ['GET', 'POST'] });

  if (opts.token) {
    const want = digest(opts.token);
    app.addHook('onRequest', async (req, reply) => {
      const path = req.url.split('?')[0];
      if (path === '/healthz' || path === '/favicon.ico') return;
      const header = req.headers.authorization;
      let given = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
      // the page cannot send a header when a person opens it: it accepts ?token= and then sends the header itself
      if (given === undefined && path === '/' && req.method === 'GET') given = (req.query as { token?: string }).token;
      if (given !== undefined && timingSafeEqual(digest(given), want)) return;
      reply.code(401).header('WWW-Authenticate', 'Bearer realm="vigil"')
        .send(errorBody('unauthorized', given === undefined ? 'this server needs a bearer token: send Authorization: Bearer <token>' : 'wrong token'));
      return reply;
    });
  }

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ route, method: req.method, status: String(reply.statusCode) });
    metrics.latency.observe({ route }, reply.elapsedTime / 1000);
  });

  await app.register(swagger, {
    openapi: {
      info: { title: 'vigil serve', version: VERSION, description: 'Scores images with vigil anomaly detection models: verdicts, scores and error-map overlays.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      ...(opts.token ? { security: [{ bearer: [] }] } : {}),
    },
    // the score route's body is raw bytes, which a JSON body schema cannot describe without
    // fastify validating it: its request body is described here instead
    transformObject: (doc) => {
      const o = (doc as { openapiObject: { paths?: Record<string, Record<string, Record<string, unknown>>> } }).openapiObject;
      const post = o.paths?.['/v1/models/{name}/score']?.post;
      if (post) {
        const binary = { schema: { type: 'string', format: 'binary' } };
        post.requestBody = {
          required: true,
          description: 'One image as the raw body, or several as multipart/form-data file fields',
          content: {
            'image/png': binary, 'image/jpeg': binary, 'image/webp': binary, 'image/tiff': binary, 'image/bmp': binary, 'application/octet-stream': binary,
            'multipart/form-data': { schema: { type: 'object', properties: { images: { type: 'array', items: { type: 'string', format: 'binary' } } } } },
          },
        };
      }
      return o as never;
    },
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(healthRoutes);
  await app.register(modelRoutes);
  await app.register(scoreRoutes);
  await app.register(metricsRoutes);
  await app.register(webRoutes, { token: !!opts.token });
}, { name: 'vigil-service', fastify: '5.x' });

/** A fastify instance with the service registered (not listening); `fastify` options pass through (logger...). */
export async function createApp(opts: ServiceOptions, fastify: FastifyServerOptions = {}): Promise<FastifyInstance> {
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const app = Fastify({
    bodyLimit: limits.bodyLimit,
    // a client that sends its body too slowly is cut off rather than holding a socket forever
    requestTimeout: 60_000,
    connectionTimeout: 0,
    keepAliveTimeout: 5_000,
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    logger: false,
    ...fastify,
  });
  await app.register(vigilService, opts);
  await app.ready();
  return app;
}
