/** The micro-batcher and model leases on their own, with fake work (fast and exact). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Batcher, DeadlineError, QueueFullError } from '../../src/server/batcher.js';
import { ModelVersion } from '../../src/server/models.js';
import type { ModelHost } from '../../src/server/model-host.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('concurrent requests are batched up to maxBatch; a lone one leaves after maxWaitMs', async () => {
  const sizes: number[] = [];
  const b = new Batcher<number, number>(async (xs) => { sizes.push(xs.length); await sleep(5); return xs.map((x) => x * 2); }, { maxBatch: 4, maxWaitMs: 20, maxQueue: 100 });
  const out = await Promise.all(Array.from({ length: 10 }, (_, i) => b.submit([i], 1000)));
  assert.deepEqual(out.map((o) => o[0]), Array.from({ length: 10 }, (_, i) => i * 2));
  assert.deepEqual(sizes, [4, 4, 2]);
  const t0 = Date.now();
  await b.submit([1], 1000);
  const waited = Date.now() - t0;
  assert.ok(waited >= 18 && waited < 500, `a lone image waited ${waited} ms`);
  assert.deepEqual(sizes.at(-1), 1);
});

test('one request with several images keeps its order, across batches', async () => {
  const b = new Batcher<string, string>(async (xs) => xs.map((x) => x.toUpperCase()), { maxBatch: 2, maxWaitMs: 0, maxQueue: 10 });
  assert.deepEqual(await b.submit(['a', 'b', 'c', 'd', 'e'], 1000), ['A', 'B', 'C', 'D', 'E']);
});

test('per-item errors come back in place; a failing batch fails its items only', async () => {
  let calls = 0;
  const b = new Batcher<number, number>(async (xs) => {
    if (calls++ === 0) throw new Error('engine fault');
    return xs.map((x) => (x < 0 ? new Error(`bad ${x}`) : x));
  }, { maxBatch: 8, maxWaitMs: 0, maxQueue: 10 });
  const first = await b.submit([1], 1000);
  assert.match((first[0] as Error).message, /engine fault/);
  const second = await b.submit([1, -2, 3], 1000);
  assert.equal(second[0], 1);
  assert.match((second[1] as Error).message, /bad -2/);
  assert.equal(second[2], 3);
});

test('a request that would overflow the queue is refused at once with a retry estimate', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const b = new Batcher<number, number>(async (xs) => { await gate; return xs; }, { maxBatch: 1, maxWaitMs: 0, maxQueue: 2 });
  const running = b.submit([0], 5000); // taken into the running batch
  const queued = b.submit([1, 2], 5000); // fills the queue
  await assert.rejects(b.submit([3], 5000), (e: unknown) => e instanceof QueueFullError && e.retryAfterSeconds >= 1 && e.depth === 2);
  assert.equal(b.depth, 2);
  release();
  assert.deepEqual(await running, [0]);
  assert.deepEqual(await queued, [1, 2]);
  await b.idle();
  assert.equal(b.busy, false);
});

test('a deadline rejects a queued request (its images leave the queue) and a running one (its result is dropped)', async () => {
  const seen: number[][] = [];
  const b = new Batcher<number, number>(async (xs) => { seen.push(xs); await sleep(60); return xs; }, { maxBatch: 1, maxWaitMs: 0, maxQueue: 10 });
  const running = b.submit([1], 20);
  const queued = b.submit([2], 20);
  await assert.rejects(running, DeadlineError);
  await assert.rejects(queued, DeadlineError);
  await b.idle();
  assert.deepEqual(seen, [[1]], 'the expired queued image was never scored');
});

test('bad options are refused', () => {
  assert.throws(() => new Batcher(async (x) => x, { maxBatch: 0, maxWaitMs: 0, maxQueue: 1 }), /maxBatch/);
  assert.throws(() => new Batcher(async (x) => x, { maxBatch: 1, maxWaitMs: -1, maxQueue: 1 }), /maxWaitMs/);
});

test('a retired model version is disposed only after the last batch using it ends', async () => {
  let disposed = 0;
  const fake = { dispose: () => { disposed++; } } as unknown as ModelHost;
  const v = new ModelVersion(fake, new Date(), 1);
  let release!: () => void;
  const inFlight = v.use(() => new Promise<string>((r) => { release = () => r('old result'); }));
  v.retire();
  assert.equal(disposed, 0, 'still in use');
  release();
  assert.equal(await inFlight, 'old result');
  assert.equal(disposed, 1);
  const idle = new ModelVersion(fake, new Date(), 2);
  idle.retire();
  assert.equal(disposed, 2, 'an idle version goes at once');
});
