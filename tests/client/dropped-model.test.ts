/**
 * A model folder as the page gets it (client/state/dropped-model.ts), from real files on disk:
 * only the files the model needs are read (the model card, golden files and transcoders are
 * not), a GPT-2-XL-sized config is refused before any weight is read, a folder without a model
 * is refused naming what it holds, and a llama2.c checkpoint is read with its tokenizer.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { memoryFiles } from '../../shared/engine/files.js';
import { loadModelFiles } from '../../shared/engine/loaders/model-files.js';
import { WASM32_MAX_BYTES } from '../../shared/engine/memory-estimate.js';
import { prepareModelFolder, type FolderFile, type ModelFolder } from '../../client/state/dropped-model.js';
import { needSharedFixtures, stories260K } from '../helpers/shared-fixtures.js';

const limits = { wasmBytes: WASM32_MAX_BYTES, jsHeapBytes: 4 * 2 ** 30, deviceBytes: 8 * 2 ** 30 };

/** A folder on disk as the page lists it; `read` collects the names whose whole bytes were read. */
function diskFolder(dir: string, name: string, read: string[]): ModelFolder {
  const files: FolderFile[] = [];
  const others: string[] = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (!statSync(path).isFile()) { others.push(`${entry}/`); continue; }
    files.push(bytesFile(entry, () => new Uint8Array(readFileSync(path)), read));
  }
  return { name, files, others };
}

function bytesFile(name: string, bytes: () => Uint8Array, read: string[]): FolderFile {
  const buffer = (b: Uint8Array) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  const size = bytes().byteLength;
  return {
    name, size,
    slice: (start, end) => ({ arrayBuffer: async () => buffer(bytes().subarray(start, end)) }),
    arrayBuffer: async () => { read.push(name); return buffer(bytes()); },
    text: async () => new TextDecoder().decode(bytes()),
  };
}

describe('a dropped model folder', () => {
  it('reads only what the bundled model needs, and the files load', async () => {
    const read: string[] = [];
    const prepared = await prepareModelFolder(diskFolder(resolve('assets/models/brown-gpt2'), 'brown-gpt2', read), limits);
    if (!prepared.ok) throw new Error(prepared.reason);
    expect(read.sort()).toEqual(['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    expect(prepared.ignored).toEqual(expect.arrayContaining(['MODEL_CARD.md', 'golden.safetensors', 'golden.json', 'transcoders/']));
    const files = new Map(Object.entries(prepared.model.files).map(([n, b]) => [n, new Uint8Array(b)]));
    const model = loadModelFiles(memoryFiles('brown-gpt2', files), [...files.keys()]);
    expect(model.decoder.spec.nLayers).toBe(4);
  });

  it('refuses a GPT-2-XL-sized folder before reading its weights, with the numbers', async () => {
    const read: string[] = [];
    const config = JSON.stringify({ architectures: ['GPT2LMHeadModel'], vocab_size: 50257, n_positions: 1024, n_embd: 1600, n_layer: 48, n_head: 25 });
    const folder: ModelFolder = {
      name: 'gpt2-xl',
      files: [bytesFile('config.json', () => new TextEncoder().encode(config), read), bytesFile('model.safetensors', () => new Uint8Array(64), read)],
      others: [],
    };
    const prepared = await prepareModelFolder(folder, limits);
    expect(prepared.ok).toBe(false);
    if (prepared.ok) return;
    expect(prepared.reason).toMatch(/^gpt2-xl needs about \d+\.\d GB in this browser \(weights 6\.6 GB as float32/);
    expect(prepared.reason).toContain('more than the 4 GB a WebAssembly engine can address');
    expect(read).toEqual([]);
  });

  it('refuses a folder without a model, naming what it holds', async () => {
    const read: string[] = [];
    const folder: ModelFolder = { name: 'holiday', files: [bytesFile('photo.jpg', () => new Uint8Array(5), read), bytesFile('notes.txt', () => new Uint8Array(3), read)], others: ['more/'] };
    const prepared = await prepareModelFolder(folder, limits);
    expect(prepared).toEqual({ ok: false, reason: 'holiday: no model found among 3 files (photo.jpg, notes.txt, more/); expected a Hugging Face folder (config.json + model.safetensors + tokenizer.json) or a llama2.c .bin checkpoint' });
    expect(read).toEqual([]);
  });

  it('refuses a config.json without weights, and a sharded index naming a missing shard', async () => {
    const config = readFileSync(resolve('assets/models/brown-gpt2/config.json'));
    const onlyConfig = await prepareModelFolder({ name: 'half', files: [bytesFile('config.json', () => config, [])], others: [] }, limits);
    expect(onlyConfig).toMatchObject({ ok: false, reason: 'half: config.json but no model.safetensors (or model.safetensors.index.json) among 1 file (config.json)' });
    const index = new TextEncoder().encode(JSON.stringify({ weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' } }));
    const sharded = await prepareModelFolder({ name: 'sharded', files: [bytesFile('config.json', () => config, []), bytesFile('model.safetensors.index.json', () => index, []), bytesFile('model-00001-of-00002.safetensors', () => new Uint8Array(8), [])], others: [] }, limits);
    expect(sharded).toMatchObject({ ok: false, reason: 'sharded: model.safetensors.index.json names model-00002-of-00002.safetensors, which is not in the folder' });
  });
});

describe.skipIf(!needSharedFixtures('the dropped stories260K folder', join(stories260K, 'stories260K.bin')))('a dropped llama2.c folder', () => {
  it('reads stories260K.bin and tok512.bin, not the README', async () => {
    const read: string[] = [];
    const prepared = await prepareModelFolder(diskFolder(stories260K, 'stories260K', read), limits);
    if (!prepared.ok) throw new Error(prepared.reason);
    expect(read.sort()).toEqual(['stories260K.bin', 'tok512.bin']);
    expect(prepared.need.basis).toBe('llama2.c header');
  });
});
