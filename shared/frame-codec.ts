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
 */

export const FRAME_MAGIC = 0x46525843; // "CXRF" little-endian
export const FRAME_VERSION = 1;
export const FRAME_HEADER_BYTES = 32;

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

export function encodeFrame(frame: FrameInput): Uint8Array {
  const { nLayers: L, neuronsPerLayer: N, nHeads: H } = frame;
  if (frame.neurons.length !== L * N) throw new FrameError(`${frame.neurons.length} neuron values for ${L}×${N}`);
  const attention = frame.attention ?? new Float32Array(0);
  const S = attention.length === 0 ? 0 : attention.length / (L * H);
  if (!Number.isInteger(S)) throw new FrameError(`${attention.length} attention weights is not a multiple of L×H = ${L * H}`);
  const bytes = new Uint8Array(frameByteLength(L, N, H, S));
  const view = new DataView(bytes.buffer);
  view.setUint32(0, FRAME_MAGIC, true);
  view.setUint16(4, FRAME_VERSION, true);
  view.setUint16(6, 0, true);
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
  return bytes;
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
  const expected = frameByteLength(L, N, H, S);
  if (bytes.byteLength !== expected) throw new FrameError(`${bytes.byteLength} bytes, expected ${expected} for ${L} layers × ${N} neurons, ${H} heads, ${S} pattern columns`);
  const copy = bytes.slice(); // aligned, owned
  const neuronsAt = FRAME_HEADER_BYTES + 4 * L;
  const raw = copy.subarray(neuronsAt + L * N);
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
  };
}
