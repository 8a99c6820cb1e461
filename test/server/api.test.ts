/** Every route of the scoring service and every bad request, through fastify's inject (no socket). */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { Detector } from '../../src/detector.js';
import { memorySource } from '../../src/data/memory.js';
import { ModelRegistry } from '../../src/server/models.js';
import { anomalousPng, multipart, normalPng, pngBomb, testApp, tinyModel } from './helpers.js';

let dir: string;
let app: Awaited<ReturnType<typeof testApp>>['app'];
let normal: Buffer, odd: Buffer;

before(async () => {
  dir = await tinyModel();
  ({ app } = await testApp(dir));
  normal = await normalPng(100);
  odd = await anomalousPng();
});
after(async () => { await app.close(); });

const png = { 'content-type': 'image/png' };
const score = (payload: Buffer | string, headers: Record<string, string> = png, url = '/v1/models/tiny/score') =>
  app.inject({ method: 'POST', url, headers, payload });

test('a raw image body gets its scores and verdict; a normal image passes and an anomalous one is flagged', async () => {
  const a = await score(normal);
  assert.equal(a.statusCode, 200);
  const r = a.json();
  assert.equal(r.model, 'tiny');
  assert.equal(r.scoreKind, 'combined');
  assert.equal(r.results.length, 1);
  const n = r.results[0];
  assert.equal(n.id, 'image');
  assert.equal(n.isAnomaly, false);
  assert.ok(n.score <= n.threshold);
  for (const k of ['mse', 'ssim', 'density', 'combined']) assert.equal(typeof n.scores[k], 'number');
  assert.equal(n.scores.combined, n.score);
  assert.equal(typeof n.flags.mse, 'boolean');
  assert.equal(n.overlay, undefined);
  const b = (await score(odd, { 'content-type': 'application/octet-stream' }, '/v1/models/tiny/score?id=checker.png')).json().results[0];
  assert.equal(b.id, 'checker.png');
  assert.equal(b.isAnomaly, true);
  assert.ok(b.score > b.threshold);
});

test('the service scores an image exactly as the library scores the same bytes', async () => {
  const det = Detector.load(dir, { device: 'cpu' });
  try {
    const [lib] = await det.score(memorySource([odd], ['x']));
    const served = (await score(odd)).json().results[0];
    assert.equal(served.score, lib!.score);
    assert.deepEqual(served.scores, lib!.scores);
  } finally {
    det.dispose();
  }
});

test('multipart scores several images in order, with overlays when asked', async () => {
  const m = multipart([{ name: 'a.png', bytes: normal }, { name: 'b.png', bytes: odd }, { name: 'c.png', bytes: await normalPng(101) }]);
  const res = await score(m.payload, m.headers, '/v1/models/tiny/score?map=overlay');
  assert.equal(res.statusCode, 200);
  const body = res.json();
  assert.deepEqual(body.results.map((r: { id: string }) => r.id), ['a.png', 'b.png', 'c.png']);
  assert.deepEqual(body.results.map((r: { isAnomaly: boolean }) => r.isAnomaly), [false, true, false]);
  assert.ok(body.mapScale > 0);
  for (const r of body.results) {
    const meta = await sharp(Buffer.from(r.overlay, 'base64')).metadata();
    assert.equal(meta.format, 'png');
    assert.equal(meta.width, 128); // 16 px model view, enlarged 8x
  }
  // the checkerboard's overlay is hotter (more red) than the normal image's
  const red = async (b64: string) => (await sharp(Buffer.from(b64, 'base64')).stats()).channels[0]!.mean;
  assert.ok(await red(body.results[1].overlay) > await red(body.results[0].overlay));
});

test('Accept: image/png answers the overlay itself with the verdict in headers; several images are a 406', async () => {
  const res = await score(odd, { ...png, accept: 'image/png' });
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['content-type'], 'image/png');
  assert.equal(res.headers['x-vigil-anomaly'], 'true');
  assert.ok(Number(res.headers['x-vigil-score']) > Number(res.headers['x-vigil-threshold']));
  assert.equal((await sharp(res.rawPayload).metadata()).format, 'png');
  const m = multipart([{ name: 'a.png', bytes: normal }, { name: 'b.png', bytes: odd }]);
  const many = await score(m.payload, { ...m.headers, accept: 'image/png' });
  assert.equal(many.statusCode, 406);
  assert.equal(many.json().error.code, 'not_acceptable');
});

test('bad requests get clear JSON errors: content type, empty body, not an image, unknown model, bad name', async () => {
  const cases: [Awaited<ReturnType<typeof score>>, number, string][] = [
    [await score('{"image": "x"}', { 'content-type': 'application/json' }), 415, 'unsupported_media_type'],
    [await score('hello', { 'content-type': 'text/plain' }), 415, 'unsupported_media_type'],
    [await score(Buffer.alloc(0)), 400, 'empty_body'],
    [await app.inject({ method: 'POST', url: '/v1/models/tiny/score' }), 400, 'empty_body'],
    [await score(Buffer.from('this is not a PNG at all')), 422, 'not_an_image'],
    [await score(normal.subarray(0, 30)), 422, 'not_an_image'],
    [await score(normal, png, '/v1/models/nope/score'), 404, 'unknown_model'],
    [await score(normal, png, '/v1/models/..%2F..%2Fetc/score'), 400, 'bad_request'],
    [await app.inject({ method: 'GET', url: '/v2/nothing' }), 404, 'not_found'],
  ];
  for (const [res, status, code] of cases) {
    assert.equal(res.statusCode, status, `${code}: ${res.body}`);
    assert.match(res.headers['content-type'] as string, /application\/json/);
    assert.equal(res.json().error.code, code);
    assert.ok(res.json().error.message.length > 10);
  }
  const empty = multipart([]);
  assert.equal((await score(empty.payload, empty.headers)).json().error.code, 'empty_body');
});

test('a truncated image whose header reads fine is a 422 naming it, and the server goes on', async () => {
  const big = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 60 } } }).png({ compressionLevel: 0 }).toBuffer();
  const m = multipart([{ name: 'cut.png', bytes: big.subarray(0, Math.floor(big.length / 2)) }]);
  const res = await score(m.payload, m.headers);
  assert.equal(res.statusCode, 422);
  assert.equal(res.json().error.code, 'corrupt_image');
  assert.match(res.json().error.message, /^cut\.png: /);
  assert.equal((await score(normal)).statusCode, 200);
});

test('a decompression bomb (a tiny PNG declaring 50000x50000) is refused from its header, before decoding', async () => {
  const bomb = pngBomb(50_000);
  assert.ok(bomb.length < 200);
  const rss = process.memoryUsage().rss;
  const res = await score(bomb);
  assert.equal(res.statusCode, 422);
  assert.equal(res.json().error.code, 'too_many_pixels');
  assert.match(res.json().error.message, /50000x50000/);
  assert.ok(process.memoryUsage().rss - rss < 200 * 2 ** 20, 'no pixel buffer was allocated');
});

test('bodies over the limit are a 413, raw and multipart', async () => {
  const { app: small } = await testApp(dir, { limits: { bodyLimit: 2000 } });
  try {
    const big = Buffer.concat([normal, Buffer.alloc(3000)]);
    const raw = await small.inject({ method: 'POST', url: '/v1/models/tiny/score', headers: png, payload: big });
    assert.equal(raw.statusCode, 413);
    assert.equal(raw.json().error.code, 'body_too_large');
    const m = multipart([{ name: 'a.png', bytes: big }]);
    const multi = await small.inject({ method: 'POST', url: '/v1/models/tiny/score', headers: m.headers, payload: m.payload });
    assert.equal(multi.statusCode, 413);
    assert.equal(multi.json().error.code, 'body_too_large');
    const parts = multipart([{ name: 'a.png', bytes: normal }, { name: 'b.png', bytes: normal }, { name: 'c.png', bytes: normal }, { name: 'd.png', bytes: normal }]);
    const sum = await small.inject({ method: 'POST', url: '/v1/models/tiny/score', headers: parts.headers, payload: parts.payload });
    assert.equal(sum.statusCode, 413, 'the parts add up to more than the limit');
    assert.equal((await small.inject({ method: 'POST', url: '/v1/models/tiny/score', headers: png, payload: normal })).statusCode, 200);
  } finally {
    await small.close();
  }
});

test('a full queue is a 503 with Retry-After; a passed deadline is a 504', async () => {
  const { app: q } = await testApp(dir, { limits: { maxQueue: 2, maxBatch: 2 } });
  try {
    const m = multipart([{ name: 'a.png', bytes: normal }, { name: 'b.png', bytes: normal }, { name: 'c.png', bytes: normal }]);
    const res = await q.inject({ method: 'POST', url: '/v1/models/tiny/score', headers: m.headers, payload: m.payload });
    assert.equal(res.statusCode, 503);
    assert.equal(res.json().error.code, 'queue_full');
    assert.ok(Number(res.headers['retry-after']) >= 1);
    // concurrent single-image requests beyond the queue: some are refused, the rest answered
    const all = await Promise.all(Array.from({ length: 12 }, () => q.inject({ method: 'POST', url: '/v1/models/tiny/score', headers: png, payload: normal })));
    const codes = all.map((r) => r.statusCode);
    assert.ok(codes.every((c) => c === 200 || c === 503), codes.join(','));
    assert.ok(codes.includes(200));
  } finally {
    await q.close();
  }
  // a batch waits 200 ms to fill; the deadline is 20 ms
  const { app: d } = await testApp(dir, { limits: { timeoutMs: 20, maxWaitMs: 200, maxBatch: 8 } });
  try {
    const res = await d.inject({ method: 'POST', url: '/v1/models/tiny/score', headers: png, payload: normal });
    assert.equal(res.statusCode, 504);
    assert.equal(res.json().error.code, 'deadline_exceeded');
  } finally {
    await d.close();
  }
});

test('a bearer token guards every route but /healthz', async () => {
  const { app: t } = await testApp(dir, { token: 's3cret' });
  try {
    assert.equal((await t.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    for (const [method, url] of [['GET', '/v1/models'], ['GET', '/readyz'], ['GET', '/metrics'], ['GET', '/openapi.json'], ['GET', '/'], ['POST', '/v1/models/tiny/score'], ['POST', '/v1/models/tiny/reload']] as const) {
      const none = await t.inject({ method, url, headers: png, payload: method === 'POST' ? normal : undefined });
      assert.equal(none.statusCode, 401, `${method} ${url}`);
      assert.equal(none.json().error.code, 'unauthorized');
      assert.match(none.headers['www-authenticate'] as string, /^Bearer/);
      const wrong = await t.inject({ method, url, headers: { ...png, authorization: 'Bearer nope' }, payload: method === 'POST' ? normal : undefined });
      assert.equal(wrong.statusCode, 401);
      assert.equal(wrong.json().error.message, 'wrong token');
    }
    const ok = await t.inject({ method: 'POST', url: '/v1/models/tiny/score', headers: { ...png, authorization: 'Bearer s3cret' }, payload: normal });
    assert.equal(ok.statusCode, 200);
    assert.equal((await t.inject({ method: 'GET', url: '/?token=s3cret' })).statusCode, 200, 'the page takes ?token= (a browser cannot send the header)');
    assert.equal((await t.inject({ method: 'GET', url: '/v1/models?token=s3cret' })).statusCode, 401, 'the API does not');
  } finally {
    await t.close();
  }
});

test('no CORS headers unless origins are given', async () => {
  const plain = await app.inject({ method: 'GET', url: '/healthz', headers: { origin: 'http://evil.example' } });
  assert.equal(plain.headers['access-control-allow-origin'], undefined);
  const { app: c } = await testApp(dir, { corsOrigins: ['http://ok.example'] });
  try {
    const res = await c.inject({ method: 'GET', url: '/healthz', headers: { origin: 'http://ok.example' } });
    assert.equal(res.headers['access-control-allow-origin'], 'http://ok.example');
  } finally {
    await c.close();
  }
});

test('GET /v1/models lists the models with their manifest summary', async () => {
  const res = await app.inject({ method: 'GET', url: '/v1/models' });
  assert.equal(res.statusCode, 200);
  const [m] = res.json().models;
  assert.equal(m.name, 'tiny');
  assert.equal(m.ready, true);
  assert.deepEqual(m.summary.preprocessing, { height: 16, width: 16, channels: 1, resize: 'stretch' });
  assert.equal(m.summary.score, 'combined');
  assert.equal(typeof m.summary.thresholds.combined, 'number');
  assert.equal(m.summary.training.epochs, 3);
  assert.equal(m.summary.training.history.length, 3);
  assert.equal(typeof m.summary.training.history[0].trainLoss, 'number');
});

test('/healthz lives from the start; /readyz is 503 until every model is loaded and warmed', async () => {
  const models = new ModelRegistry([{ name: 'tiny', dir }], { device: 'cpu' });
  const { createApp } = await import('../../src/server/app.js');
  const a = await createApp({ models, processMetrics: false });
  try {
    assert.equal((await a.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    const before = await a.inject({ method: 'GET', url: '/readyz' });
    assert.equal(before.statusCode, 503);
    assert.equal(before.json().models.tiny, 'loading');
    const early = await a.inject({ method: 'POST', url: '/v1/models/tiny/score', headers: png, payload: normal });
    assert.equal(early.statusCode, 503);
    assert.equal(early.json().error.code, 'model_not_ready');
    await models.loadAll();
    const ready = await a.inject({ method: 'GET', url: '/readyz' });
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(ready.json(), { ready: true, models: { tiny: 'ready' } });
  } finally {
    await a.close();
    models.dispose();
  }
});

test('a model that fails to load is reported by /readyz', async () => {
  const models = new ModelRegistry([{ name: 'broken', dir: '/nonexistent/model' }], { device: 'cpu' });
  const { createApp } = await import('../../src/server/app.js');
  const a = await createApp({ models, processMetrics: false });
  try {
    await assert.rejects(models.loadAll());
    const r = await a.inject({ method: 'GET', url: '/readyz' });
    assert.equal(r.statusCode, 503);
    assert.match(r.json().models.broken, /^failed: /);
  } finally {
    await a.close();
  }
});

test('reload swaps in a new version and scoring goes on; an unknown model is a 404', async () => {
  const before = (await score(normal)).json().results[0];
  const res = await app.inject({ method: 'POST', url: '/v1/models/tiny/reload' });
  assert.equal(res.statusCode, 200);
  assert.equal(res.json().version, before.modelVersion + 1);
  const afterRes = (await score(normal)).json().results[0];
  assert.equal(afterRes.modelVersion, before.modelVersion + 1);
  assert.equal(afterRes.score, before.score, 'the same folder gives the same scores');
  assert.equal((await app.inject({ method: 'POST', url: '/v1/models/nope/reload' })).statusCode, 404);
});

test('GET /metrics is Prometheus text with requests, latency, queue depth and batch sizes', async () => {
  await score(normal);
  const res = await app.inject({ method: 'GET', url: '/metrics' });
  assert.equal(res.statusCode, 200);
  assert.match(res.headers['content-type'] as string, /^text\/plain/);
  const text = res.body;
  assert.match(text, /vigil_http_requests_total\{route="\/v1\/models\/:name\/score",method="POST",status="200"\} \d+/);
  assert.match(text, /vigil_http_requests_total\{route="\/v1\/models\/:name\/score",method="POST",status="415"\} \d+/);
  assert.match(text, /vigil_http_request_duration_seconds_bucket\{le="0.1",route="\/v1\/models\/:name\/score"\} \d+/);
  assert.match(text, /vigil_queue_depth\{model="tiny"\} 0/);
  assert.match(text, /vigil_batch_size_count\{model="tiny"\} \d+/);
  assert.match(text, /vigil_images_scored_total\{model="tiny",verdict="anomaly"\} \d+/);
});

test('the OpenAPI description lists the routes', async () => {
  const res = await app.inject({ method: 'GET', url: '/openapi.json' });
  assert.equal(res.statusCode, 200);
  const doc = res.json();
  assert.match(doc.openapi, /^3\./);
  for (const p of ['/v1/models/{name}/score', '/v1/models', '/v1/models/{name}/reload', '/healthz', '/readyz', '/metrics']) assert.ok(doc.paths[p], p);
  assert.ok(doc.paths['/v1/models/{name}/score'].post.responses['413']);
  assert.ok(doc.paths['/v1/models/{name}/score'].post.requestBody.content['multipart/form-data']);
});

test('the web page is one self-contained document with a strict Content-Security-Policy', async () => {
  const res = await app.inject({ method: 'GET', url: '/' });
  assert.equal(res.statusCode, 200);
  assert.match(res.headers['content-type'] as string, /^text\/html/);
  assert.match(res.headers['content-security-policy'] as string, /default-src 'none'; script-src 'sha256-/);
  assert.doesNotMatch(res.body, /\{\{(style|script)\}\}/);
  assert.doesNotMatch(res.body, /(src|href)=["']?(https?:)?\/\//i, 'no CDN or other outside URL');
  assert.match(res.body, /data-testid="threshold"/);
});

test('a reload during a running batch: the batch finishes on the old version, which is freed after it', async () => {
  const { app: r, models } = await testApp(dir);
  try {
    const old = models.get('tiny')!.current!;
    const host = old.host;
    const score0 = host.score.bind(host);
    const dispose0 = host.dispose.bind(host);
    let disposedAt = 0;
    let scoredAt = 0;
    host.score = async (jobs) => { await new Promise((res) => setTimeout(res, 300)); const out = await score0(jobs); scoredAt = Date.now(); return out; };
    host.dispose = () => { disposedAt = Date.now(); dispose0(); };
    const inFlight = r.inject({ method: 'POST', url: '/v1/models/tiny/score', headers: png, payload: normal });
    await new Promise((res) => setTimeout(res, 50));
    const reload = await r.inject({ method: 'POST', url: '/v1/models/tiny/reload' });
    assert.equal(reload.statusCode, 200);
    assert.equal(reload.json().version, old.version + 1);
    const res = await inFlight;
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().results[0].modelVersion, old.version, 'finished on the version it started with');
    assert.ok(disposedAt > 0 && disposedAt >= scoredAt, 'the old version was freed after its batch');
    const next = await r.inject({ method: 'POST', url: '/v1/models/tiny/score', headers: png, payload: normal });
    assert.equal(next.json().results[0].modelVersion, old.version + 1);
  } finally {
    await r.close();
    models.dispose();
  }
});
