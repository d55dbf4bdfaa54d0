/**
 * Binary payloads arrive as ArrayBuffer in browsers but as Node Buffers (possibly at an
 * unaligned offset) in Node: view them as typed arrays through a copy.
 */
export function float32View(data: ArrayBuffer | ArrayBufferView): Float32Array {
  if (data instanceof ArrayBuffer) return new Float32Array(data.slice(0));
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  return new Float32Array(bytes.buffer);
}
