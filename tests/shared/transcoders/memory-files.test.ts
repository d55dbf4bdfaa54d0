/**
 * Issue 14: the in-browser engine loads the bundled transcoders from fetched files
 * (shared/engine/files.ts memoryFiles) through the same loader as the server's folder. Here the
 * files are read into a Map as a page would fetch them (only config.yaml and the files
 * transcoderFileNames lists): the set equals the server's folder load tensor by tensor, bit for
 * bit; hosted, its live features of a real run equal the server's; and a missing layer file gives
 * the same words through both.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../../server/engine/load.js';
import { loadHostedTranscoders } from '../../../server/transcoders/live.js';
import { loadTranscoderSet as loadTranscoderFolder } from '../../../server/transcoders/load.js';
import type { LoadedModel, Tensor } from '../../../shared/engine/decoder.js';
import { memoryFiles } from '../../../shared/engine/files.js';
import { ModelRunner } from '../../../shared/engine/runner.js';
import { HostedTranscoders } from '../../../shared/transcoders/live.js';
import { loadTranscoderSet, transcoderFileNames } from '../../../shared/transcoders/load.js';

const modelDir = fileURLToPath(new URL('../../../assets/models/brown-gpt2', import.meta.url));
const setDir = join(modelDir, 'transcoders');

/** The folder's config and the files it lists, as the page would fetch them. */
function fetched(dir: string, skip: string[] = []): Map<string, Uint8Array> {
  const config = new Map([['config.yaml', new Uint8Array(readFileSync(join(dir, 'config.yaml')))]]);
  const names = ['config.yaml', ...transcoderFileNames(memoryFiles(dir, config), 4, 'config.yaml')];
  return new Map(names.filter((n) => !skip.includes(n)).map((n) => [n, new Uint8Array(readFileSync(join(dir, n)))]));
}

function expectSameTensor(a: Tensor | null, b: Tensor | null, what: string): void {
  expect(a === null, `${what} present in one load only`).toBe(b === null);
  if (!a || !b) return;
  expect(a.shape, what).toEqual(b.shape);
  expect(a.data.length, what).toBe(b.data.length);
  // Bit for bit: compare the float32 words as integers.
  const x = new Uint32Array(a.data.buffer, a.data.byteOffset, a.data.length);
  const y = new Uint32Array(b.data.buffer, b.data.byteOffset, b.data.length);
  let differing = 0;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) differing++;
  expect(differing, `${what}: elements that differ`).toBe(0);
}

let model: LoadedModel;
beforeAll(async () => {
  model = await loadModel(modelDir);
});

describe('bundled transcoders through memoryFiles', () => {
  it('lists exactly the four layer files of the config', () => {
    const config = memoryFiles(setDir, new Map([['config.yaml', new Uint8Array(readFileSync(join(setDir, 'config.yaml')))]]));
    expect(transcoderFileNames(config, model.decoder.spec.nLayers, 'config.yaml'))
      .toEqual([0, 1, 2, 3].map((l) => `layer_${l}.safetensors`));
    expect(transcoderFileNames(config, 2)).toEqual(['layer_0.safetensors', 'layer_1.safetensors']);
  });

  it('equal the folder load tensor by tensor, exactly', () => {
    const spec = model.decoder.spec;
    const fromFolder = loadTranscoderFolder(setDir, spec);
    const fromMemory = loadTranscoderSet(memoryFiles(setDir, fetched(setDir)), spec);
    const { layers: folderLayers, ...folderRest } = fromFolder;
    const { layers: memoryLayers, ...memoryRest } = fromMemory;
    expect(memoryRest).toEqual(folderRest);
    expect(memoryRest.activation.kind).toBe('jumprelu');
    expect(memoryLayers).toHaveLength(spec.nLayers);
    memoryLayers.forEach((m, l) => {
      const f = folderLayers[l]!;
      expect({ layer: m.layer, id: m.id, path: m.path, nFeatures: m.nFeatures }).toEqual({ layer: f.layer, id: f.id, path: f.path, nFeatures: f.nFeatures });
      for (const name of ['W_enc', 'W_dec', 'b_enc', 'b_dec', 'W_skip', 'threshold'] as const) {
        expectSameTensor(m[name], f[name], `layer ${l} ${name}`);
      }
    });
  });

  it('hosted, give the same live features of a run as the server’s', async () => {
    const fromMemory = await HostedTranscoders.load(memoryFiles('models/brown-gpt2/transcoders', fetched(setDir)), model.decoder);
    const fromFolder = await loadHostedTranscoders(setDir, model.decoder);
    const runner = await ModelRunner.create(model.decoder);
    try {
      expect(fromMemory.info()).toEqual({ ...fromFolder.info(), source: 'models/brown-gpt2/transcoders/config.yaml' });
      expect(fromMemory.hooks).toEqual(fromFolder.hooks);
      const tokens = model.tokenizer.encode('The jury said the election was conducted fairly');
      const { cache } = await runner.run([tokens], { hooks: fromFolder.hooks });
      const [a, b] = [await fromMemory.features(cache), await fromFolder.features(cache)];
      expect(a).toHaveLength(tokens.length);
      expect(a.reduce((n, p) => n + p.indices.length, 0)).toBeGreaterThan(0);
      expect(a).toEqual(b);
    } finally {
      await Promise.all([fromMemory.dispose(), fromFolder.dispose(), runner.dispose()]);
    }
  });
});

describe('a missing layer file', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'transcoders-missing-'));
    for (const name of ['config.yaml', 'layer_0.safetensors', 'layer_1.safetensors', 'layer_3.safetensors']) copyFileSync(join(setDir, name), join(dir, name));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is named in the same words through the folder and through memoryFiles', () => {
    const spec = model.decoder.spec;
    const folderError = catchMessage(() => loadTranscoderFolder(dir, spec));
    const memoryError = catchMessage(() => loadTranscoderSet(memoryFiles(dir, fetched(setDir, ['layer_2.safetensors'])), spec));
    expect(folderError).toBe(`${join(dir, 'config.yaml')}: transcoder file not found: ${join(dir, 'layer_2.safetensors')}`);
    expect(memoryError).toBe(folderError);
  });
});

function catchMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected an error');
}
