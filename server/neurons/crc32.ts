/**
 * CRC-32 (IEEE, as zip and PNG use it) for the store's and checkpoints' integrity checks:
 * zlib's native one where Node has it (20.15+), else the table-driven one of shared/neurons/crc32.ts.
 */
import * as zlib from 'node:zlib';
import { crc32Table } from '../../shared/neurons/crc32.js';

const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** CRC-32 of `bytes`, continuing from `initial` (the CRC of what came before). */
export function crc32(bytes: Uint8Array, initial = 0): number {
  return native ? native(bytes, initial) >>> 0 : crc32Table(bytes, initial);
}

/** The bytes of any typed array. */
export function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}
