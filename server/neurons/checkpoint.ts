/**
 * Checkpoints of an unfinished build: the whole streaming state (index-state.ts) of each of its
 * parts (the MLP neurons, a transcoder set's features) at a batch boundary, so a resumed build
 * ends byte-identical to an uninterrupted one. Written atomically (temporary file, fsync,
 * rename), every part in one file so they never disagree on where the build is; one that does
 * not match the model, the corpus, the parts (names, e.g. `features:<transcoder key>`) or the
 * build parameters, or fails its length or CRC check, is ignored and the build starts afresh.
 *
 * Layout (little-endian): "CXRNCKP\0", u32 version, u32 header length, header JSON, then each
 * part's state arrays' bytes padded to 8, then u32 CRC-32 of everything before it.
 * Writing is asynchronous and yields between chunks: a GPT-2-small state is about 100 MB, whose
 * checksum and write took 0.7 s of the event loop (everyone's streams) when done in one go.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { AtomicWriter } from './atomic-file.js';
import { bytesOf, crc32 } from './crc32.js';
import { IndexState, type IndexParams } from './index-state.js';

const MAGIC = 'CXRNCKP\0';
const VERSION = 2;

/** One part of a build: its name ('neurons', `features:<key>`) and its state's parameters. */
export interface CheckpointPart {
  name: string;
  params: IndexParams;
}

export interface CheckpointHeader {
  modelKey: string;
  corpusKey: string;
  parts: CheckpointPart[];
  contextsDone: number;
}

const pad8 = (n: number) => (8 - (n % 8)) % 8;

const CHUNK = 4 << 20;
const pause = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Writes the parts' states (all at the same contextsDone) atomically (temporary file, fsync,
 * rename); no state may change until it resolves (the build awaits it between batches). */
export async function writeCheckpoint(
  path: string, parts: { name: string; state: IndexState }[], keys: { modelKey: string; corpusKey: string },
): Promise<void> {
  const contextsDone = parts[0]!.state.contextsDone;
  if (parts.some((p) => p.state.contextsDone !== contextsDone)) throw new Error('checkpoint: the parts disagree on the contexts done');
  const header: CheckpointHeader = { ...keys, parts: parts.map((p) => ({ name: p.name, params: p.state.params })), contextsDone };
  const json = Buffer.from(JSON.stringify(header));
  const head = Buffer.alloc(16 + json.length + pad8(16 + json.length));
  head.write(MAGIC, 0, 'latin1');
  head.writeUInt32LE(VERSION, 8);
  head.writeUInt32LE(json.length, 12);
  json.copy(head, 16);
  const chunks: Uint8Array[] = [head];
  for (const array of parts.flatMap((p) => p.state.arrays())) {
    chunks.push(bytesOf(array));
    const padding = pad8(array.byteLength);
    if (padding > 0) chunks.push(new Uint8Array(padding));
  }
  const writer = await AtomicWriter.create(path);
  try {
    let crc = 0;
    let at = 0;
    for (const part of chunks) {
      for (let offset = 0; offset < part.byteLength; offset += CHUNK) {
        const chunk = part.subarray(offset, Math.min(part.byteLength, offset + CHUNK));
        crc = crc32(chunk, crc);
        await writer.write(chunk, at); // on libuv's threads
        at += chunk.byteLength;
        if (chunk.byteLength === CHUNK) await pause();
      }
    }
    const trailer = Buffer.alloc(4);
    trailer.writeUInt32LE(crc, 0);
    await writer.write(trailer, at);
    await writer.commit();
  } catch (error) {
    await writer.abort();
    throw error;
  }
}

/** The parts' states saved at `path` (in the order asked) when it is intact and belongs to this
 * build (same keys, parts and parameters), else null. */
export function readCheckpoint(path: string, expected: { modelKey: string; corpusKey: string; parts: CheckpointPart[] }): IndexState[] | null {
  if (!existsSync(path)) return null;
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch {
    return null;
  }
  if (bytes.length < 20 || bytes.toString('latin1', 0, 8) !== MAGIC || bytes.readUInt32LE(8) !== VERSION) return null;
  if (crc32(bytes.subarray(0, bytes.length - 4)) !== bytes.readUInt32LE(bytes.length - 4)) return null;
  const jsonLength = bytes.readUInt32LE(12);
  let header: CheckpointHeader;
  try {
    header = JSON.parse(bytes.toString('utf8', 16, 16 + jsonLength)) as CheckpointHeader;
  } catch {
    return null;
  }
  if (header.modelKey !== expected.modelKey || header.corpusKey !== expected.corpusKey) return null;
  if (JSON.stringify(header.parts) !== JSON.stringify(expected.parts)) return null;
  const states = expected.parts.map((p) => new IndexState(p.params));
  let at = 16 + jsonLength + pad8(16 + jsonLength);
  for (const array of states.flatMap((s) => s.arrays())) {
    if (at + array.byteLength > bytes.length - 4) return null;
    bytesOf(array).set(bytes.subarray(at, at + array.byteLength));
    at += array.byteLength + pad8(array.byteLength);
  }
  if (at !== bytes.length - 4) return null;
  for (const state of states) state.restored(header.contextsDone);
  return states;
}

/** Contexts an interrupted build's checkpoint holds, from its header alone (0 when none). */
export function checkpointContexts(path: string): number {
  if (!existsSync(path)) return 0;
  try {
    const fd = openSync(path, 'r');
    try {
      const head = Buffer.alloc(65536);
      const n = readSync(fd, head, 0, head.length, 0);
      if (n < 16 || head.toString('latin1', 0, 8) !== MAGIC) return 0;
      const length = head.readUInt32LE(12);
      if (n < 16 + length) return 0;
      return (JSON.parse(head.toString('utf8', 16, 16 + length)) as Partial<CheckpointHeader>).contextsDone ?? 0;
    } finally {
      closeSync(fd);
    }
  } catch {
    return 0;
  }
}
