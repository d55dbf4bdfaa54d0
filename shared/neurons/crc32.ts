/**
 * CRC-32 (IEEE, as zip and PNG use it), table-driven, for reading index stores where there is no
 * node:zlib (the in-browser engine). The server uses zlib's native one when it has it
 * (server/neurons/crc32.ts); both give the same numbers.
 */
let table: Uint32Array | null = null;

/** CRC-32 of `bytes`, continuing from `initial` (the CRC of what came before). */
export function crc32Table(bytes: Uint8Array, initial = 0): number {
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
