/**
 * The folder swap under kills: a writer killed at each step of a commit (half way through the
 * payload, before the pointer's rename, after it) leaves the old contents or the new, and the
 * next write removes its debris; leftovers of the two-rename swap of vigil 0.1 are put back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { commitFolder, readCommitted, recoverInterrupted, parsePayloadRef } from '../../src/util/fs.js';
import { TINY_ARGS, digitFolder, distSrc, nodeScript, tempDir, vigil } from './helpers.js';

const ptr = (label: string) => (ref: object) => JSON.stringify({ label, weights: ref });
const refOf = (text: string) => {
  const r = parsePayloadRef(JSON.parse(text).weights, '.bin');
  if (typeof r === 'string') throw new Error(r);
  return r;
};
const read = (dir: string) => {
  const { text, payload } = readCommitted(dir, { pointer: 'p.json', refOf, legacyFile: 'data.bin', what: 'test folder' });
  return { label: JSON.parse(text).label as string, payload: payload.toString() };
};
const commit = (dir: string, label: string) => commitFolder(dir, { payload: [Buffer.from(`${label}-a;`), Buffer.from(`${label}-b`)], stem: 'data', ext: '.bin', pointer: 'p.json', render: ptr(label), hook: 't' });

/** A pid that is certainly not running: that of a child that has exited. */
const deadPid = () => spawnSync(process.execPath, ['-e', '0']).pid!;

test('a writer killed at any step of a commit leaves the old or the new contents, and the next write cleans up after it', () => {
  for (const [point, expect] of [['t:payload:partial', 'v1'], ['t:before-pointer', 'v1'], ['t:after-pointer', 'v2']] as const) {
    const dir = join(tempDir(), 'm');
    commit(dir, 'v1');
    const child = nodeScript(`
      import { commitFolder } from ${JSON.stringify(join(distSrc, 'util', 'fs.js'))};
      commitFolder(${JSON.stringify(dir)}, { payload: [Buffer.from('v2-a;'), Buffer.from('v2-b')], stem: 'data', ext: '.bin', pointer: 'p.json', hook: 't',
        render: (ref) => JSON.stringify({ label: 'v2', weights: ref }) });`, { VIGIL_TEST_FAULT: point });
    assert.equal(child.signal, 'SIGKILL', `${point}: the hook kills the writer (${child.stderr})`);
    assert.deepEqual(read(dir), { label: expect, payload: `${expect}-a;${expect}-b` }, point);
    if (point === 't:payload:partial') assert.ok(readdirSync(dir).some((n) => n.endsWith('.tmp')), 'the half-written payload is left');
    // the dead writer's lock is taken over; its temporaries and unreferenced payloads are removed
    commit(dir, 'v3');
    assert.deepEqual(read(dir), { label: 'v3', payload: 'v3-a;v3-b' });
    assert.deepEqual(readdirSync(dir).sort(), ['data.' + refOf(readFileSync(join(dir, 'p.json'), 'utf8')).sha256.slice(0, 16) + '.bin', 'p.json']);
    assert.deepEqual(readdirSync(join(dir, '..')), ['m'], 'no lock file or temporary left beside the folder');
  }
});

test('a changed or truncated payload is refused with the file and the reason', () => {
  const dir = join(tempDir(), 'm');
  const ref = commit(dir, 'v1');
  writeFileSync(join(dir, ref.file), 'v1-a;v1-X');
  assert.throws(() => read(dir), /data\.[0-9a-f]{16}\.bin: damaged test folder: checksum mismatch/);
  writeFileSync(join(dir, ref.file), 'v1-a;');
  assert.throws(() => read(dir), /the file has 5 bytes, p\.json says 9 \(truncated\)/);
});

test('leftovers of an interrupted two-rename swap (vigil 0.1) are put back on the next load', () => {
  const root = tempDir();
  const dir = join(root, 'm');
  const fill = (name: string, text: string) => { mkdirSync(join(root, name)); writeFileSync(join(root, name, 'f'), text); };
  // killed between the renames: the old folder aside, the complete new one beside it
  const pid = deadPid();
  fill(`.m.${pid}.100.old`, 'old');
  fill(`.m.${pid}.101.tmp`, 'new');
  recoverInterrupted(dir);
  assert.equal(readFileSync(join(dir, 'f'), 'utf8'), 'new');
  assert.deepEqual(readdirSync(root), ['m']);
  // only the old folder aside: it comes back
  const pid2 = deadPid();
  spawnSync('mv', [dir, join(root, `.m.${pid2}.102.old`)]);
  recoverInterrupted(dir);
  assert.equal(readFileSync(join(dir, 'f'), 'utf8'), 'new');
  // a .tmp whose swap never started is removed; the folder stays as it is
  fill(`.m.${deadPid()}.103.tmp`, 'partial');
  recoverInterrupted(dir);
  assert.deepEqual(readdirSync(root), ['m']);
  assert.equal(readFileSync(join(dir, 'f'), 'utf8'), 'new');
  // a live writer's folders are left alone
  fill(`.m.${process.pid}.104.tmp`, 'mine');
  recoverInterrupted(dir);
  assert.ok(existsSync(join(root, `.m.${process.pid}.104.tmp`)));
});

test('vigil train killed between the steps of its save: the old model or the new one loads; a killed checkpoint resumes', async () => {
  const root = tempDir();
  const data = await digitFolder(join(root, 'data'), 24);
  const probe = join(data, readdirSync(data)[0]!);
  const model = join(root, 'm');
  const train = (extra: string[], env: Record<string, string> = {}) => vigil(['train', data, ...TINY_ARGS, '--out', model, ...extra], env);
  const first = train([]);
  assert.equal(first.status, 0, first.stderr);
  const created = () => JSON.parse(readFileSync(join(model, 'manifest.json'), 'utf8')).createdAt as string;
  const v1 = created();
  const score = () => {
    const r = vigil(['score', model, probe, '--device', 'cpu']);
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout).results[0].score as number;
  };
  const s1 = score();

  const before = train(['--seed', '5'], { VIGIL_TEST_FAULT: 'bundle:before-pointer' });
  assert.equal(before.signal, 'SIGKILL');
  assert.equal(created(), v1, 'killed before the switch: the old model');
  assert.equal(score(), s1);

  const after = train(['--seed', '5'], { VIGIL_TEST_FAULT: 'bundle:after-pointer' });
  assert.equal(after.signal, 'SIGKILL');
  assert.notEqual(created(), v1, 'killed after the switch: the new model');
  assert.notEqual(score(), s1);

  // the checkpoint: killed while committing epoch 2's, --resume continues from epoch 1's and ends
  // with the weights of an uninterrupted run
  const m2 = join(root, 'm2');
  const args = ['train', data, ...TINY_ARGS, '--epochs', '3', '--out', m2];
  const killed = vigil(args, { VIGIL_TEST_FAULT: 'checkpoint:before-pointer:2' });
  assert.equal(killed.signal, 'SIGKILL');
  assert.equal(JSON.parse(readFileSync(join(`${m2}.checkpoint`, 'checkpoint.json'), 'utf8')).epoch, 0, 'epoch 1 checkpoint kept');
  const resumed = vigil([...args, '--resume']);
  assert.equal(resumed.status, 0, resumed.stderr);
  const straight = vigil(['train', data, ...TINY_ARGS, '--epochs', '3', '--out', join(root, 'm3')]);
  assert.equal(JSON.parse(resumed.stdout).finalLoss, JSON.parse(straight.stdout).finalLoss);
  assert.ok(!existsSync(`${m2}.checkpoint`));
  assert.deepEqual(readdirSync(root).filter((n) => /\.(tmp|old)$/.test(n)), [], 'no temporary left');
  assert.deepEqual(readdirSync(model).filter((n) => n !== 'manifest.json').length, 2, 'the new weights and the old, removed by the next save');
});
