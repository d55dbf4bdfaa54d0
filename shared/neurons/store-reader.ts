/**
 * Reading the neuron index's store (format in server/neurons/store.ts, which writes it) wherever
 * its bytes are: a file on the server's disk (NeuronStore, positioned reads), or bytes the
 * in-browser engine fetched (a whole file, or its head and then one record per request).
 *
 * `StoreLayout.open` checks magic, version, declared length, the header JSON, the directory's
 * CRC and that the records fill the file, then the `expected` header fields; `decode` checks a
 * record against its CRC. Any mismatch throws StoreCorruptError: a bad store is never served.
 */
import type { ByteSource } from '../engine/files.js';
import { crc32Table } from './crc32.js';
import { decodeRecord, type StoredNeuron } from './record.js';

export const STORE_MAGIC = 'CXRNIDX\0';
export const STORE_VERSION = 1;
export const STORE_PREFIX = 32;
export const STORE_PAGE = 4096;
export const STORE_ENTRY = 16;

export interface StoreHeader {
  modelKey: string;
  corpusKey: string;
  corpus: string;
  nLayers: number;
  dMlp: number;
  contextLength: number;
  contexts: number;
  /** Tokens scored per neuron (the statistics' count). */
  tokens: number;
  topK: number;
  sampleSize: number;
  quantiles: number[];
  /** Bytes per stored token id: 2 when the vocabulary fits, else 4. */
  tokenBytes: 2 | 4;
  /** A feature store's transcoder set (transcoders/feature-index.ts); then dMlp is F, and
   * "neuron" below reads "feature". Absent from neuron stores. */
  transcodersKey?: string;
}

export class StoreCorruptError extends Error {
  constructor(path: string, why: string) {
    super(`${path}: corrupt neuron index (${why})`);
    this.name = 'StoreCorruptError';
  }
}

export const roundUp = (n: number, to: number) => Math.ceil(n / to) * to;

/** `length` bytes at `at` of the store (throws when the file ends first). */
export type ReadAt = (at: number, length: number) => Uint8Array;
export type Crc32 = (bytes: Uint8Array, initial?: number) => number;

/** A checked store's header and directory: where each record is, and decoding one. */
export class StoreLayout {
  private constructor(
    readonly path: string,
    readonly header: StoreHeader,
    private readonly directory: DataView,
    /** The file's size. */
    readonly bytes: number,
    /** Bytes from the start to the end of the directory: what `open` reads. */
    readonly headBytes: number,
    private readonly crc: Crc32,
  ) {}

  /** Reads and checks header and directory; `expected` fields must match the header. */
  static open(readAt: ReadAt, size: number, path: string, expected: Partial<StoreHeader> = {}, crc: Crc32 = crc32Table): StoreLayout {
    const read = (at: number, length: number) => {
      const bytes = readAt(at, length);
      if (bytes.byteLength !== length) throw new StoreCorruptError(path, 'file ends early');
      return bytes;
    };
    if (size < STORE_PREFIX) throw new StoreCorruptError(path, `${size} bytes, shorter than a header`);
    const prefixBytes = read(0, STORE_PREFIX);
    const prefix = new DataView(prefixBytes.buffer, prefixBytes.byteOffset, STORE_PREFIX);
    if (String.fromCharCode(...prefixBytes.subarray(0, 8)) !== STORE_MAGIC) throw new StoreCorruptError(path, 'not a neuron index (bad magic)');
    const version = prefix.getUint32(8, true);
    if (version !== STORE_VERSION) throw new StoreCorruptError(path, `format version ${version}, this build reads ${STORE_VERSION}`);
    const declared = Number(prefix.getBigUint64(16, true));
    if (declared !== size) throw new StoreCorruptError(path, `${size} bytes on disk, ${declared} written (truncated or partial)`);
    const jsonLength = prefix.getUint32(12, true);
    if (STORE_PREFIX + jsonLength > size) throw new StoreCorruptError(path, `a header of ${jsonLength} bytes in a file of ${size}`);
    const json = read(STORE_PREFIX, jsonLength);
    let header: StoreHeader;
    try {
      header = JSON.parse(new TextDecoder().decode(json)) as StoreHeader;
    } catch {
      throw new StoreCorruptError(path, 'unreadable header');
    }
    if (!header || typeof header !== 'object' || Array.isArray(header)) throw new StoreCorruptError(path, 'the header is not an object');
    const G = header.nLayers * header.dMlp;
    if (!(Number.isSafeInteger(G) && G > 0)) throw new StoreCorruptError(path, 'no neurons in the header');
    const directoryAt = roundUp(STORE_PREFIX + jsonLength, STORE_PAGE);
    if (directoryAt + G * STORE_ENTRY > size) throw new StoreCorruptError(path, `a directory of ${G} neurons does not fit in ${size} bytes`);
    const directoryBytes = read(directoryAt, G * STORE_ENTRY);
    if (crc(directoryBytes, crc(json)) !== prefix.getUint32(24, true)) throw new StoreCorruptError(path, 'header or directory checksum mismatch');
    const directory = new DataView(directoryBytes.buffer, directoryBytes.byteOffset, directoryBytes.byteLength);
    let next = directoryAt + G * STORE_ENTRY;
    for (let g = 0; g < G; g++) {
      const offset = Number(directory.getBigUint64(g * STORE_ENTRY, true));
      if (offset !== next) throw new StoreCorruptError(path, `record ${g} is not where the directory says`);
      next += directory.getUint32(g * STORE_ENTRY + 8, true);
    }
    if (next !== size) throw new StoreCorruptError(path, 'records do not fill the file');
    for (const [key, value] of Object.entries(expected)) {
      if (JSON.stringify(header[key as keyof StoreHeader]) !== JSON.stringify(value)) {
        throw new StoreCorruptError(path, `built for another ${key}`);
      }
    }
    return new StoreLayout(path, header, directory, size, directoryAt + G * STORE_ENTRY, crc);
  }

  /** Where neuron `index` of `layer` is (g = layer · d_mlp + index). */
  span(layer: number, index: number): { g: number; offset: number; length: number } {
    const { nLayers, dMlp } = this.header;
    if (!(layer >= 0 && layer < nLayers && index >= 0 && index < dMlp)) throw new RangeError(`no neuron ${layer}/${index} in this store`);
    const g = layer * dMlp + index;
    return { g, offset: Number(this.directory.getBigUint64(g * STORE_ENTRY, true)), length: this.directory.getUint32(g * STORE_ENTRY + 8, true) };
  }

  /** Record `g`'s bytes, checked against its CRC and decoded. */
  decode(g: number, bytes: Uint8Array): StoredNeuron {
    if (bytes.byteLength !== this.directory.getUint32(g * STORE_ENTRY + 8, true)) throw new StoreCorruptError(this.path, `record ${g} ends early`);
    if (this.crc(bytes) !== this.directory.getUint32(g * STORE_ENTRY + 12, true)) throw new StoreCorruptError(this.path, `record ${g} checksum mismatch`);
    try {
      return decodeRecord(bytes, this.header.tokenBytes);
    } catch {
      throw new StoreCorruptError(this.path, `record ${g} does not decode`);
    }
  }
}

/** A store read through a ByteSource (bytes in memory: `bufferSource`), one read per neuron. */
export class StoreReader {
  private constructor(readonly layout: StoreLayout, private readonly source: ByteSource) {}

  get header(): StoreHeader {
    return this.layout.header;
  }

  static open(source: ByteSource, path: string, expected: Partial<StoreHeader> = {}): StoreReader {
    return new StoreReader(StoreLayout.open(sourceReader(source, path), source.size, path, expected), source);
  }

  read(layer: number, index: number): StoredNeuron {
    const { g, offset, length } = this.layout.span(layer, index);
    return this.layout.decode(g, sourceReader(this.source, this.layout.path, `record ${g} ends early`)(offset, length));
  }

  close(): void {
    this.source.close();
  }
}

function sourceReader(source: ByteSource, path: string, ends = 'file ends early'): ReadAt {
  return (at, length) => {
    if (at + length > source.size) throw new StoreCorruptError(path, ends);
    const bytes = new Uint8Array(length);
    source.read(bytes, at);
    return bytes;
  };
}
