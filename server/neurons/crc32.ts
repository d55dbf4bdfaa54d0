/**
 * CRC-32 (IEEE, as zip and PNG use it) for the store's and checkpoints' integrity checks:
 * zlib's native one where Node has it (20.15+), else a table-driven fallback.
 */
import * as zlib from 'node:zlib';

let table: Uint32Array | null = null;

function crc32Fallback(bytes: Uint8Array, initial: number): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let crc = ~initial >>> 0;
  for (let i = 0; i < bytes.length; i++) crc = table[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}

const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** CRC-32 of `bytes`, continuing from `initial` (the CRC of what came before). */
export function crc32(bytes: Uint8Array, initial = 0): number {
  return native ? native(bytes, initial) >>> 0 : crc32Fallback(bytes, initial);
}

/** The bytes of any typed array. */
export function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}
