/**
 * One neuron's record in the store, and its binary encoding (little-endian):
 *   f64 count, f32 min, f32 max, f64 mean, f64 frequency
 *   histogram: i16 width exponent e (bin width 2^e), i16 first bin k0 (its lower edge is k0·2^e),
 *              u16 bins B, u16 0, u32 counts[B]
 *   u8 top examples, u8 quantile examples, u8 promoted, u8 suppressed
 *   each example: [f64 quantile, quantile examples only] u32 context, u16 position, u16 window
 *              start, u8 window length n, u8 0, f32 value, f32 scale, n token ids (u16 or u32),
 *              n int8 activation codes (activation ≈ code × scale)
 *   each logit effect, promoted then suppressed: u32 token, f32 value
 */

export interface StoredExample {
  context: number;
  /** Of the maximum, within its context. */
  position: number;
  /** The maximum's exact value. */
  value: number;
  windowStart: number;
  /** Token ids at positions windowStart.. of the context. */
  tokens: ArrayLike<number>;
  scale: number;
  /** One per window token: activation ≈ code × scale (within scale / 2). */
  codes: Int8Array;
}

export interface StoredNeuron {
  count: number;
  min: number;
  max: number;
  mean: number;
  frequency: number;
  histogram: { widthExponent: number; firstBin: number; counts: Uint32Array };
  top: StoredExample[];
  quantiles: { quantile: number; example: StoredExample }[];
  promoted: { token: number; value: number }[];
  suppressed: { token: number; value: number }[];
}

const exampleBytes = (e: StoredExample, tokenBytes: number) => 18 + e.codes.length * (tokenBytes + 1);

export function encodeRecord(n: StoredNeuron, tokenBytes: 2 | 4): Uint8Array {
  if (n.top.length > 255 || n.quantiles.length > 255 || n.promoted.length > 255 || n.suppressed.length > 255) {
    throw new RangeError('record: at most 255 examples and effects of each kind');
  }
  let size = 32 + 8 + 4 * n.histogram.counts.length + 4 + 8 * n.quantiles.length + 8 * (n.promoted.length + n.suppressed.length);
  for (const e of n.top) size += exampleBytes(e, tokenBytes);
  for (const q of n.quantiles) size += exampleBytes(q.example, tokenBytes);
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  let at = 0;
  const f32 = (v: number) => { view.setFloat32(at, v, true); at += 4; };
  const f64 = (v: number) => { view.setFloat64(at, v, true); at += 8; };
  const u32 = (v: number) => { view.setUint32(at, v, true); at += 4; };
  const u16 = (v: number) => { view.setUint16(at, v, true); at += 2; };
  const i16 = (v: number) => { view.setInt16(at, v, true); at += 2; };
  const u8 = (v: number) => { view.setUint8(at, v); at += 1; };
  f64(n.count); f32(n.min); f32(n.max); f64(n.mean); f64(n.frequency);
  i16(n.histogram.widthExponent); i16(n.histogram.firstBin); u16(n.histogram.counts.length); u16(0);
  for (const c of n.histogram.counts) u32(c);
  u8(n.top.length); u8(n.quantiles.length); u8(n.promoted.length); u8(n.suppressed.length);
  const example = (e: StoredExample) => {
    u32(e.context); u16(e.position); u16(e.windowStart); u8(e.codes.length); u8(0); f32(e.value); f32(e.scale);
    for (let i = 0; i < e.codes.length; i++) (tokenBytes === 2 ? u16 : u32)(e.tokens[i]!);
    for (let i = 0; i < e.codes.length; i++) view.setInt8(at++, e.codes[i]!);
  };
  for (const e of n.top) example(e);
  for (const q of n.quantiles) {
    f64(q.quantile);
    example(q.example);
  }
  for (const e of [...n.promoted, ...n.suppressed]) {
    u32(e.token);
    f32(e.value);
  }
  if (at !== size) throw new Error('record: size mismatch');
  return bytes;
}

export function decodeRecord(bytes: Uint8Array, tokenBytes: 2 | 4): StoredNeuron {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const f32 = () => { const v = view.getFloat32(at, true); at += 4; return v; };
  const f64 = () => { const v = view.getFloat64(at, true); at += 8; return v; };
  const u32 = () => { const v = view.getUint32(at, true); at += 4; return v; };
  const u16 = () => { const v = view.getUint16(at, true); at += 2; return v; };
  const i16 = () => { const v = view.getInt16(at, true); at += 2; return v; };
  const u8 = () => view.getUint8(at++);
  const count = f64(), min = f32(), max = f32(), mean = f64(), frequency = f64();
  const widthExponent = i16(), firstBin = i16(), bins = u16();
  u16();
  const counts = new Uint32Array(bins);
  for (let i = 0; i < bins; i++) counts[i] = u32();
  const nTop = u8(), nQuantiles = u8(), nPromoted = u8(), nSuppressed = u8();
  const example = (): StoredExample => {
    const context = u32(), position = u16(), windowStart = u16(), length = u8();
    u8();
    const value = f32(), scale = f32();
    const tokens = new Uint32Array(length);
    for (let i = 0; i < length; i++) tokens[i] = tokenBytes === 2 ? u16() : u32();
    const codes = new Int8Array(length);
    for (let i = 0; i < length; i++) codes[i] = view.getInt8(at++);
    return { context, position, value, windowStart, tokens, scale, codes };
  };
  const top = Array.from({ length: nTop }, example);
  const quantiles = Array.from({ length: nQuantiles }, () => ({ quantile: f64(), example: example() }));
  const effect = () => ({ token: u32(), value: f32() });
  const promoted = Array.from({ length: nPromoted }, effect);
  const suppressed = Array.from({ length: nSuppressed }, effect);
  if (at !== bytes.byteLength) throw new Error('record: trailing bytes');
  return { count, min, max, mean, frequency, histogram: { widthExponent, firstBin, counts }, top, quantiles, promoted, suppressed };
}
