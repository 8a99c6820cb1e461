/** The service on a real socket (127.0.0.1): `vigil serve` draining on SIGTERM, reloading on SIGHUP, and a live event loop. */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startServer } from '../../src/server/index.js';
import { setNumThreads } from '../../src/engine/runtime.js';
import { multipart, normalPng, tinyModel } from './helpers.js';

const BIN = fileURLToPath(new URL('../../src/cli/bin.js', import.meta.url));
let dir: string;
let png: Buffer;

before(async () => {
  dir = await tinyModel();
  png = await normalPng(7);
});

/** Starts `vigil serve` on a free port; resolves with its URL once it is ready. */
function serve(...args: string[]): Promise<{ child: ChildProcess; url: string; stderr: () => string; exit: Promise<number | null> }> {
  const child = spawn(process.execPath, [BIN, 'serve', `tiny=${dir}`, '--port', '0', '--device', 'cpu', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`vigil serve did not get ready: ${err}`)), 60_000);
    child.stderr!.on('data', (d) => {
      err += d;
      const url = /listening on (http:\/\/[\d.]+:\d+)/.exec(err)?.[1];
      if (url && /ready:/.test(err)) { clearTimeout(timer); resolve({ child, url, stderr: () => err, exit }); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`vigil serve exited ${code}: ${err}`)); });
  });
}

const post = (url: string, body: Buffer) => fetch(`${url}/v1/models/tiny/score`, { method: 'POST', body: new Uint8Array(body), headers: { 'content-type': 'image/png' } });

test('SIGTERM drains: the in-flight request is answered, new ones are refused, exit code 0', async () => {
  // batches wait 400 ms to fill, so the request is in flight when the signal comes
  const s = await serve('--max-wait', '400');
  assert.equal((await fetch(`${s.url}/readyz`)).status, 200);
  const inFlight = post(s.url, png);
  await new Promise((r) => setTimeout(r, 100));
  s.child.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 50));
  const refused = await post(s.url, png).then((r) => r.status, (e: Error) => e.message);
  const res = await inFlight;
  assert.equal(res.status, 200);
  assert.equal((await res.json()).results[0].isAnomaly, false);
  assert.ok(refused === 503 || /fetch failed|ECONNREFUSED|other side closed/.test(String(refused)), `after SIGTERM: ${refused}`);
  assert.equal(await s.exit, 0);
  assert.match(s.stderr(), /SIGTERM: draining/);
});

test('SIGHUP reloads every model from its folder while serving', async () => {
  const s = await serve();
  try {
    const v1 = (await (await post(s.url, png)).json()).results[0].modelVersion;
    s.child.kill('SIGHUP');
    let v2 = v1;
    for (let i = 0; i < 100 && v2 === v1; i++) {
      await new Promise((r) => setTimeout(r, 50));
      v2 = (await (await fetch(`${s.url}/v1/models`)).json()).models[0].version;
    }
    assert.equal(v2, v1 + 1);
    assert.equal((await post(s.url, png)).status, 200);
    assert.match(s.stderr(), /reloaded tiny \(version 2\)/);
  } finally {
    s.child.kill('SIGTERM');
    assert.equal(await s.exit, 0);
  }
});

test('timers keep firing while the server scores a stream of concurrent requests', async () => {
  setNumThreads(1); // as vigil serve does by default
  const server = await startServer({ models: [`tiny=${dir}`], port: 0, device: 'cpu', signals: false, say: () => {} });
  try {
    await server.loaded;
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/, 'loopback by default');
    let last = performance.now();
    let worst = 0;
    let ticks = 0;
    const timer = setInterval(() => { const now = performance.now(); worst = Math.max(worst, now - last); last = now; ticks++; }, 5);
    const t0 = performance.now();
    const many = multipart(Array.from({ length: 8 }, (_, i) => ({ name: `${i}.png`, bytes: png })));
    const requests = Array.from({ length: 48 }, (_, i) => (i % 4 === 0
      ? fetch(`${server.url}/v1/models/tiny/score?map=overlay`, { method: 'POST', body: new Uint8Array(many.payload), headers: many.headers })
      : post(server.url, png)));
    const statuses = (await Promise.all(requests)).map((r) => r.status);
    const elapsed = performance.now() - t0;
    clearInterval(timer);
    process.stderr.write(`# ${requests.length} requests in ${elapsed.toFixed(0)} ms; longest timer gap ${worst.toFixed(0)} ms, ${ticks} ticks\n`);
    assert.ok(statuses.every((s) => s === 200), statuses.join(','));
    assert.ok(ticks >= elapsed / 5 / 4, `${ticks} ticks in ${elapsed.toFixed(0)} ms`);
    assert.ok(worst < 250, `the event loop was blocked for ${worst.toFixed(0)} ms`);
  } finally {
    await server.close();
  }
});

test('vigil train --watch serves the live view while it trains, and exits when done', async () => {
  const { writeNormals } = await import('./helpers.js');
  const { tempDir } = await import('../fixtures.js');
  const root = tempDir('vigil-watch-cli-');
  const data = await writeNormals(`${root}/normal`, 24);
  const child = spawn(process.execPath, [BIN, 'train', data, '--size', '16', '--epochs', '4', '--batch-size', '8', '--filters', '8,16', '--latent', '8', '--device', 'cpu', '--quiet', '--watch', '0', '--out', `${root}/m`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  let page = '';
  const seen = new Promise<void>((resolve) => child.stderr!.on('data', async (d) => {
    err += d;
    const url = /watch training at (http:\/\/127\.0\.0\.1:\d+)\//.exec(err)?.[1];
    if (url && !page) {
      page = 'pending';
      page = await fetch(`${url}/`).then((r) => r.text(), (e: Error) => `fetch failed: ${e.message}`);
      resolve();
    }
  }));
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  await seen;
  assert.equal(code, 0, err);
  assert.match(page, /Reconstructions/);
});

test('vigil serve refuses a model folder that is not there, with a clear message', async () => {
  const child = spawn(process.execPath, [BIN, 'serve', '/nonexistent/model-x', '--port', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => { err += d; });
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  assert.equal(code, 1);
  assert.match(err, /model-x/);
});
