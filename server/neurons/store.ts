/**
 * The neuron index on disk: one binary file per (model, corpus), read one neuron at a time.
 *
 * Layout (little-endian; documented in the README, "Neuron index"):
 *   [0, 8)     magic "CXRNIDX\0"
 *   [8, 12)    u32 format version
 *   [12, 16)   u32 header JSON length J
 *   [16, 24)   u64 file length (a truncated file is caught here)
 *   [24, 28)   u32 CRC-32 of the header JSON and the directory
 *   [32, 32+J) header JSON (model key, corpus key, shapes, parameters), zero-padded to P = a
 *              multiple of 4096
 *   [P, P+16G) directory: per neuron g = layer · d_mlp + index, u64 offset, u32 length, u32 CRC-32
 *   records    one per neuron (record.ts), in neuron order
 * Opening reads the header and directory and checks magic, version, length and CRC; reading a
 * neuron is one positioned read of its record, checked against its CRC. Any mismatch throws
 * StoreCorruptError: a bad store is never served, the caller moves it aside and rebuilds.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { AtomicWriter } from './atomic-file.js';
import { crc32 } from './crc32.js';
import { decodeRecord, encodeRecord, type StoredNeuron } from './record.js';

const MAGIC = 'CXRNIDX\0';
export const STORE_VERSION = 1;
const PREFIX = 32;
const PAGE = 4096;
const ENTRY = 16;

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

const roundUp = (n: number, to: number) => Math.ceil(n / to) * to;

/** Writes a store atomically, neuron by neuron in order (`add`), then the header and directory. */
export class StoreWriter {
  private readonly directory: Buffer;
  private readonly directoryAt: number;
  private readonly json: Buffer;
  private offset: number;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private pendingAt: number;
  /** Neurons added so far. */
  added = 0;

  private constructor(private readonly writer: AtomicWriter, readonly header: StoreHeader) {
    this.json = Buffer.from(JSON.stringify(header));
    this.directoryAt = roundUp(PREFIX + this.json.length, PAGE);
    this.directory = Buffer.alloc(header.nLayers * header.dMlp * ENTRY);
    this.offset = this.directoryAt + this.directory.length;
    this.pendingAt = this.offset;
  }

  static async create(path: string, header: StoreHeader): Promise<StoreWriter> {
    return new StoreWriter(await AtomicWriter.create(path), header);
  }

  /** Appends the next neuron's record (g = layer · d_mlp + index, in order). */
  async add(neuron: StoredNeuron): Promise<void> {
    const bytes = encodeRecord(neuron, this.header.tokenBytes);
    const at = this.added++ * ENTRY;
    this.directory.writeBigUInt64LE(BigInt(this.offset), at);
    this.directory.writeUInt32LE(bytes.length, at + 8);
    this.directory.writeUInt32LE(crc32(bytes), at + 12);
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
    this.offset += bytes.length;
    if (this.pendingBytes > 4 << 20) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.pendingBytes === 0) return;
    await this.writer.write(Buffer.concat(this.pending), this.pendingAt);
    this.pendingAt += this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
  }

  /** Writes header and directory, fsyncs and renames into place; returns the file's size. */
  async finish(): Promise<number> {
    const G = this.header.nLayers * this.header.dMlp;
    if (this.added !== G) throw new Error(`store: ${this.added} of ${G} neurons added`);
    await this.flush();
    const head = Buffer.alloc(this.directoryAt);
    head.write(MAGIC, 0, 'latin1');
    head.writeUInt32LE(STORE_VERSION, 8);
    head.writeUInt32LE(this.json.length, 12);
    head.writeBigUInt64LE(BigInt(this.offset), 16);
    head.writeUInt32LE(crc32(this.directory, crc32(this.json)), 24);
    this.json.copy(head, PREFIX);
    await this.writer.write(head, 0);
    await this.writer.write(this.directory, this.directoryAt);
    await this.writer.commit();
    return this.offset;
  }

  /** Drops the unfinished file (the target, if any, is untouched). */
  async abort(): Promise<void> {
    await this.writer.abort();
  }
}

/** An open store: header and directory in memory, one read per neuron. */
export class NeuronStore {
  private constructor(
    readonly path: string,
    readonly header: StoreHeader,
    private readonly fd: number,
    private readonly directory: Buffer,
    readonly bytes: number,
  ) {}

  /** Opens and checks a store; `expected` fields must match the header. */
  static open(path: string, expected: Partial<StoreHeader> = {}): NeuronStore {
    const fd = openSync(path, 'r');
    try {
      const size = fstatSync(fd).size;
      const read = (at: number, length: number) => {
        const buffer = Buffer.alloc(length);
        if (readSync(fd, buffer, 0, length, at) !== length) throw new StoreCorruptError(path, 'file ends early');
        return buffer;
      };
      if (size < PREFIX) throw new StoreCorruptError(path, `${size} bytes, shorter than a header`);
      const prefix = read(0, PREFIX);
      if (prefix.toString('latin1', 0, 8) !== MAGIC) throw new StoreCorruptError(path, 'not a neuron index (bad magic)');
      const version = prefix.readUInt32LE(8);
      if (version !== STORE_VERSION) throw new StoreCorruptError(path, `format version ${version}, this build reads ${STORE_VERSION}`);
      const declared = Number(prefix.readBigUInt64LE(16));
      if (declared !== size) throw new StoreCorruptError(path, `${size} bytes on disk, ${declared} written (truncated or partial)`);
      const jsonLength = prefix.readUInt32LE(12);
      if (PREFIX + jsonLength > size) throw new StoreCorruptError(path, `a header of ${jsonLength} bytes in a file of ${size}`);
      const json = read(PREFIX, jsonLength);
      let header: StoreHeader;
      try {
        header = JSON.parse(json.toString('utf8')) as StoreHeader;
      } catch {
        throw new StoreCorruptError(path, 'unreadable header');
      }
      if (!header || typeof header !== 'object' || Array.isArray(header)) throw new StoreCorruptError(path, 'the header is not an object');
      const G = header.nLayers * header.dMlp;
      if (!(Number.isSafeInteger(G) && G > 0)) throw new StoreCorruptError(path, 'no neurons in the header');
      const directoryAt = roundUp(PREFIX + jsonLength, PAGE);
      if (directoryAt + G * ENTRY > size) throw new StoreCorruptError(path, `a directory of ${G} neurons does not fit in ${size} bytes`);
      const directory = read(directoryAt, G * ENTRY);
      if (crc32(directory, crc32(json)) !== prefix.readUInt32LE(24)) throw new StoreCorruptError(path, 'header or directory checksum mismatch');
      let next = directoryAt + G * ENTRY;
      for (let g = 0; g < G; g++) {
        const offset = Number(directory.readBigUInt64LE(g * ENTRY));
        if (offset !== next) throw new StoreCorruptError(path, `record ${g} is not where the directory says`);
        next += directory.readUInt32LE(g * ENTRY + 8);
      }
      if (next !== size) throw new StoreCorruptError(path, 'records do not fill the file');
      for (const [key, value] of Object.entries(expected)) {
        if (JSON.stringify(header[key as keyof StoreHeader]) !== JSON.stringify(value)) {
          throw new StoreCorruptError(path, `built for another ${key}`);
        }
      }
      return new NeuronStore(path, header, fd, directory, size);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  /** Neuron `index` of `layer`, checked against its CRC. */
  read(layer: number, index: number): StoredNeuron {
    const { nLayers, dMlp } = this.header;
    if (!(layer >= 0 && layer < nLayers && index >= 0 && index < dMlp)) throw new RangeError(`no neuron ${layer}/${index} in this store`);
    const g = layer * dMlp + index;
    const offset = Number(this.directory.readBigUInt64LE(g * ENTRY));
    const length = this.directory.readUInt32LE(g * ENTRY + 8);
    const bytes = Buffer.alloc(length);
    if (readSync(this.fd, bytes, 0, length, offset) !== length) throw new StoreCorruptError(this.path, `record ${g} ends early`);
    if (crc32(bytes) !== this.directory.readUInt32LE(g * ENTRY + 12)) throw new StoreCorruptError(this.path, `record ${g} checksum mismatch`);
    try {
      return decodeRecord(bytes, this.header.tokenBytes);
    } catch {
      throw new StoreCorruptError(this.path, `record ${g} does not decode`);
    }
  }

  close(): void {
    closeSync(this.fd);
  }
}
