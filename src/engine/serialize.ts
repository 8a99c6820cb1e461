/**
 * Saving and loading named tensors in the safetensors format (https://huggingface.co/docs/safetensors):
 * an 8-byte little-endian header length, a JSON header mapping each name to
 * {dtype, shape, data_offsets}, then the raw little-endian data. Values are copied byte for byte,
 * so a load in another process gives bit-identical tensors. Writes are atomic.
 */
import { readFileSync } from 'node:fs';
import { Tensor } from './tensor.js';
import * as ops from './ops.js';
import { writeFileAtomic } from '../util/fs.js';
import type { DType } from './tensor.js';

const CODES: Partial<Record<DType, string>> = { float32: 'F32', float64: 'F64', int64: 'I64', int32: 'I32', uint8: 'U8', bool: 'BOOL' };

function bytesOf(t: Tensor): { code: string; bytes: Uint8Array } {
  const dtype = t.dtype;
  const code = CODES[dtype];
  if (!code) throw new Error(`cannot save a ${dtype} tensor`);
  let typed: ArrayBufferView;
  if (dtype === 'int64') {
    // the raw 64-bit patterns, not a float64 conversion, so values beyond 2^53 survive
    const c = ops.contiguous(t);
    const bits = ops.callOp('view', 'dtype', [c, 'float64']) as Tensor;
    const f = bits.toArray() as Float64Array;
    bits.dispose();
    c.dispose();
    typed = new BigInt64Array(f.buffer, f.byteOffset, f.length);
  } else {
    typed = t.toArray();
  }
  return { code, bytes: new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength) };
}

/** Serialises tensors (on any device) to a buffer list in safetensors layout. */
export function encodeTensors(tensors: Map<string, Tensor>, metadata: Record<string, string> = {}): Uint8Array[] {
  const header: Record<string, unknown> = { __metadata__: metadata };
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    const { code, bytes } = bytesOf(t);
    header[name] = { dtype: code, shape: t.shape, data_offsets: [offset, offset + bytes.byteLength] };
    chunks.push(bytes);
    offset += bytes.byteLength;
  }
  const json = JSON.stringify(header);
  const bytes = Buffer.byteLength(json, 'utf8');
  const head = Buffer.from(json + ' '.repeat((8 - (bytes % 8)) % 8), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(head.byteLength));
  return [len, head, ...chunks];
}

export function saveTensors(path: string, tensors: Map<string, Tensor>, metadata: Record<string, string> = {}): void {
  writeFileAtomic(path, encodeTensors(tensors, metadata));
}

export function decodeTensors(buf: Uint8Array, source: string, device = 'cpu'): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  const fail = (why: string) => new Error(`${source}: not a valid tensor file (${why})`);
  if (buf.byteLength < 8) throw fail('too short');
  const view = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = Number(view.readBigUInt64LE(0));
  if (n <= 0 || 8 + n > buf.byteLength) throw fail('bad header length');
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(view.subarray(8, 8 + n).toString('utf8'));
  } catch {
    throw fail('header is not JSON');
  }
  const dataStart = 8 + n;
  const tensors = new Map<string, Tensor>();
  let metadata: Record<string, string> = {};
  try {
    for (const [name, e] of Object.entries(header)) {
      if (name === '__metadata__') { metadata = e as unknown as Record<string, string>; continue; }
      if (!e || !Array.isArray(e.data_offsets) || e.data_offsets.length !== 2 || !Array.isArray(e.shape)) {
        throw fail(`${name}: entry needs shape and data_offsets`);
      }
      const [b, end] = e.data_offsets;
      if (!(b >= 0 && end >= b && dataStart + end <= buf.byteLength)) throw fail(`${name}: data out of range (file truncated?)`);
      const raw = new Uint8Array(buf.subarray(dataStart + b, dataStart + end)); // copy (Buffer#slice would not copy): aligned for typed-array views
      const numel = e.shape.reduce((x, y) => x * y, 1);
      const width = ({ F32: 4, F64: 8, I64: 8, I32: 4, U8: 1, BOOL: 1 } as Record<string, number>)[e.dtype];
      if (width !== undefined && numel * width !== end - b) throw fail(`${name}: size does not match shape [${e.shape}]`);
      let typed: ArrayBufferView;
      let dtype: DType | undefined;
      switch (e.dtype) {
        case 'F32': typed = new Float32Array(raw.buffer, 0, numel); break;
        case 'F64': typed = new Float64Array(raw.buffer, 0, numel); break;
        case 'I64': typed = new BigInt64Array(raw.buffer, 0, numel); break;
        case 'I32': typed = new Int32Array(raw.buffer, 0, numel); break;
        case 'U8': typed = new Uint8Array(raw.buffer, 0, numel); break;
        case 'BOOL': typed = new Uint8Array(raw.buffer, 0, numel); dtype = 'bool'; break;
        default: throw fail(`${name}: unsupported dtype ${e.dtype}`);
      }
      if (typed.byteLength !== end - b) throw fail(`${name}: size does not match shape [${e.shape}]`);
      tensors.set(name, ops.tensor(typed, e.shape, { dtype, device }));
    }
  } catch (err) {
    for (const t of tensors.values()) t.dispose();
    throw err;
  }
  return { tensors, metadata };
}

export function loadTensors(path: string, device = 'cpu'): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new Error(`${path}: cannot read tensor file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return decodeTensors(buf, path, device);
}
