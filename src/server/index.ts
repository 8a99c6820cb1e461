/**
 * The service's entry: listen first (so /healthz answers while models load), load and warm the
 * models (then /readyz turns 200), reload on SIGHUP, drain on SIGTERM/SIGINT: new requests are
 * refused, in-flight ones finish, the models are freed, and the process exits 0.
 *
 * ```ts
 * const server = await startServer({ models: ['bottle-model'], port: 8080 });
 * // POST http://127.0.0.1:8080/v1/models/bottle-model/score
 * await server.close();
 * ```
 */
import type { FastifyInstance } from 'fastify';
import { createApp, type ServiceLimits } from './app.js';
import { ModelRegistry, parseModelArg } from './models.js';

export { createApp, vigilService, DEFAULT_LIMITS, type ServiceLimits, type ServiceOptions } from './app.js';
export { ModelRegistry, parseModelArg } from './models.js';

export interface StartOptions {
  /** Model folders, or `name=folder`. */
  models: string[];
  /** Default 127.0.0.1: loopback only, unless told otherwise. */
  host?: string;
  /** Default 8080; 0 picks a free port. */
  port?: number;
  limits?: Partial<ServiceLimits>;
  token?: string;
  corsOrigins?: string[];
  device?: string;
  /** libtorch CPU threads of each model's worker thread. Default VIGIL_THREADS, else all cores. */
  threads?: number;
  /** Longest a shutdown waits for in-flight requests, in ms. Default 30000. */
  drainTimeoutMs?: number;
  /** Log requests (JSON lines on stdout, fastify's logger). Default off. */
  logger?: boolean;
  /** Install SIGTERM, SIGINT and SIGHUP handlers. Default true. */
  signals?: boolean;
  /** Called with each line the entry has to say (default stderr). */
  say?: (line: string) => void;
}

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  registry: ModelRegistry;
  /** Resolves once every model is loaded and warmed (rejects if one fails). */
  loaded: Promise<void>;
  /** Drains and frees everything; resolves when done. */
  close(): Promise<void>;
  /** Resolves when the server has closed (by close() or a signal), with the exit code to use. */
  closed: Promise<number>;
}

export async function startServer(o: StartOptions): Promise<RunningServer> {
  const say = o.say ?? ((l: string) => process.stderr.write(`${l}\n`));
  const registry = new ModelRegistry(o.models.map(parseModelArg), { device: o.device, threads: o.threads });
  const app = await createApp(
    { models: registry, limits: o.limits, token: o.token, corsOrigins: o.corsOrigins },
    { logger: o.logger ? { level: 'info' } : false },
  );
  const address = await app.listen({ host: o.host ?? '127.0.0.1', port: o.port ?? 8080 });
  const url = address.replace('[::1]', 'localhost');
  say(`vigil serve: listening on ${url} (${o.token ? 'bearer token required' : 'no token'}); loading ${registry.entries.size} model(s)`);

  const loaded = registry.loadAll().then(() => {
    say(`vigil serve: ready: ${[...registry.entries.keys()].join(', ')}; open ${url}/ in a browser`);
  });
  loaded.catch((e) => say(`vigil serve: a model failed to load: ${(e as Error).message}`));

  let resolveClosed!: (code: number) => void;
  const closed = new Promise<number>((r) => { resolveClosed = r; });
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    if (closing) return closing;
    closing = (async () => {
      app.vigil.draining = true;
      let code = 0;
      const timeout = o.drainTimeoutMs ?? 30_000;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((r) => { timer = setTimeout(() => r('timeout'), timeout); timer.unref(); });
      // app.close stops accepting, answers 503 to requests that come in on open connections,
      // and waits for in-flight requests (which wait for their batches)
      const drained = await Promise.race([app.close().then(() => 'ok' as const), timedOut]);
      clearTimeout(timer);
      if (drained === 'timeout') {
        say(`vigil serve: in-flight requests did not finish within ${timeout} ms; closing anyway`);
        app.server.closeAllConnections();
        code = 1;
      }
      await loaded.catch(() => {});
      registry.dispose();
      removeSignals();
      resolveClosed(code);
    })();
    return closing;
  };

  const onTerm = (sig: string) => () => {
    say(`vigil serve: ${sig}: draining`);
    void close();
  };
  const onHup = () => {
    say('vigil serve: SIGHUP: reloading every model');
    for (const name of registry.entries.keys()) {
      registry.reload(name).then(
        (v) => say(`vigil serve: reloaded ${name} (version ${v.version})`),
        (e) => say(`vigil serve: reload of ${name} failed, the previous version keeps serving: ${(e as Error).message}`),
      );
    }
  };
  const handlers: [NodeJS.Signals, () => void][] = [['SIGTERM', onTerm('SIGTERM')], ['SIGINT', onTerm('SIGINT')], ['SIGHUP', onHup]];
  const removeSignals = () => { for (const [s, h] of handlers) process.off(s, h); };
  if (o.signals ?? true) for (const [s, h] of handlers) process.on(s, h);

  return { app, url, registry, loaded, close, closed };
}
