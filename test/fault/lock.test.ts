/** Two writers of one folder: a second training refuses at the start naming the first; stale locks are taken over; --resume with changed settings is refused. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Detector } from '../../src/detector.js';
import { oneClassSource } from '../../src/data/builtin.js';
import { lockFolder, lockPathOf, FolderLockedError } from '../../src/util/lock.js';
import { TINY } from '../fixtures.js';
import { TINY_ARGS, digitFolder, distSrc, nodeScript, tempDir, vigil, vigilAsync } from './helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a lock held by a live process is refused with its pid; a dead one is taken over; a save waits for a save', async () => {
  const dir = join(tempDir(), 'out');
  const lockFile = lockPathOf(dir);
  // a live holder: a child that takes the lock and waits
  const holder = holdInChild(`
    import { lockFolder } from ${JSON.stringify(join(distSrc, 'util', 'lock.js'))};
    lockFolder(${JSON.stringify(dir)}, { purpose: 'training' });
    console.error('locked'); setTimeout(() => {}, 60000);`);
  await holder.ready;
  assert.throws(() => lockFolder(dir, { purpose: 'training' }), (e: unknown) =>
    e instanceof FolderLockedError && e.owner.pid === holder.pid && new RegExp(`process ${holder.pid} is training into it`).test(e.message) && e.message.includes(lockFile));
  process.kill(holder.pid, 'SIGKILL');
  await holder.done;
  // its lock file is still there, with a dead pid: taken over
  assert.ok(existsSync(lockFile));
  const mine = lockFolder(dir, { purpose: 'save' });
  assert.equal(JSON.parse(readFileSync(lockFile, 'utf8')).pid, process.pid);
  // re-entrant within a process, released by the last holder
  const again = lockFolder(dir, { purpose: 'save' });
  again.release();
  assert.ok(existsSync(lockFile));
  mine.release();
  assert.ok(!existsSync(lockFile));
  // a save in progress elsewhere: refused without waiting, waited for with waitMs
  const saver = holdInChild(`
    import { lockFolder } from ${JSON.stringify(join(distSrc, 'util', 'lock.js'))};
    const l = lockFolder(${JSON.stringify(dir)}, { purpose: 'save' });
    console.error('locked'); setTimeout(() => l.release(), 500);`);
  await saver.ready;
  assert.throws(() => lockFolder(dir, { purpose: 'save' }), new RegExp(`process ${saver.pid} is writing it`));
  const waited = lockFolder(dir, { purpose: 'save', waitMs: 20_000 });
  assert.equal(JSON.parse(readFileSync(lockFile, 'utf8')).pid, process.pid);
  waited.release();
  await saver.done;
  // something that is not a lock file is not deleted
  writeFileSync(lockFile, 'precious');
  utimesSync(lockFile, new Date(Date.now() - 10_000), new Date(Date.now() - 10_000));
  assert.throws(() => lockFolder(dir, { purpose: 'save' }), /is not a vigil lock file; delete it/);
});

/** A library script in a child that says 'locked' on stderr once it holds the lock. */
function holdInChild(script: string): { pid: number; ready: Promise<void>; done: Promise<unknown> } {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
  const ready = new Promise<void>((res) => child.stderr!.on('data', (d) => { if (String(d).includes('locked')) res(); }));
  const done = new Promise((res) => child.on('close', res));
  return { pid: child.pid!, ready, done };
}

test('two trainings into one --out: the second refuses at the start, naming the first', async () => {
  const root = tempDir();
  const data = await digitFolder(join(root, 'data'), 24);
  const out = join(root, 'm');
  const first = vigilAsync(['train', data, ...TINY_ARGS, '--epochs', '400', '--out', out]);
  const lockFile = lockPathOf(out);
  for (let i = 0; i < 200 && !existsSync(lockFile); i++) await sleep(50);
  assert.ok(existsSync(lockFile), 'the first training holds the lock');
  const t0 = Date.now();
  const second = vigil(['train', data, ...TINY_ARGS, '--out', out]);
  assert.equal(second.status, 1);
  assert.match(second.stderr, new RegExp(`m is in use: process ${first.pid} is training into it`));
  assert.ok(Date.now() - t0 < 15_000, 'refused before training');
  assert.ok(!existsSync(join(out, 'manifest.json')), 'the second wrote nothing');
  process.kill(first.pid, 'SIGKILL');
  await first.done;
  // the first is gone: its stale lock is taken over
  const third = vigil(['train', data, ...TINY_ARGS, '--out', out]);
  assert.equal(third.status, 0, third.stderr);
  assert.ok(existsSync(join(out, 'manifest.json')));
});

test('--resume refuses a checkpoint made with other settings, naming the setting', async () => {
  const ck = join(tempDir(), 'ck');
  const train = oneClassSource('mnist', 'train', 2, { limit: 60 });
  const o = { ...TINY, epochs: 2, checkpointDir: ck };
  (await Detector.fit(train, o)).dispose();
  assert.ok(existsSync(join(ck, 'checkpoint.json')));
  const cases: [Partial<typeof o> & Record<string, unknown>, RegExp][] = [
    [{ loss: 'ssim' }, /trained with loss "mse", this run asks for "ssim"/],
    [{ epochs: 1 }, /has 2 epochs done, this run asks for 1 epochs in all/],
    [{ lr: 1e-2 }, /trained with lr 0\.005, this run asks for 0\.01/],
    [{ batchSize: 8 }, /trained with batchSize 16, this run asks for 8/],
    [{ architecture: { filters: [8, 16], latent: 4 } }, /trained with architecture .*"latent":8.*this run asks for .*"latent":4/],
    [{ size: 32 }, /trained with architecture/],
    [{ model: 'aae' }, /trained with model "ae", this run asks for "aae"/],
  ];
  for (const [change, re] of cases) {
    await assert.rejects(Detector.fit(train, { ...o, ...change, resume: true } as never), (e: Error) => re.test(e.message) && e.message.includes(`delete ${ck}`), JSON.stringify(change));
  }
  // the same settings resume; more epochs train on
  const more = await Detector.fit(train, { ...o, epochs: 3, resume: true });
  assert.equal(more.training!.resumedFrom, 1);
  assert.equal(more.training!.history.length, 3);
  more.dispose();
});
