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
 * Assumes a little-endian host (every platform Node runs on in practice).
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ModelError, type Tensor } from './decoder.js';

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
  private fd: number | null;

  private constructor(path: string, fd: number, metadata: Record<string, string>, entries: TensorEntry[]) {
    this.path = path;
    this.fd = fd;
    this.metadata = metadata;
    for (const e of entries) this.entries.set(e.name, e);
  }

  /** Opens `path` and validates its header; throws ModelError on any inconsistency. */
  static open(path: string): SafetensorsFile {
    if (!existsSync(path)) throw new ModelError(`Safetensors file not found: ${path}`);
    const fd = openSync(path, 'r');
    try {
      const fileSize = fstatSync(fd).size;
      const { metadata, entries } = parseHeader(path, fd, fileSize);
      return new SafetensorsFile(path, fd, metadata, entries);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
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
    if (this.fd === null) throw new Error(`${this.path} is closed`);
    if (!READABLE.includes(e.dtype)) {
      throw new ModelError(`${this.path}: tensor "${name}" has dtype ${e.dtype}; only ${READABLE.join(', ')} can be loaded`);
    }
    const count = numel(e.shape);
    const bytes = new Uint8Array(e.end - e.begin);
    readFully(this.fd, bytes, e.begin, this.path);
    return { shape: [...e.shape], data: toFloat32(bytes, e.dtype, count) };
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

function parseHeader(path: string, fd: number, fileSize: number): { metadata: Record<string, string>; entries: TensorEntry[] } {
  if (fileSize < 8) throw new ModelError(`${path}: not a safetensors file (${fileSize} bytes, shorter than the 8-byte header length)`);
  const prefix = new Uint8Array(8);
  readFully(fd, prefix, 0, path);
  const headerLength = Number(new DataView(prefix.buffer).getBigUint64(0, true));
  if (headerLength > fileSize - 8) {
    throw new ModelError(`${path}: corrupt or truncated safetensors header: it claims ${headerLength} header bytes but the file has only ${fileSize - 8} after the length`);
  }
  if (headerLength > MAX_HEADER_BYTES) throw new ModelError(`${path}: corrupt safetensors header: header length ${headerLength} is implausibly large`);
  const headerBytes = new Uint8Array(headerLength);
  readFully(fd, headerBytes, 8, path);
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

/** readSync may return short counts (and caps one call near 2 GiB): loop until full. */
function readFully(fd: number, into: Uint8Array, position: number, path: string): void {
  const chunk = 1 << 30;
  let done = 0;
  while (done < into.length) {
    const n = readSync(fd, into, done, Math.min(chunk, into.length - done), position + done);
    if (n === 0) throw new ModelError(`${path}: unexpected end of file (truncated?)`);
    done += n;
  }
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
    const byBase = new Map(files.map((f) => [basename(f.path), f]));
    if (weightMap) {
      for (const [name, file] of Object.entries(weightMap)) {
        const f = byBase.get(basename(file));
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

/** Opens `model.safetensors`, or the shards of `model.safetensors.index.json`, in `dir`. */
export function openSafetensorsDir(dir: string): TensorStore {
  const indexPath = join(dir, 'model.safetensors.index.json');
  if (existsSync(indexPath)) return openSharded(indexPath);
  const single = join(dir, 'model.safetensors');
  if (existsSync(single)) return new TensorStore(single, [SafetensorsFile.open(single)]);
  const pickled = ['pytorch_model.bin', 'pytorch_model.bin.index.json', 'tf_model.h5', 'flax_model.msgpack'].find((f) => existsSync(join(dir, f)));
  if (pickled) {
    throw new ModelError(`${dir}: only safetensors weights can be loaded, found ${pickled}; convert it (e.g. model.save_pretrained(dir, safe_serialization=True) in Python)`);
  }
  throw new ModelError(`${dir}: no model.safetensors or model.safetensors.index.json found`);
}

function openSharded(indexPath: string): TensorStore {
  let index: { weight_map?: Record<string, string> };
  try {
    index = JSON.parse(readFileSync(indexPath, 'utf8')) as typeof index;
  } catch (error) {
    throw new ModelError(`${indexPath}: not valid JSON (${(error as Error).message})`);
  }
  const weightMap = index.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null) throw new ModelError(`${indexPath}: no "weight_map" object`);
  const files: SafetensorsFile[] = [];
  try {
    for (const file of new Set(Object.values(weightMap))) files.push(SafetensorsFile.open(join(dirname(indexPath), file)));
    return new TensorStore(indexPath, files, weightMap);
  } catch (error) {
    for (const f of files) f.close();
    throw error;
  }
}

/** Reads every float tensor of one safetensors file (convenience for small files and tools). */
export function readSafetensors(path: string): Record<string, Tensor> {
  const file = SafetensorsFile.open(path);
  try {
    const out: Record<string, Tensor> = {};
    for (const name of file.names()) out[name] = file.read(name);
    return out;
  } finally {
    file.close();
  }
}

// ----------------------------------------------------------------------------------------------
// writing

export type WriteDtype = 'F32' | 'F16' | 'BF16';

/** Writes tensors (in insertion order) as one safetensors file, rounding to `dtype` (nearest even). */
export function writeSafetensors(
  path: string,
  tensors: Record<string, { shape: number[]; data: Float32Array }>,
  dtype: WriteDtype = 'F32',
  metadata: Record<string, string> = { format: 'pt' },
): void {
  const width = DTYPE_BYTES[dtype]!;
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    if (numel(t.shape) !== t.data.length) throw new Error(`writeSafetensors: tensor "${name}" has shape [${t.shape.join(', ')}] but ${t.data.length} values`);
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + t.data.length * width] };
    offset += t.data.length * width;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8); // data 8-byte aligned, as the Python library does
  const headerBytes = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let p = 8 + headerBytes.length;
  for (const t of Object.values(tensors)) {
    if (dtype === 'F32') {
      Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).copy(out, p);
    } else {
      const toBits = dtype === 'F16' ? f32ToF16Bits : f32ToBf16Bits;
      for (let i = 0; i < t.data.length; i++) out.writeUInt16LE(toBits(t.data[i]!), p + 2 * i);
    }
    p += t.data.length * width;
  }
  writeFileSync(path, out);
}
