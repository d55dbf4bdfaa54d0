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
import { STORE_ENTRY as ENTRY, STORE_MAGIC as MAGIC, STORE_PAGE as PAGE, STORE_PREFIX as PREFIX, STORE_VERSION, StoreLayout, roundUp, type StoreHeader } from '../../shared/neurons/store-reader.js';
import { AtomicWriter } from './atomic-file.js';
import { crc32 } from './crc32.js';
import { encodeRecord, type StoredNeuron } from './record.js';

// Reading is shared with the in-browser engine (shared/neurons/store-reader.ts).
export { STORE_VERSION, StoreCorruptError, type StoreHeader } from '../../shared/neurons/store-reader.js';

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
  private constructor(private readonly layout: StoreLayout, private readonly fd: number) {}

  get path(): string {
    return this.layout.path;
  }

  get header(): StoreHeader {
    return this.layout.header;
  }

  get bytes(): number {
    return this.layout.bytes;
  }

  /** Bytes from the start to the end of the directory (what opening reads). */
  get headBytes(): number {
    return this.layout.headBytes;
  }

  /** Opens and checks a store; `expected` fields must match the header. */
  static open(path: string, expected: Partial<StoreHeader> = {}): NeuronStore {
    const fd = openSync(path, 'r');
    try {
      const layout = StoreLayout.open((at, length) => readAt(fd, at, length), fstatSync(fd).size, path, expected, crc32);
      return new NeuronStore(layout, fd);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  /** Neuron `index` of `layer`, checked against its CRC. */
  read(layer: number, index: number): StoredNeuron {
    const { g, offset, length } = this.layout.span(layer, index);
    return this.layout.decode(g, readAt(this.fd, offset, length));
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Up to `length` bytes at `at` (fewer where the file ends). */
function readAt(fd: number, at: number, length: number): Uint8Array {
  const buffer = Buffer.alloc(length);
  const read = readSync(fd, buffer, 0, length, at);
  return read === length ? buffer : buffer.subarray(0, read);
}
