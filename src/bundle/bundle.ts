/**
 * Model bundles: one folder holding `manifest.json` (format version, architecture,
 * preprocessing, thresholds, score statistics, training summary, and the name, size and sha256
 * of the weights file) and `weights.<sha>.safetensors` (every tensor: model parameters and
 * buffers, density-model points). Written as one commit (util/fs.ts commitFolder): a reader sees
 * the old bundle or the new one, never a mix and never none, even when the writer is killed.
 * Format version 1 (vigil 0.1) had a fixed `weights.safetensors` and no checksum; it still loads.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { encodeTensors, decodeTensors, type Tensor } from '../engine/index.js';
import { commitFolder, parsePayloadRef, readCommitted, recoverInterrupted, type PayloadRef } from '../util/fs.js';

export const BUNDLE_FORMAT = 'vigil-model';
export const BUNDLE_VERSION = 2; // the manifest version: src/bundle/manifest.ts migrates older ones
export const MANIFEST = 'manifest.json';
/** The weights file of format version 1; version 2 names its file in `manifest.weights`. */
export const WEIGHTS = 'weights.safetensors';

export interface BundleManifest {
  format: typeof BUNDLE_FORMAT;
  version: number;
  createdAt: string;
  vigilVersion: string;
  /** The weights file (format 2): name, size and sha256, checked at load. */
  weights?: PayloadRef;
  [key: string]: unknown;
}

/**
 * Throws when `dir` cannot become a model folder without harm: an existing file, or a folder
 * with other things in it that is not a vigil model (its files would sit beside the model's).
 */
export function checkBundleTarget(dir: string): void {
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory()) throw new Error(`${dir} exists and is a file, not a model folder; choose another output path`);
  if (existsSync(join(dir, MANIFEST))) return;
  const others = readdirSync(dir).filter((n) => !n.startsWith('.') && !/^weights\.[0-9a-f]+\.safetensors$/.test(n));
  if (others.length) throw new Error(`${dir} is a folder that is not a vigil model (it holds ${others.slice(0, 3).join(', ')}${others.length > 3 ? ', ...' : ''}); choose another output path`);
}

export function saveBundle(dir: string, manifest: { vigilVersion: string } & Record<string, unknown>, tensors: Map<string, Tensor>): void {
  checkBundleTarget(dir);
  const { weights: _legacy, ...rest } = manifest;
  const head = { format: BUNDLE_FORMAT as typeof BUNDLE_FORMAT, version: BUNDLE_VERSION, createdAt: new Date().toISOString() };
  const payload = encodeTensors(tensors, { format: BUNDLE_FORMAT });
  commitFolder(dir, {
    payload, stem: 'weights', ext: '.safetensors', pointer: MANIFEST, hook: 'bundle', obsolete: [WEIGHTS],
    render: (ref) => JSON.stringify({ ...head, weights: ref, ...rest } satisfies BundleManifest, null, 2) + '\n',
  });
}

/** The path of a model folder's weights file (whatever its format version). */
export function weightsPath(dir: string): string {
  const m = readManifest(dir);
  const ref = m.version >= 2 ? parsePayloadRef(m.weights, '.safetensors') : undefined;
  return join(dir, typeof ref === 'object' ? ref.file : WEIGHTS);
}

function parseManifest(text: string, mPath: string): BundleManifest {
  let manifest: BundleManifest;
  try {
    manifest = JSON.parse(text);
  } catch (e) {
    throw new Error(`${mPath}: damaged model manifest (${(e as Error).message})`);
  }
  if (manifest?.format !== BUNDLE_FORMAT) throw new Error(`${mPath}: not a vigil model manifest (format is ${JSON.stringify(manifest?.format)})`);
  if (!Number.isInteger(manifest.version) || manifest.version < 1) throw new Error(`${mPath}: damaged model manifest: format version ${JSON.stringify(manifest.version)} is not a version number`);
  if (manifest.version > BUNDLE_VERSION) {
    throw new Error(`${mPath}: model format version ${manifest.version} is newer than this vigil understands (${BUNDLE_VERSION}); upgrade vigil`);
  }
  return manifest;
}

function checkFolder(dir: string): void {
  try {
    recoverInterrupted(dir); // a folder that an interrupted swap of vigil 0.1 left missing
  } catch { /* read-only place: report what is there */ }
  if (!existsSync(dir)) throw new Error(`model folder ${dir} does not exist`);
  if (!statSync(dir).isDirectory()) throw new Error(`${dir} is not a model folder (it is a file); pass the folder that \`vigil train --out\` wrote`);
  if (!existsSync(join(dir, MANIFEST))) throw new Error(`${dir} is not a vigil model: ${MANIFEST} is missing`);
}

function readManifest(dir: string): BundleManifest {
  checkFolder(dir);
  return parseManifest(readFileSync(join(dir, MANIFEST), 'utf8'), join(dir, MANIFEST));
}

export function loadBundle(dir: string, device = 'cpu'): { manifest: BundleManifest; tensors: Map<string, Tensor> } {
  checkFolder(dir);
  const mPath = join(dir, MANIFEST);
  let manifest: BundleManifest | undefined;
  const { payload, path } = readCommitted(dir, {
    pointer: MANIFEST, legacyFile: WEIGHTS, what: 'model',
    refOf: (text) => {
      manifest = parseManifest(text, mPath);
      if (manifest.version < 2) return undefined;
      const ref = parsePayloadRef(manifest.weights, '.safetensors');
      if (typeof ref === 'string') throw new Error(`${mPath}: damaged model manifest: 'weights' ${ref}`);
      return ref;
    },
  });
  const { tensors } = decodeTensors(payload, path, device);
  return { manifest: manifest!, tensors };
}
