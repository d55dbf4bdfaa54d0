/**
 * safetensors reading and writing (https://huggingface.co/docs/safetensors).
 *
 * File layout: 8-byte little-endian u64 N, then N bytes of JSON header
 * `{ "__metadata__"?: {..}, name: { dtype, shape, data_offsets: [begin, end] } }`, then the raw
 * little-endian data; offsets are relative to the start of the data section.
 *
 * Reading is lazy: opening a file reads and validates the header only, and each tensor is read
 * from disk when asked for, converted to Float32Array (F32, F16, BF16, F64). A model directory
 * may hold one `model.safetensors` or shards listed in `model.safetensors.index.json`.
 * Every problem with a file is a `ModelError` naming the file (and the tensor, if one is at fault).
 * Assumes a little-endian host (every platform Node and browsers run on in practice).
 * Files come through `ByteSource`s (shared/engine/files.ts): a file descriptor on the server
 * (server/engine/safetensors.ts opens paths and writes files), memory in the browser.
 */
import { ModelError, type Tensor } from './decoder.js';
import { bufferSource, type ByteSource, type ModelFiles } from './files.js';

/** Bytes per element of every dtype the format defines (only float ones can be read as values). */
const DTYPE_BYTES: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E4M3: 1, F8_E5M2: 1, I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4, I64: 8, U64: 8, F64: 8,
};
const READABLE = ['F32', 'F16', 'BF16', 'F64'];
/** The Python library refuses headers above 100 MB; a larger N means a corrupt file. */
const MAX_HEADER_BYTES = 100_000_000;

export interface TensorEntry {
  name: string;
  dtype: string;
  shape: number[];
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
}

// ----------------------------------------------------------------------------------------------
// one file

export class SafetensorsFile {
  readonly path: string;
  readonly metadata: Record<string, string>;
  private readonly entries = new Map<string, TensorEntry>();
  private source: ByteSource | null;

  private constructor(path: string, source: ByteSource, metadata: Record<string, string>, entries: TensorEntry[]) {
    this.path = path;
    this.source = source;
    this.metadata = metadata;
    for (const e of entries) this.entries.set(e.name, e);
  }

  /** Reads and validates the header of `source` (named `path` in messages); throws ModelError on
   * any inconsistency (and closes the source then). */
  static fromSource(path: string, source: ByteSource): SafetensorsFile {
    try {
      const { metadata, entries } = parseHeader(path, source);
      return new SafetensorsFile(path, source, metadata, entries);
    } catch (error) {
      source.close();
      throw error;
    }
  }

  /** A whole file held in memory. */
  static fromBytes(path: string, bytes: Uint8Array): SafetensorsFile {
    return SafetensorsFile.fromSource(path, bufferSource(bytes, path));
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  entry(name: string): TensorEntry {
    const e = this.entries.get(name);
    if (!e) throw new ModelError(`${this.path}: no tensor "${name}"`);
    return e;
  }

  /** Reads one tensor from disk as float32. */
  read(name: string): Tensor {
    const e = this.entry(name);
    if (this.source === null) throw new Error(`${this.path} is closed`);
    if (!READABLE.includes(e.dtype)) {
      throw new ModelError(`${this.path}: tensor "${name}" has dtype ${e.dtype}; only ${READABLE.join(', ')} can be loaded`);
    }
    const count = numel(e.shape);
    const bytes = new Uint8Array(e.end - e.begin);
    this.source.read(bytes, e.begin);
    return { shape: [...e.shape], data: toFloat32(bytes, e.dtype, count) };
  }

  close(): void {
    this.source?.close();
    this.source = null;
  }
}

function parseHeader(path: string, source: ByteSource): { metadata: Record<string, string>; entries: TensorEntry[] } {
  const fileSize = source.size;
  if (fileSize < 8) throw new ModelError(`${path}: not a safetensors file (${fileSize} bytes, shorter than the 8-byte header length)`);
  const prefix = new Uint8Array(8);
  source.read(prefix, 0);
  const headerLength = Number(new DataView(prefix.buffer).getBigUint64(0, true));
  if (headerLength > fileSize - 8) {
    throw new ModelError(`${path}: corrupt or truncated safetensors header: it claims ${headerLength} header bytes but the file has only ${fileSize - 8} after the length`);
  }
  if (headerLength > MAX_HEADER_BYTES) throw new ModelError(`${path}: corrupt safetensors header: header length ${headerLength} is implausibly large`);
  const headerBytes = new Uint8Array(headerLength);
  source.read(headerBytes, 8);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (error) {
    throw new ModelError(`${path}: corrupt safetensors header: not valid JSON (${(error as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new ModelError(`${path}: corrupt safetensors header: expected a JSON object`);
  }
  const dataStart = 8 + headerLength;
  const dataSize = fileSize - dataStart;
  let metadata: Record<string, string> = {};
  const entries: TensorEntry[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = (raw ?? {}) as Record<string, string>;
      continue;
    }
    const bad = (why: string) => new ModelError(`${path}: tensor "${name}": ${why}`);
    const { dtype, shape, data_offsets: offsets } = (raw ?? {}) as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) throw bad(`unknown dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every((n) => Number.isInteger(n) && n >= 0)) throw bad(`invalid shape ${JSON.stringify(shape)}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((n) => Number.isInteger(n) && n >= 0) || offsets[0] > offsets[1]) {
      throw bad(`invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (end > dataSize) {
      throw bad(`data_offsets [${begin}, ${end}] run past the end of the data (${dataSize} bytes); the file is truncated or corrupt`);
    }
    const expected = numel(shape as number[]) * DTYPE_BYTES[dtype]!;
    if (end - begin !== expected) {
      throw bad(`data_offsets [${begin}, ${end}] hold ${end - begin} bytes but ${dtype} [${(shape as number[]).join(', ')}] needs ${expected}`);
    }
    entries.push({ name, dtype, shape: shape as number[], begin: dataStart + begin, end: dataStart + end });
  }
  const sorted = [...entries].sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const cur = sorted[i]!;
    if (cur.begin < prev.end) throw new ModelError(`${path}: tensors "${prev.name}" and "${cur.name}" overlap in the data section; the file is corrupt`);
  }
  return { metadata, entries };
}

function numel(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

// ----------------------------------------------------------------------------------------------
// dtype conversions

let f16Table: Float32Array | null = null;

/** float16 bits → float32 value for all 65536 bit patterns (256 KiB, built once). */
function halfTable(): Float32Array {
  if (f16Table) return f16Table;
  f16Table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) f16Table[h] = f16BitsToF32(h);
  return f16Table;
}

export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** float32 → float16 bits, round to nearest even (overflow → ±inf). */
export function f32ToF16Bits(value: number): number {
  scratchF32[0] = value;
  const x = scratchU32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++; // a carry into the exponent is correct
  return sign | h;
}

/** float32 → bfloat16 bits, round to nearest even (NaN stays NaN). */
export function f32ToBf16Bits(value: number): number {
  scratchF32[0] = value;
  const x = scratchU32[0]!;
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return ((x >>> 16) | 0x40) & 0xffff;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

function toFloat32(bytes: Uint8Array, dtype: string, count: number): Float32Array {
  if (dtype === 'F32') return new Float32Array(bytes.buffer, bytes.byteOffset, count);
  const out = new Float32Array(count);
  if (dtype === 'F64') {
    const src = new Float64Array(bytes.buffer, bytes.byteOffset, count);
    for (let i = 0; i < count; i++) out[i] = src[i]!;
    return out;
  }
  const src = new Uint16Array(bytes.buffer, bytes.byteOffset, count);
  if (dtype === 'F16') {
    const table = halfTable();
    for (let i = 0; i < count; i++) out[i] = table[src[i]!]!;
    return out;
  }
  const bits = new Uint32Array(out.buffer); // BF16: the high half of a float32
  for (let i = 0; i < count; i++) bits[i] = src[i]! << 16;
  return out;
}

// ----------------------------------------------------------------------------------------------
// a model directory: one file or shards

/** The tensors of one checkpoint, read lazily from one or several safetensors files. */
export class TensorStore {
  private readonly files: SafetensorsFile[];
  private readonly where = new Map<string, SafetensorsFile>();
  /** The file or index the tensors come from, for messages. */
  readonly source: string;

  constructor(source: string, files: SafetensorsFile[], weightMap?: Record<string, string>) {
    this.source = source;
    this.files = files;
    const byBase = new Map(files.map((f) => [baseName(f.path), f]));
    if (weightMap) {
      for (const [name, file] of Object.entries(weightMap)) {
        const f = byBase.get(baseName(file));
        if (!f || !f.has(name)) throw new ModelError(`${source}: tensor "${name}" is listed in ${file} but that file does not hold it`);
        this.where.set(name, f);
      }
    } else {
      for (const f of files) for (const name of f.names()) this.where.set(name, f);
    }
  }

  names(): string[] {
    return [...this.where.keys()];
  }

  has(name: string): boolean {
    return this.where.has(name);
  }

  shape(name: string): number[] {
    return [...this.file(name).entry(name).shape];
  }

  read(name: string): Tensor {
    return this.file(name).read(name);
  }

  close(): void {
    for (const f of this.files) f.close();
  }

  private file(name: string): SafetensorsFile {
    const f = this.where.get(name);
    if (!f) throw new ModelError(`${this.source}: missing tensor "${name}"`);
    return f;
  }
}

const baseName = (path: string) => path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);

/** Opens `model.safetensors`, or the shards of `model.safetensors.index.json`, of a model folder. */
export function openSafetensorsFiles(files: ModelFiles): TensorStore {
  const indexName = 'model.safetensors.index.json';
  if (files.exists(indexName)) return openSharded(files, indexName);
  if (files.exists('model.safetensors')) return new TensorStore(files.path('model.safetensors'), [SafetensorsFile.fromSource(files.path('model.safetensors'), files.open('model.safetensors'))]);
  const pickled = ['pytorch_model.bin', 'pytorch_model.bin.index.json', 'tf_model.h5', 'flax_model.msgpack'].find((f) => files.exists(f));
  if (pickled) {
    throw new ModelError(`${files.root}: only safetensors weights can be loaded, found ${pickled}; convert it (e.g. model.save_pretrained(dir, safe_serialization=True) in Python)`);
  }
  throw new ModelError(`${files.root}: no model.safetensors or model.safetensors.index.json found`);
}

function openSharded(files: ModelFiles, indexName: string): TensorStore {
  const indexPath = files.path(indexName);
  let index: { weight_map?: Record<string, string> };
  try {
    index = JSON.parse(files.text(indexName)) as typeof index;
  } catch (error) {
    throw new ModelError(`${indexPath}: not valid JSON (${(error as Error).message})`);
  }
  const weightMap = index.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null) throw new ModelError(`${indexPath}: no "weight_map" object`);
  const opened: SafetensorsFile[] = [];
  try {
    for (const file of new Set(Object.values(weightMap))) {
      if (!files.exists(file)) throw new ModelError(`Safetensors file not found: ${files.path(file)}`);
      opened.push(SafetensorsFile.fromSource(files.path(file), files.open(file)));
    }
    return new TensorStore(indexPath, opened, weightMap);
  } catch (error) {
    for (const f of opened) f.close();
    throw error;
  }
}

// ----------------------------------------------------------------------------------------------
// writing

export type WriteDtype = 'F32' | 'F16' | 'BF16';

/** One safetensors file's bytes: tensors in insertion order, rounded to `dtype` (nearest even). */
export function encodeSafetensors(
  tensors: Record<string, { shape: number[]; data: Float32Array }>,
  dtype: WriteDtype = 'F32',
  metadata: Record<string, string> = { format: 'pt' },
): Uint8Array {
  const width = DTYPE_BYTES[dtype]!;
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    if (numel(t.shape) !== t.data.length) throw new Error(`writeSafetensors: tensor "${name}" has shape [${t.shape.join(', ')}] but ${t.data.length} values`);
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + t.data.length * width] };
    offset += t.data.length * width;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - ((8 + json.length) % 8)) % 8; // data 8-byte aligned, as the Python library does
  const headerBytes = new Uint8Array(json.length + pad).fill(0x20); // spaces
  headerBytes.set(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let p = 8 + headerBytes.length;
  for (const t of Object.values(tensors)) {
    if (dtype === 'F32') {
      out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), p);
    } else {
      const toBits = dtype === 'F16' ? f32ToF16Bits : f32ToBf16Bits;
      for (let i = 0; i < t.data.length; i++) view.setUint16(p + 2 * i, toBits(t.data[i]!), true);
    }
    p += t.data.length * width;
  }
  return out;
}
