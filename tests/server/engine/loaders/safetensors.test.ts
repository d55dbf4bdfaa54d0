/**
 * safetensors: dtype round trips against known bit patterns, sharded directories, and every
 * kind of broken file giving a ModelError that names the file and the tensor.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from './temp-dir.js';
import { ModelError } from '../../../../shared/engine/decoder.js';
import {
  openSafetensorsFile, openSafetensorsDir, readSafetensors, writeSafetensors,
} from '../../../../server/engine/safetensors.js';

const dir = () => tempDir('safetensors-');

/** A file from a header object and raw data, written byte by byte (independent of the writer). */
function rawFile(path: string, header: unknown, data: Uint8Array, headerLength?: number): void {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(headerLength ?? json.length), 0);
  writeFileSync(path, Buffer.concat([prefix, json, Buffer.from(data)]));
}

/** The stored bit patterns of tensor `name` (2-byte dtypes). */
function storedBits(path: string, name: string): number[] {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const entry = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'))[name] as { data_offsets: [number, number] };
  const out: number[] = [];
  for (let p = 8 + n + entry.data_offsets[0]; p < 8 + n + entry.data_offsets[1]; p += 2) out.push(buf.readUInt16LE(p));
  return out;
}

describe('safetensors dtypes', () => {
  const values = Float32Array.from([1, -2, 0.5, 0.1, 1 / 3, 3.14159, 65504, 2 ** -24, 0]);

  it('F32 round-trips exactly and aligns the data section to 8 bytes', () => {
    const path = join(dir(), 'f32.safetensors');
    writeSafetensors(path, { w: { shape: [3, 3], data: values } });
    const back = readSafetensors(path);
    expect(back.w!.shape).toEqual([3, 3]);
    expect(Array.from(back.w!.data)).toEqual(Array.from(values));
    expect((8 + Number(readFileSync(path).readBigUInt64LE(0))) % 8).toBe(0);
  });

  it('F16 stores the known half-precision bits and reads back their exact values', () => {
    const path = join(dir(), 'f16.safetensors');
    writeSafetensors(path, { w: { shape: [9], data: values } }, 'F16');
    // 1 → 0x3C00, −2 → 0xC000, 0.5 → 0x3800, 0.1 → 0x2E66, 1/3 → 0x3555, 3.14159 → 0x4248,
    // 65504 (max half) → 0x7BFF, 2^−24 (smallest subnormal) → 0x0001, 0 → 0x0000.
    expect(storedBits(path, 'w')).toEqual([0x3c00, 0xc000, 0x3800, 0x2e66, 0x3555, 0x4248, 0x7bff, 0x0001, 0]);
    const back = readSafetensors(path).w!.data;
    expect(Array.from(back)).toEqual([1, -2, 0.5, 0.0999755859375, 0.333251953125, 3.140625, 65504, 2 ** -24, 0]);
  });

  it('BF16 stores the known bfloat16 bits (round to nearest even) and reads back their values', () => {
    const path = join(dir(), 'bf16.safetensors');
    writeSafetensors(path, { w: { shape: [9], data: values } }, 'BF16');
    // 1 → 0x3F80, −2 → 0xC000, 0.5 → 0x3F00, 0.1 → 0x3DCD, 1/3 → 0x3EAB, 3.14159 → 0x4049,
    // 65504 → 0x4780 (65536), 2^−24 → 0x3380, 0 → 0.
    expect(storedBits(path, 'w')).toEqual([0x3f80, 0xc000, 0x3f00, 0x3dcd, 0x3eab, 0x4049, 0x4780, 0x3380, 0]);
    const back = readSafetensors(path).w!.data;
    expect(Array.from(back)).toEqual([1, -2, 0.5, 0.10009765625, 0.333984375, 3.140625, 65536, 2 ** -24, 0]);
  });

  it('reads F64 tensors written by hand', () => {
    const path = join(dir(), 'f64.safetensors');
    const data = new Float64Array([1.5, -0.25, 1e-3]);
    rawFile(path, { x: { dtype: 'F64', shape: [3], data_offsets: [0, 24] } }, new Uint8Array(data.buffer));
    expect(Array.from(readSafetensors(path).x!.data)).toEqual([1.5, -0.25, Math.fround(1e-3)]);
  });

  it('reads tensors lazily by name and lists them', () => {
    const path = join(dir(), 'two.safetensors');
    writeSafetensors(path, { a: { shape: [2], data: Float32Array.from([1, 2]) }, b: { shape: [1, 1], data: Float32Array.from([7]) } });
    const file = openSafetensorsFile(path);
    expect(file.names()).toEqual(['a', 'b']);
    expect(file.metadata).toEqual({ format: 'pt' });
    expect(Array.from(file.read('b').data)).toEqual([7]);
    file.close();
  });
});

describe('sharded checkpoints (model.safetensors.index.json)', () => {
  it('reads each tensor from the shard the weight map names', () => {
    const d = dir();
    writeSafetensors(join(d, 'model-00001-of-00002.safetensors'), { a: { shape: [1], data: Float32Array.from([1]) } });
    writeSafetensors(join(d, 'model-00002-of-00002.safetensors'), { b: { shape: [2], data: Float32Array.from([2, 3]) } });
    writeFileSync(join(d, 'model.safetensors.index.json'), JSON.stringify({
      metadata: { total_size: 12 }, weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' },
    }));
    const store = openSafetensorsDir(d);
    expect(store.names().sort()).toEqual(['a', 'b']);
    expect(Array.from(store.read('b').data)).toEqual([2, 3]);
    expect(store.shape('a')).toEqual([1]);
    expect(() => store.read('c')).toThrow(/missing tensor "c"/);
    store.close();
  });

  it('fails clearly when the index points at the wrong shard', () => {
    const d = dir();
    writeSafetensors(join(d, 'one.safetensors'), { a: { shape: [1], data: Float32Array.from([1]) } });
    writeFileSync(join(d, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { b: 'one.safetensors' } }));
    expect(() => openSafetensorsDir(d)).toThrow(/tensor "b" is listed in one.safetensors but that file does not hold it/);
  });

  it('fails clearly on a directory without safetensors weights', () => {
    const d = dir();
    expect(() => openSafetensorsDir(d)).toThrow(/no model.safetensors or model.safetensors.index.json/);
    writeFileSync(join(d, 'pytorch_model.bin'), 'x');
    expect(() => openSafetensorsDir(d)).toThrow(/only safetensors weights can be loaded, found pytorch_model.bin/);
  });
});

describe('broken safetensors files give a ModelError naming file and tensor', () => {
  const expectModelError = (fn: () => unknown, message: RegExp) => {
    let error: unknown;
    try {
      fn();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ModelError);
    expect((error as Error).message).toMatch(message);
  };

  it('missing file', () => {
    expectModelError(() => openSafetensorsFile('/nonexistent/model.safetensors'), /Safetensors file not found: \/nonexistent\/model.safetensors/);
  });

  it('file shorter than the 8-byte length', () => {
    const path = join(dir(), 'tiny.safetensors');
    writeFileSync(path, Buffer.from([1, 2, 3]));
    expectModelError(() => openSafetensorsFile(path), /tiny.safetensors: not a safetensors file \(3 bytes/);
  });

  it('header length beyond the file size (truncated header)', () => {
    const path = join(dir(), 'trunc.safetensors');
    rawFile(path, '{"a":', new Uint8Array(0), 1000);
    expectModelError(() => openSafetensorsFile(path), /trunc.safetensors: corrupt or truncated safetensors header: it claims 1000 header bytes but the file has only 5/);
  });

  it('header that is not JSON', () => {
    const path = join(dir(), 'json.safetensors');
    rawFile(path, '{"a": {"dtype": "F32", ', new Uint8Array(8));
    expectModelError(() => openSafetensorsFile(path), /json.safetensors: corrupt safetensors header: not valid JSON/);
  });

  it('offsets past the end of the data (truncated file)', () => {
    const path = join(dir(), 'cut.safetensors');
    writeSafetensors(path, { 'h.0.w': { shape: [4, 4], data: new Float32Array(16) } });
    const full = readFileSync(path);
    writeFileSync(path, full.subarray(0, full.length - 4));
    expectModelError(() => openSafetensorsFile(path), /cut.safetensors: tensor "h.0.w": data_offsets \[0, 64\] run past the end of the data \(60 bytes\)/);
  });

  it('offsets that do not match dtype × shape', () => {
    const path = join(dir(), 'size.safetensors');
    rawFile(path, { w: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 12] } }, new Uint8Array(16));
    expectModelError(() => openSafetensorsFile(path), /tensor "w": data_offsets \[0, 12\] hold 12 bytes but F32 \[2, 2\] needs 16/);
  });

  it('overlapping tensors', () => {
    const path = join(dir(), 'overlap.safetensors');
    rawFile(path, {
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
    }, new Uint8Array(12));
    expectModelError(() => openSafetensorsFile(path), /tensors "a" and "b" overlap/);
  });

  it('unknown dtype, bad shape, bad offsets', () => {
    const d = dir();
    rawFile(join(d, 'a.safetensors'), { w: { dtype: 'F128', shape: [1], data_offsets: [0, 16] } }, new Uint8Array(16));
    expectModelError(() => openSafetensorsFile(join(d, 'a.safetensors')), /tensor "w": unknown dtype "F128"/);
    rawFile(join(d, 'b.safetensors'), { w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4));
    expectModelError(() => openSafetensorsFile(join(d, 'b.safetensors')), /tensor "w": invalid shape \[-1\]/);
    rawFile(join(d, 'c.safetensors'), { w: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, new Uint8Array(4));
    expectModelError(() => openSafetensorsFile(join(d, 'c.safetensors')), /tensor "w": invalid data_offsets \[4,0\]/);
  });

  it('a valid integer tensor opens, but reading it as weights names its dtype', () => {
    const path = join(dir(), 'int.safetensors');
    rawFile(path, { mask: { dtype: 'I32', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4));
    const file = openSafetensorsFile(path);
    expectModelError(() => file.read('mask'), /tensor "mask" has dtype I32; only F32, F16, BF16, F64 can be loaded/);
    file.close();
  });
});
