/**
 * loadModelFiles (shared/engine/loaders/model-files.ts) on files held in memory, as the in-browser
 * engine gets them from a dropped folder: the bundled Hugging Face folder (with the files a model
 * does not need beside it), the stories260K llama2.c checkpoint with its tokenizer, and the
 * worded refusals (no model among the files, safetensors without config.json, two checkpoints).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { memoryFiles } from '../../../shared/engine/files.js';
import { loadModelFiles } from '../../../shared/engine/loaders/model-files.js';
import { needSharedFixtures, stories260K } from '../../helpers/shared-fixtures.js';

/** Every plain file directly in `dir`, by name. */
function folderFiles(dir: string): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  for (const name of readdirSync(dir)) {
    if (statSync(join(dir, name)).isFile()) files.set(name, new Uint8Array(readFileSync(join(dir, name))));
  }
  return files;
}

function load(root: string, files: Map<string, Uint8Array>) {
  return loadModelFiles(memoryFiles(root, files), [...files.keys()]);
}

const text = (s: string) => new TextEncoder().encode(s);

describe('loadModelFiles on files in memory', () => {
  it('loads the bundled folder as dropped (model card, golden files beside it) and tokenizes with its tokenizer.json', () => {
    const files = folderFiles(resolve('assets/models/brown-gpt2'));
    expect([...files.keys()]).toEqual(expect.arrayContaining(['MODEL_CARD.md', 'golden.safetensors', 'config.json', 'model.safetensors', 'tokenizer.json']));
    const model = load('brown-gpt2', files);
    expect(model.decoder.spec).toMatchObject({ nLayers: 4, nHeads: 8, dModel: 256, vocabSize: 4096, contextLength: 128 });
    const ids = model.tokenizer.encode('The cat sat on the mat.');
    expect(ids.length).toBeGreaterThan(3);
    expect(model.tokenizer.decode(ids)).toBe('The cat sat on the mat.');
  });

  it('says no model was found, naming the files, when the folder holds none', () => {
    const files = new Map([['README.md', text('# notes')], ['photo.png', new Uint8Array(10)], ['notes.txt', text('x')]]);
    expect(() => load('holiday', files)).toThrow('holiday: no model found among 3 files (README.md, photo.png, notes.txt); expected a Hugging Face folder (config.json + model.safetensors + tokenizer.json) or a llama2.c .bin checkpoint');
  });

  it('says a config.json is needed beside safetensors weights', () => {
    const files = folderFiles(resolve('assets/models/brown-gpt2'));
    files.delete('config.json');
    expect(() => load('brown-gpt2', files)).toThrow('brown-gpt2: safetensors weights without a config.json; a Hugging Face model folder needs its config.json beside the weights');
  });

  it('says what is wrong with a config.json that is not one', () => {
    const files = folderFiles(resolve('assets/models/brown-gpt2'));
    files.set('config.json', text('{ "n_layer": '));
    expect(() => load('brown-gpt2', files)).toThrow(/^brown-gpt2\/config.json: not valid JSON/);
  });
});

describe.skipIf(!needSharedFixtures('loadModelFiles on stories260K', join(stories260K, 'stories260K.bin'), join(stories260K, 'tok512.bin')))('loadModelFiles on a llama2.c checkpoint', () => {
  it('loads stories260K.bin with tok512.bin (README beside them ignored) and round-trips text', () => {
    const files = folderFiles(stories260K);
    const model = load('stories260K', files);
    expect(model.decoder.spec).toMatchObject({ architecture: 'llama2.c', vocabSize: 512, nLayers: 5 });
    expect(model.tokenizer.vocabSize).toBe(512);
    const ids = model.tokenizer.encode('Once upon a time');
    expect(model.tokenizer.decode(ids).trim()).toBe('Once upon a time');
  });

  it('refuses two checkpoints, naming them', () => {
    const files = folderFiles(stories260K);
    files.set('stories260K-copy.bin', files.get('stories260K.bin')!);
    expect(() => load('stories', files)).toThrow('stories: several checkpoints (stories260K.bin, stories260K-copy.bin); drop a folder holding one');
  });
});
