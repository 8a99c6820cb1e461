import type { Command } from '../main.js';
import { deviceOption } from '../shared.js';

const command: Command = {
  spec: {
    name: 'serve',
    summary: 'serve models over HTTP: a scoring API with micro-batching and limits, and a web page',
    usage: 'vigil serve <model...> [--port 8080] [--host 127.0.0.1] [--token T]',
    positionals: [{ name: 'model', help: 'Model folders written by vigil train, or name=folder (requests name models, never paths)', required: true, variadic: true }],
    options: {
      port: { type: 'number', alias: 'p', help: 'Port (0 picks a free one)', default: 8080, value: 'n' },
      host: { type: 'string', help: 'Address to listen on; 0.0.0.0 exposes the server to the network', default: '127.0.0.1', value: 'addr' },
      token: { type: 'string', help: 'Bearer token required on every route but /healthz (also VIGIL_TOKEN)', value: 'secret' },
      cors: { type: 'list', help: 'Allow these origins by CORS (default: no CORS)', value: 'origins' },
      'max-body': { type: 'number', help: 'Largest request body in MiB (413 above)', default: 16, value: 'MiB' },
      'max-pixels': { type: 'number', help: 'Largest image in megapixels, checked before decoding (422 above)', default: 25, value: 'MP' },
      'max-files': { type: 'number', help: 'Images per multipart request', default: 64, value: 'n' },
      'max-batch': { type: 'number', help: 'Images per scored batch', default: 32, value: 'n' },
      'max-wait': { type: 'number', help: 'Longest an image waits for its batch to fill, ms', default: 5, value: 'ms' },
      'max-queue': { type: 'number', help: 'Images waiting per model before requests get 503', default: 256, value: 'n' },
      timeout: { type: 'number', help: 'Deadline from receiving an image to its score, ms (504 after)', default: 10000, value: 'ms' },
      'drain-timeout': { type: 'number', help: 'On SIGTERM, longest wait for in-flight requests, ms', default: 30000, value: 'ms' },
      log: { type: 'boolean', help: 'Log every request (JSON lines on stdout)' },
      ...deviceOption,
      threads: { type: 'number', help: 'CPU threads for libtorch (default 1: a service runs many small forwards, and one thread leaves the other cores to image decoding instead of contending with it)', value: 'n' },
    },
    examples: [
      'vigil serve cells-model                       # http://127.0.0.1:8080/',
      'vigil serve a=models/a b=models/b --port 9000 --token "$(cat token)"',
      'curl -s --data-binary @cell.png -H "Content-Type: image/png" http://127.0.0.1:8080/v1/models/cells-model/score',
    ],
  },
  async run(a) {
    const { startServer } = await import('../../server/index.js');
    const mib = 1024 * 1024;
    const server = await startServer({
      models: a._,
      host: a.host as string,
      port: a.port as number,
      token: (a.token as string | undefined) || undefined,
      corsOrigins: a.cors as string[] | undefined,
      device: a.device as string,
      // each model's worker thread runs its forwards with this many libtorch threads
      threads: (a.threads as number | undefined) ?? 1,
      drainTimeoutMs: a['drain-timeout'] as number,
      logger: a.log as boolean,
      limits: {
        bodyLimit: Math.round((a['max-body'] as number) * mib),
        maxPixels: Math.round((a['max-pixels'] as number) * 1e6),
        maxFiles: a['max-files'] as number,
        maxBatch: a['max-batch'] as number,
        maxWaitMs: a['max-wait'] as number,
        maxQueue: a['max-queue'] as number,
        timeoutMs: a.timeout as number,
      },
    });
    try {
      await server.loaded;
    } catch (e) {
      await server.close();
      throw e;
    }
    return server.closed;
  },
};
export default command;
