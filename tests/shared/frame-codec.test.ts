/** The activation frame codec: exact header, sizes, round trip within half a quantisation step. */
import { describe, expect, it } from 'vitest';
import { decodeFrame, encodeFrame, featureSectionBytes, FRAME_FLAG_FEATURES, FRAME_HEADER_BYTES, frameByteLength } from '../../shared/frame-codec.js';

function randomFrame(L: number, N: number, H: number, position: number) {
  let seed = 7 + position;
  const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const neurons = Float32Array.from({ length: L * N }, (_, k) => (random() - 0.3) * (1 + Math.floor(k / N)));
  const attention = Float32Array.from({ length: L * H * (position + 1) }, () => random());
  return { position, tokenId: 4242, nLayers: L, neuronsPerLayer: N, nHeads: H, neurons, attention };
}

describe('frame codec', () => {
  it('round-trips every neuron within half a quantisation step, and the pattern within 1/510', () => {
    const input = randomFrame(4, 300, 3, 9);
    const bytes = encodeFrame(input);
    const frame = decodeFrame(bytes);
    expect(frame).toMatchObject({ position: 9, tokenId: 4242, nLayers: 4, neuronsPerLayer: 300, nHeads: 3 });
    for (let l = 0; l < 4; l++) {
      const scale = frame.scales[l]!;
      let maxAbs = 0;
      for (let i = 0; i < 300; i++) maxAbs = Math.max(maxAbs, Math.abs(input.neurons[l * 300 + i]!));
      expect(scale).toBeCloseTo(maxAbs / 127, 6);
      for (let i = 0; i < 300; i++) {
        expect(Math.abs(frame.neurons[l * 300 + i]! * scale - input.neurons[l * 300 + i]!)).toBeLessThanOrEqual(scale / 2 + 1e-7);
      }
    }
    expect(frame.attention).toHaveLength(input.attention.length);
    for (let k = 0; k < input.attention.length; k++) expect(Math.abs(frame.attention[k]! - input.attention[k]!)).toBeLessThanOrEqual(1 / 510 + 1e-7);
  });

  it('costs one byte per neuron plus a small header (GPT-2 small shapes)', () => {
    const L = 12, N = 3072, H = 12, p = 31;
    const bytes = encodeFrame(randomFrame(L, N, H, p));
    expect(bytes.byteLength).toBe(FRAME_HEADER_BYTES + 4 * L + L * N + L * H * (p + 1));
    expect(bytes.byteLength).toBe(frameByteLength(L, N, H, p + 1));
    expect((bytes.byteLength - L * N - L * H * (p + 1)) / (L * N)).toBeLessThan(0.01);
  });

  it('writes the documented header', () => {
    const bytes = encodeFrame(randomFrame(2, 5, 1, 0));
    const view = new DataView(bytes.buffer);
    expect(String.fromCharCode(...bytes.subarray(0, 4))).toBe('CXRF');
    expect([view.getUint16(4, true), view.getUint32(8, true), view.getUint32(12, true), view.getUint32(16, true),
      view.getUint32(20, true), view.getUint32(24, true), view.getUint32(28, true)]).toEqual([1, 0, 4242, 2, 5, 1, 1]);
  });

  it('decodes at an unaligned byte offset (Node Buffers)', () => {
    const bytes = encodeFrame(randomFrame(3, 17, 2, 4));
    const padded = new Uint8Array(bytes.byteLength + 3);
    padded.set(bytes, 3);
    const frame = decodeFrame(padded.subarray(3));
    expect(Array.from(frame.neurons)).toEqual(Array.from(decodeFrame(bytes).neurons));
  });

  it('encodes an all-zero layer without dividing by zero', () => {
    const frame = decodeFrame(encodeFrame({ position: 0, tokenId: 1, nLayers: 1, neuronsPerLayer: 4, nHeads: 1, neurons: new Float32Array(4) }));
    expect(Array.from(frame.neurons)).toEqual([0, 0, 0, 0]);
    expect(frame.attention).toHaveLength(0);
  });

  it('rejects truncated or foreign buffers with a clear error', () => {
    const bytes = encodeFrame(randomFrame(2, 8, 2, 3));
    expect(() => decodeFrame(bytes.subarray(0, 10))).toThrow(/shorter than the 32-byte header/);
    expect(() => decodeFrame(bytes.subarray(0, bytes.length - 1))).toThrow(/expected/);
    const foreign = bytes.slice();
    foreign[0] = 0;
    expect(() => decodeFrame(foreign)).toThrow(/magic/);
    const future = bytes.slice();
    future[4] = 9;
    expect(() => decodeFrame(future)).toThrow(/version 9/);
  });
});

describe('frame codec: sparse transcoder features', () => {
  const L = 4, N = 64, H = 2, F = 2048;
  function sparse(seed: number, wideF = F) {
    let s = seed;
    const random = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const counts = Uint32Array.from({ length: L }, (_, l) => (l === 2 ? 0 : 5 + Math.floor(random() * 30)));
    const total = counts.reduce((a, b) => a + b, 0);
    const indices = Uint32Array.from({ length: total }, () => Math.floor(random() * wideF));
    const values = Float32Array.from({ length: total }, (_, k) => (k % 7 === 0 ? 1e-4 : random() * 12));
    return { featuresPerLayer: wideF, counts, indices, values };
  }

  it('round-trips indices exactly and values within half a step, and sizes the section as documented', () => {
    const input = { ...randomFrame(L, N, H, 5), features: sparse(3) };
    const bytes = encodeFrame(input);
    const total = input.features.indices.length;
    expect(bytes.byteLength).toBe(frameByteLength(L, N, H, 6) + featureSectionBytes(L, F, total));
    expect(featureSectionBytes(L, F, total)).toBe(4 + 8 * L + 4 * total);
    const frame = decodeFrame(bytes);
    expect(new DataView(bytes.buffer).getUint16(6, true)).toBe(FRAME_FLAG_FEATURES);
    expect(frame.features).not.toBeNull();
    const f = frame.features!;
    expect(f.featuresPerLayer).toBe(F);
    expect(Array.from(f.counts)).toEqual(Array.from(input.features.counts));
    expect(Array.from(f.indices)).toEqual(Array.from(input.features.indices));
    let k = 0;
    for (let l = 0; l < L; l++) {
      let max = 0;
      for (let j = 0; j < input.features.counts[l]!; j++) max = Math.max(max, input.features.values[k + j]!);
      const step = max / 65535;
      for (let j = 0; j < input.features.counts[l]!; j++, k++) {
        // Tiny activations are kept at one step rather than rounded to "not active".
        expect(f.values[k]!).toBeGreaterThan(0);
        expect(Math.abs(f.values[k]! - input.features.values[k]!)).toBeLessThanOrEqual(step / 2 + step * 1e-3 + 1e-9 + (input.features.values[k]! < step ? step : 0));
      }
    }
    // The neurons and attention decode as they do without features.
    const plain = decodeFrame(encodeFrame(randomFrame(L, N, H, 5)));
    expect(Array.from(frame.neurons)).toEqual(Array.from(plain.neurons));
    expect(Array.from(frame.attention)).toEqual(Array.from(plain.attention));
  });

  it('leaves a neuron-only frame byte for byte as before (flags 0, no section, features null)', () => {
    const bytes = encodeFrame(randomFrame(L, N, H, 5));
    expect(bytes.byteLength).toBe(frameByteLength(L, N, H, 6));
    expect(new DataView(bytes.buffer).getUint16(6, true)).toBe(0);
    expect(decodeFrame(bytes).features).toBeNull();
    expect(Array.from(encodeFrame({ ...randomFrame(L, N, H, 5), features: null }))).toEqual(Array.from(bytes));
  });

  it('uses 32-bit indices past 65,536 features (Llama-size transcoders)', () => {
    const input = { ...randomFrame(L, N, H, 0), features: sparse(9, 131072) };
    const frame = decodeFrame(encodeFrame(input));
    expect(Array.from(frame.features!.indices)).toEqual(Array.from(input.features.indices));
    expect(Math.max(...input.features.indices)).toBeGreaterThan(65536);
  });

  it('refuses inconsistent input and truncated sections, in words', () => {
    const good = sparse(4);
    expect(() => encodeFrame({ ...randomFrame(L, N, H, 0), features: { ...good, counts: new Uint32Array(3) } })).toThrow(/feature counts for 3 layers/);
    expect(() => encodeFrame({ ...randomFrame(L, N, H, 0), features: { ...good, indices: good.indices.map(() => F) } })).toThrow(/not below 2048/);
    expect(() => encodeFrame({ ...randomFrame(L, N, H, 0), features: { ...good, values: good.values.map(() => -1) } })).toThrow(/non-negative/);
    const bytes = encodeFrame({ ...randomFrame(L, N, H, 0), features: good });
    expect(() => decodeFrame(bytes.subarray(0, bytes.length - 1))).toThrow(/feature section is/);
  });
});
