/**
 * The binary activation frame: every MLP neuron of every layer at one position, int8 with a
 * per-layer scale (≤ 1 byte per neuron), plus that position's attention pattern rows as uint8
 * probabilities. Little-endian; travels as a socket.io binary attachment (websocket only).
 *
 * Layout (byte offsets):
 *   0  u32 magic "CXRF"   4 u16 version   6 u16 flags (0)
 *   8  u32 position      12 u32 token id
 *  16  u32 nLayers L     20 u32 neurons per layer N   24 u32 nHeads H   28 u32 pattern length S (p + 1, or 0)
 *  32  f32 × L   per-layer scale (value = q × scale, scale = max|a| / 127)
 *      i8  × L·N neuron values, layer-major
 *      u8  × L·H·S attention weights of this query position (weight = q / 255)
 *
 * Only when flags bit 0 (FRAME_FLAG_FEATURES) is set, the layer's active transcoder features
 * follow, sparse (a client that did not ask for them never gets this section, so a neuron-only
 * frame is byte for byte what it was before features existed):
 *      u32       features per layer F
 *      u32 × L   active features per layer n_l
 *      f32 × L   per-layer value scale (value = q × scale, scale = max value / 65535)
 *      u16 × Σn  feature indices, layer by layer (u32 × Σn when F > 65536)
 *      u16 × Σn  quantised values (q ≥ 1: an active feature never decodes to 0)
 * Features are never negative (ReLU, JumpReLU and TopK all cut at 0), so the value needs no sign.
 */

export const FRAME_MAGIC = 0x46525843; // "CXRF" little-endian
export const FRAME_VERSION = 1;
export const FRAME_HEADER_BYTES = 32;
/** Flags bit: a sparse transcoder-feature section follows the attention weights. */
export const FRAME_FLAG_FEATURES = 1;

/** The active features of every layer at one position, flat: layer l's entries are
 * [offset_l, offset_l + counts[l]) of `indices` and `values`, offsets the running sum of counts. */
export interface SparseFeatures {
  featuresPerLayer: number;
  /** [L] active features per layer. */
  counts: Uint32Array;
  /** [Σ counts] feature indices, layer by layer. */
  indices: Uint32Array;
  /** [Σ counts] activations (> 0). */
  values: Float32Array;
}

export interface FrameInput {
  position: number;
  tokenId: number;
  nLayers: number;
  neuronsPerLayer: number;
  nHeads: number;
  /** [L * N] activations, layer-major. */
  neurons: Float32Array;
  /** [L * H * S] pattern rows of this position (S = position + 1), or empty. */
  attention?: Float32Array;
  /** Active transcoder features (only for clients that asked for them). */
  features?: SparseFeatures | null;
}

export interface DecodedFrame {
  position: number;
  tokenId: number;
  nLayers: number;
  neuronsPerLayer: number;
  nHeads: number;
  /** [L] */
  scales: Float32Array;
  /** [L * N] quantised activations: value = neurons[l*N + i] * scales[l]. */
  neurons: Int8Array;
  /** [L * H * S] attention weights, or empty. */
  attention: Float32Array;
  /** The sparse feature section (values dequantised), or null when the frame has none. */
  features: SparseFeatures | null;
}

export class FrameError extends Error {
  constructor(message: string) {
    super(`bad activation frame: ${message}`);
    this.name = 'FrameError';
  }
}

export function frameByteLength(nLayers: number, neuronsPerLayer: number, nHeads: number, patternLength: number): number {
  return FRAME_HEADER_BYTES + 4 * nLayers + nLayers * neuronsPerLayer + nLayers * nHeads * patternLength;
}

/** Bytes of the sparse feature section for L layers of F features with `active` entries in all. */
export function featureSectionBytes(nLayers: number, featuresPerLayer: number, active: number): number {
  return 4 + 8 * nLayers + active * ((featuresPerLayer > 65536 ? 4 : 2) + 2);
}

export function encodeFrame(frame: FrameInput): Uint8Array {
  const { nLayers: L, neuronsPerLayer: N, nHeads: H } = frame;
  if (frame.neurons.length !== L * N) throw new FrameError(`${frame.neurons.length} neuron values for ${L}×${N}`);
  const attention = frame.attention ?? new Float32Array(0);
  const S = attention.length === 0 ? 0 : attention.length / (L * H);
  if (!Number.isInteger(S)) throw new FrameError(`${attention.length} attention weights is not a multiple of L×H = ${L * H}`);
  const features = frame.features ?? null;
  if (features) checkFeatures(features, L);
  const base = frameByteLength(L, N, H, S);
  const bytes = new Uint8Array(base + (features ? featureSectionBytes(L, features.featuresPerLayer, features.indices.length) : 0));
  const view = new DataView(bytes.buffer);
  view.setUint32(0, FRAME_MAGIC, true);
  view.setUint16(4, FRAME_VERSION, true);
  view.setUint16(6, features ? FRAME_FLAG_FEATURES : 0, true);
  view.setUint32(8, frame.position, true);
  view.setUint32(12, frame.tokenId, true);
  view.setUint32(16, L, true);
  view.setUint32(20, N, true);
  view.setUint32(24, H, true);
  view.setUint32(28, S, true);
  const neuronsAt = FRAME_HEADER_BYTES + 4 * L;
  const quantised = new Int8Array(bytes.buffer, neuronsAt, L * N);
  for (let l = 0; l < L; l++) {
    let maxAbs = 0;
    for (let i = 0; i < N; i++) maxAbs = Math.max(maxAbs, Math.abs(frame.neurons[l * N + i]!));
    const scale = maxAbs > 0 ? maxAbs / 127 : 1;
    view.setFloat32(FRAME_HEADER_BYTES + 4 * l, scale, true);
    const stored = view.getFloat32(FRAME_HEADER_BYTES + 4 * l, true); // quantise with the rounded scale
    for (let i = 0; i < N; i++) quantised[l * N + i] = Math.max(-127, Math.min(127, Math.round(frame.neurons[l * N + i]! / stored)));
  }
  const pattern = bytes.subarray(neuronsAt + L * N);
  for (let k = 0; k < attention.length; k++) pattern[k] = Math.round(Math.max(0, Math.min(1, attention[k]!)) * 255);
  if (features) writeFeatures(view, base, L, features);
  return bytes;
}

function checkFeatures(f: SparseFeatures, L: number): void {
  if (f.counts.length !== L) throw new FrameError(`feature counts for ${f.counts.length} layers, the frame has ${L}`);
  let total = 0;
  for (let l = 0; l < L; l++) total += f.counts[l]!;
  if (total !== f.indices.length || total !== f.values.length) throw new FrameError(`feature counts sum to ${total} but there are ${f.indices.length} indices and ${f.values.length} values`);
  for (let k = 0; k < total; k++) {
    if (!(f.indices[k]! < f.featuresPerLayer)) throw new FrameError(`feature index ${f.indices[k]} is not below ${f.featuresPerLayer} features per layer`);
    if (!(f.values[k]! >= 0) || !Number.isFinite(f.values[k]!)) throw new FrameError(`feature value ${f.values[k]} is not a finite non-negative number`);
  }
}

function writeFeatures(view: DataView, at: number, L: number, f: SparseFeatures): void {
  const wide = f.featuresPerLayer > 65536;
  view.setUint32(at, f.featuresPerLayer, true);
  const scalesAt = at + 4 + 4 * L;
  let indexAt = at + 4 + 8 * L;
  let valueAt = indexAt + f.indices.length * (wide ? 4 : 2);
  let k = 0;
  for (let l = 0; l < L; l++) {
    const n = f.counts[l]!;
    view.setUint32(at + 4 + 4 * l, n, true);
    let max = 0;
    for (let j = 0; j < n; j++) max = Math.max(max, f.values[k + j]!);
    view.setFloat32(scalesAt + 4 * l, max > 0 ? max / 65535 : 1, true);
    const scale = view.getFloat32(scalesAt + 4 * l, true);
    for (let j = 0; j < n; j++, k++) {
      if (wide) view.setUint32(indexAt, f.indices[k]!, true);
      else view.setUint16(indexAt, f.indices[k]!, true);
      indexAt += wide ? 4 : 2;
      view.setUint16(valueAt, Math.max(1, Math.min(65535, Math.round(f.values[k]! / scale))), true);
      valueAt += 2;
    }
  }
}

/** Reads the feature section at byte `at` of `view`; returns it and the bytes it took. */
function readFeatures(view: DataView, at: number, L: number): { features: SparseFeatures; bytes: number } {
  const left = view.byteLength - at;
  if (left < 4 + 8 * L) throw new FrameError(`the feature section needs at least ${4 + 8 * L} bytes, ${left} are left`);
  const F = view.getUint32(at, true);
  const wide = F > 65536;
  const counts = new Uint32Array(L);
  let total = 0;
  for (let l = 0; l < L; l++) total += counts[l] = view.getUint32(at + 4 + 4 * l, true);
  const bytes = featureSectionBytes(L, F, total);
  if (left !== bytes) throw new FrameError(`the feature section is ${left} bytes, expected ${bytes} for ${total} active features of ${F} per layer`);
  const indices = new Uint32Array(total);
  const values = new Float32Array(total);
  let indexAt = at + 4 + 8 * L;
  let valueAt = indexAt + total * (wide ? 4 : 2);
  let k = 0;
  for (let l = 0; l < L; l++) {
    const scale = view.getFloat32(at + 4 + 4 * L + 4 * l, true);
    for (let j = 0; j < counts[l]!; j++, k++) {
      indices[k] = wide ? view.getUint32(indexAt, true) : view.getUint16(indexAt, true);
      indexAt += wide ? 4 : 2;
      values[k] = view.getUint16(valueAt, true) * scale;
      valueAt += 2;
      if (indices[k]! >= F) throw new FrameError(`feature index ${indices[k]} is not below ${F} features per layer`);
    }
  }
  return { features: { featuresPerLayer: F, counts, indices, values }, bytes };
}

/** Decodes a frame from an ArrayBuffer or a view at any byte offset (copies, so alignment never matters). */
export function decodeFrame(input: ArrayBuffer | ArrayBufferView): DecodedFrame {
  const bytes = input instanceof ArrayBuffer
    ? new Uint8Array(input)
    : new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  if (bytes.byteLength < FRAME_HEADER_BYTES) throw new FrameError(`${bytes.byteLength} bytes, shorter than the ${FRAME_HEADER_BYTES}-byte header`);
  const header = new DataView(bytes.buffer, bytes.byteOffset, FRAME_HEADER_BYTES);
  if (header.getUint32(0, true) !== FRAME_MAGIC) throw new FrameError('wrong magic number');
  const version = header.getUint16(4, true);
  if (version !== FRAME_VERSION) throw new FrameError(`version ${version}, this client reads ${FRAME_VERSION}`);
  const L = header.getUint32(16, true);
  const N = header.getUint32(20, true);
  const H = header.getUint32(24, true);
  const S = header.getUint32(28, true);
  const flags = header.getUint16(6, true);
  const expected = frameByteLength(L, N, H, S);
  let features: SparseFeatures | null = null;
  if (flags & FRAME_FLAG_FEATURES) {
    if (bytes.byteLength < expected) throw new FrameError(`${bytes.byteLength} bytes, expected at least ${expected} for ${L} layers × ${N} neurons, ${H} heads, ${S} pattern columns`);
    features = readFeatures(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), expected, L).features;
  } else if (bytes.byteLength !== expected) throw new FrameError(`${bytes.byteLength} bytes, expected ${expected} for ${L} layers × ${N} neurons, ${H} heads, ${S} pattern columns`);
  const copy = bytes.slice(); // aligned, owned
  const neuronsAt = FRAME_HEADER_BYTES + 4 * L;
  const raw = copy.subarray(neuronsAt + L * N, expected);
  const attention = new Float32Array(raw.length);
  for (let k = 0; k < raw.length; k++) attention[k] = raw[k]! / 255;
  return {
    position: header.getUint32(8, true),
    tokenId: header.getUint32(12, true),
    nLayers: L,
    neuronsPerLayer: N,
    nHeads: H,
    scales: new Float32Array(copy.buffer, FRAME_HEADER_BYTES, L),
    neurons: new Int8Array(copy.buffer, neuronsAt, L * N),
    attention,
    features,
  };
}
