/**
 * Load test of `vigil serve` on loopback (127.0.0.1 only), bounded in time.
 *
 *   node dist/bench/load.js --model MODEL [--images /work/shared/data/malaria] [--count 256]
 *        [--seconds 60] [--connections 32] [--mixed-seconds 30] [--threads 1] [--max-batch N]
 *
 * 1. The ceiling: the library scoring the same images in this process (Detector.score over an
 *    in-memory source, batches of 256), images per second, for 10 s before and 10 s after phase 1
 *    (averaged: on a shared machine the load of others changes between the two).
 * 2. Phase 1: a `vigil serve MODEL` child process, `--connections` keep-alive connections posting
 *    the images one per request (autocannon) for `--seconds`: throughput, p50/p99 latency,
 *    errors, and the server's resident memory (VmRSS) after warm-up and at the end.
 * 3. Phase 2 (`--mixed-seconds`): the same well-formed load, plus 8 slow clients that dribble
 *    their image at ~1 KB/s, and 2 clients sending 17 MiB bodies (over the 16 MiB limit): the well-formed
 *    requests must still all be answered 200, the oversized ones 413.
 *
 * Targets (issue 17): 0 errors, memory at the end within 10% of the start, throughput at least
 * 80% of the in-process ceiling.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { Detector } from '../src/detector.js';
import { memorySource } from '../src/data/memory.js';
import { getNumThreads, setNumThreads } from '../src/engine/runtime.js';
import { arg } from './args.js';

const model = arg('model');
if (!model) {
  process.stderr.write('usage: node dist/bench/load.js --model MODEL [--images DIR] [--count 256] [--seconds 60] [--connections 32] [--mixed-seconds 30] [--threads 1] [--max-batch N]\n');
  process.exit(2);
}
const imagesDir = arg('images', '/work/shared/data/malaria');
const count = Number(arg('count', '256'));
const seconds = Number(arg('seconds', '60'));
const connections = Number(arg('connections', '32'));
const mixedSeconds = Number(arg('mixed-seconds', '30'));
const threads = arg('threads', '1');
/** Passed to vigil serve when given (default: the server's own). */
const maxBatch = arg('max-batch');
const BIN = fileURLToPath(new URL('../src/cli/bin.js', import.meta.url));

/** Up to `n` image files under `dir`, spread over its subfolders (sorted, every k-th). */
function pickImages(dir: string, n: number): { name: string; bytes: Buffer }[] {
  const all: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d).sort()) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(png|jpe?g|bmp|tiff?|webp)$/i.test(e)) all.push(p);
    }
  };
  walk(dir);
  if (!all.length) throw new Error(`no images under ${dir}`);
  const step = Math.max(1, Math.floor(all.length / n));
  return all.filter((_, i) => i % step === 0).slice(0, n).map((p) => ({ name: p, bytes: readFileSync(p) }));
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function ceiling(images: Buffer[]): Promise<number> {
  const det = Detector.load(model!, { device: 'cpu' });
  try {
    const source = memorySource(images);
    await det.score(source, { batchSize: 256 }); // warm
    let n = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < 10_000) {
      n += (await det.score(source, { batchSize: 256 })).length;
    }
    return n / ((performance.now() - t0) / 1000);
  } finally {
    det.dispose();
  }
}

function startServe(): Promise<{ child: ChildProcess; url: string }> {
  const args = [BIN, 'serve', `bench=${model}`, '--port', '0', '--device', 'cpu', '--threads', threads, ...(maxBatch ? ['--max-batch', maxBatch] : [])];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (d) => {
      err += d;
      const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(err)?.[1];
      if (url && /ready:/.test(err)) resolve({ child, url });
    });
    child.on('exit', (code) => reject(new Error(`vigil serve exited ${code}: ${err}`)));
  });
}

function load(url: string, images: Buffer[], duration: number): Promise<autocannon.Result> {
  let i = 0;
  return new Promise((resolve, reject) => {
    autocannon({
      url: `${url}/v1/models/bench/score`,
      connections,
      duration,
      timeout: 30,
      requests: [{
        method: 'POST',
        headers: { 'content-type': 'image/png' },
        setupRequest: (req) => ({ ...req, body: images[i++ % images.length] }),
      }],
    }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

/** A client that sends one image at about 1 KB/s; resolves with the status it got (or the error). */
function slowClient(url: string, body: Buffer, stopAt: number): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const sock = connect(Number(port), hostname, () => {
      sock.write(`POST /v1/models/bench/score HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: image/png\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`);
      let off = 0;
      const tick = setInterval(() => {
        if (Date.now() > stopAt + 60_000) { clearInterval(tick); sock.destroy(); resolve('gave up'); return; }
        sock.write(body.subarray(off, off + 100));
        off += 100;
        if (off >= body.length) clearInterval(tick);
      }, 100);
      let reply = '';
      sock.on('data', (d) => { reply += d; });
      sock.on('close', () => { clearInterval(tick); resolve(/^HTTP\/1\.1 (\d+)/.exec(reply)?.[1] ?? 'closed'); });
      sock.on('error', (e) => resolve(e.message));
    });
  });
}

/** Posts bodies over the server's 16 MiB limit, one every 200 ms or so, until `stopAt`; counts the answers by status. */
async function oversized(url: string, stopAt: number, counts: Map<string, number>): Promise<void> {
  const big = new Uint8Array(17 * 1024 * 1024).fill(7);
  while (Date.now() < stopAt) {
    const status = await fetch(`${url}/v1/models/bench/score`, { method: 'POST', body: big, headers: { 'content-type': 'image/png' } })
      .then((r) => { void r.arrayBuffer(); return String(r.status); }, (e: Error) => `error: ${(e.cause as Error | undefined)?.message ?? e.message}`);
    counts.set(status, (counts.get(status) ?? 0) + 1);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const row = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
const f = (x: number, d = 1) => x.toFixed(d);

async function main(): Promise<void> {
  // the ceiling computes with as many libtorch threads as the server
  setNumThreads(Number(threads));
  const picked = pickImages(imagesDir, count);
  const images = picked.map((p) => p.bytes);
  process.stderr.write(`${images.length} images from ${imagesDir}, mean ${f(images.reduce((s, b) => s + b.length, 0) / images.length / 1024)} KiB\n`);
  const libBefore = await ceiling(images);
  process.stderr.write(`library ceiling before: ${f(libBefore)} images/s\n`);
  const { child, url } = await startServe();
  try {
    await load(url, images, 3); // warm-up
    const rss0 = rssMiB(child.pid!);
    // sampled through the run: a leak climbs steadily, allocator warm-up levels off
    const samples: number[] = [];
    const sampler = setInterval(() => samples.push(rssMiB(child.pid!)), 10_000);
    const r = await load(url, images, seconds);
    clearInterval(sampler);
    const rss1 = rssMiB(child.pid!);
    // the machine may be shared: the ceiling is measured before and after the load, and averaged
    const libAfter = await ceiling(images);
    process.stderr.write(`library ceiling after: ${f(libAfter)} images/s\n`);
    const lib = (libBefore + libAfter) / 2;
    const errors = r.errors + r.timeouts + r.non2xx;
    const served = r.requests.average;
    console.log(`\nvigil serve load test: ${seconds} s, ${connections} connections, ${images.length} real images (${imagesDir}), model ${model}, max batch ${maxBatch ?? "the server default"}\n`);
    console.log(`library ceiling (in-process Detector.score, batches of 256, ${getNumThreads()} libtorch thread(s) as the server): ${f(libBefore)} images/s before the load, ${f(libAfter)} after\n`);
    console.log(`server RSS every 10 s of the steady phase, MiB: ${[rss0, ...samples, rss1].map((x) => f(x, 0)).join(', ')}\n`);
    console.log(row(['phase', 'requests', 'images/s', 'p50 ms', 'p99 ms', 'errors', 'server RSS start MiB', 'RSS end MiB', 'library ceiling images/s', 'served / ceiling']));
    console.log(row(['---', '---', '---', '---', '---', '---', '---', '---', '---', '---']));
    console.log(row(['steady', r.requests.total, f(served), r.latency.p50, r.latency.p99, errors, f(rss0), `${f(rss1)} (${rss1 >= rss0 ? '+' : ''}${f((100 * (rss1 - rss0)) / rss0)}%)`, f(lib), f(served / lib, 2)]));

    if (mixedSeconds > 0) {
      const stopAt = Date.now() + mixedSeconds * 1000;
      const counts = new Map<string, number>();
      const slow = Array.from({ length: 8 }, (_, k) => slowClient(url, images[k % images.length]!, stopAt));
      const big = [oversized(url, stopAt, counts), oversized(url, stopAt, counts)];
      const m = await load(url, images, mixedSeconds);
      const slowStatus = await Promise.all(slow);
      await Promise.all(big);
      const rss2 = rssMiB(child.pid!);
      const mErrors = m.errors + m.timeouts + m.non2xx;
      console.log(row(['mixed', m.requests.total, f(m.requests.average), m.latency.p50, m.latency.p99, mErrors, f(rss1), f(rss2), f(lib), f(m.requests.average / lib, 2)]));
      console.log(`\nmixed phase: 8 slow clients (100 bytes every 100 ms) answered ${slowStatus.join(', ')}; oversized bodies (17 MiB) answered ${[...counts].map(([k, v]) => `${k} x${v}`).join(', ')}`);
    }
  } finally {
    child.kill('SIGTERM');
    const code = await new Promise((r) => child.on('exit', r));
    console.log(`server exit code after SIGTERM: ${code}`);
  }
}

main().catch((e) => { process.stderr.write(`${(e as Error).stack}\n`); process.exit(1); });
