/**
 * A small, self-contained safetensors writer and reader for tests (shares no code with server/).
 *
 * File layout (https://huggingface.co/docs/safetensors):
 *   [8 bytes]  u64 little-endian N = byte length of the JSON header
 *   [N bytes]  JSON: { "__metadata__"?: {str: str}, name: { dtype, shape, data_offsets: [start, end] } }
 *              (padded with spaces so the data section starts 8-byte aligned, as the Python
 *              library does)
 *   [rest]     raw little-endian tensor data; offsets are relative to the start of this section
 *
 * Tensors are kept in memory as Float32Array. Writing as F16 or BF16 rounds to nearest-even;
 * `roundTo` gives the exact values a reader will see, so a reference can use them.
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

export type Dtype = 'F32' | 'F16' | 'BF16';

/** One tensor: row-major data with its shape. */
export interface HfTensor {
  shape: number[];
  data: Float32Array;
}

/** Tensors keyed by their Hugging Face names. */
export type TensorMap = Record<string, HfTensor>;

const BYTES: Record<Dtype, number> = { F32: 4, F16: 2, BF16: 2 };

// ----------------------------------------------------------------------------------------------
// float32 <-> float16 / bfloat16 bit conversions (round to nearest, ties to even)

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

function f32Bits(v: number): number {
  f32Scratch[0] = v;
  return u32Scratch[0]!;
}

function bitsF32(bits: number): number {
  u32Scratch[0] = bits >>> 0;
  return f32Scratch[0]!;
}

export function f32ToF16Bits(v: number): number {
  const x = f32Bits(v);
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf / nan
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow -> inf
  if (e <= 0) {
    // subnormal half: value = h * 2^-24
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++; // a carry into the exponent is correct
  return sign | h;
}

export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

export function f32ToBf16Bits(v: number): number {
  const x = f32Bits(v);
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff)) return ((x >>> 16) | 0x40) & 0xffff; // nan
  const lsb = (x >>> 16) & 1;
  return Math.floor((x + 0x7fff + lsb) / 65536) & 0xffff;
}

export function bf16BitsToF32(b: number): number {
  return bitsF32((b & 0xffff) << 16);
}

/** The values a reader sees after storing `data` as `dtype`. */
export function roundTo(data: Float32Array, dtype: Dtype): Float32Array {
  if (dtype === 'F32') return data;
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    out[i] = dtype === 'F16' ? f16BitsToF32(f32ToF16Bits(data[i]!)) : bf16BitsToF32(f32ToBf16Bits(data[i]!));
  }
  return out;
}

// ----------------------------------------------------------------------------------------------
// writing

function encodeData(data: Float32Array, dtype: Dtype): Uint8Array {
  const bytes = new Uint8Array(data.length * BYTES[dtype]);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (dtype === 'F32') view.setFloat32(4 * i, v, true);
    else if (dtype === 'F16') view.setUint16(2 * i, f32ToF16Bits(v), true);
    else view.setUint16(2 * i, f32ToBf16Bits(v), true);
  }
  return bytes;
}

/** Serialise tensors to safetensors bytes (insertion order). */
export function encodeSafetensors(
  tensors: TensorMap,
  dtype: Dtype = 'F32',
  metadata: Record<string, string> | null = { format: 'pt' },
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new Error(`tensor ${name}: shape [${t.shape}] does not match ${t.data.length} values`);
    const bytes = encodeData(t.data, dtype);
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    chunks.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  while ((8 + Buffer.byteLength(json)) % 8 !== 0) json += ' ';
  const headerBytes = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let p = 8 + headerBytes.length;
  for (const c of chunks) {
    out.set(c, p);
    p += c.length;
  }
  return out;
}

/**
 * Write `model.safetensors` into `dir`, or with `shards > 1` the sharded form
 * `model-0000k-of-0000n.safetensors` + `model.safetensors.index.json` (as save_pretrained does).
 */
export function writeSafetensorsDir(dir: string, tensors: TensorMap, dtype: Dtype = 'F32', shards = 1): void {
  if (shards <= 1) {
    writeFileSync(join(dir, 'model.safetensors'), encodeSafetensors(tensors, dtype));
    return;
  }
  const names = Object.keys(tensors);
  const per = Math.ceil(names.length / shards);
  const pad = (k: number) => String(k).padStart(5, '0');
  const weightMap: Record<string, string> = {};
  let totalSize = 0;
  for (let s = 0; s < shards; s++) {
    const file = `model-${pad(s + 1)}-of-${pad(shards)}.safetensors`;
    const part: TensorMap = {};
    for (const name of names.slice(s * per, (s + 1) * per)) {
      part[name] = tensors[name]!;
      weightMap[name] = file;
      totalSize += tensors[name]!.data.length * BYTES[dtype];
    }
    writeFileSync(join(dir, file), encodeSafetensors(part, dtype));
  }
  const index = { metadata: { total_size: totalSize }, weight_map: weightMap };
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify(index, null, 2) + '\n');
}

// ----------------------------------------------------------------------------------------------
// reading

/** Parse safetensors bytes (F32, F16, BF16) into Float32Array tensors. */
export function decodeSafetensors(bytes: Uint8Array): TensorMap {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8')) as Record<string, unknown>;
  const base = 8 + n;
  const out: TensorMap = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const { dtype, shape, data_offsets } = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const count = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(count);
    const start = base + data_offsets[0];
    for (let i = 0; i < count; i++) {
      if (dtype === 'F32') data[i] = view.getFloat32(start + 4 * i, true);
      else if (dtype === 'F16') data[i] = f16BitsToF32(view.getUint16(start + 2 * i, true));
      else if (dtype === 'BF16') data[i] = bf16BitsToF32(view.getUint16(start + 2 * i, true));
      else throw new Error(`tensor ${name}: unsupported dtype ${dtype}`);
    }
    out[name] = { shape, data };
  }
  return out;
}

/** Read `config.json` and the weights (single file or sharded) of a Hugging Face model dir. */
export function readHfCheckpoint(dir: string): { config: Record<string, unknown>; tensors: TensorMap } {
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  const indexPath = join(dir, 'model.safetensors.index.json');
  let tensors: TensorMap = {};
  if (existsSync(indexPath)) {
    const index = JSON.parse(readFileSync(indexPath, 'utf8')) as { weight_map: Record<string, string> };
    for (const file of new Set(Object.values(index.weight_map))) {
      tensors = { ...tensors, ...decodeSafetensors(readFileSync(join(dir, file))) };
    }
  } else {
    tensors = decodeSafetensors(readFileSync(join(dir, 'model.safetensors')));
  }
  return { config, tensors };
}
