/**
 * The transcoder-set loader: random-weight sets of each kind (ReLU, JumpReLU, TopK; with and
 * without skip; YAML, JSON with hf:// paths, or no config; Gemma Scope's transposed W_enc; F16)
 * read back exactly as written, and bad or mismatched files refused with one error naming the
 * file and the tensor.
 */
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTranscoderSet } from '../../../server/transcoders/load.js';
import { encodeSafetensors } from '../../helpers/safetensors.js';
import { tinySpec, writeRandomSet, type SetOptions } from './random-set.js';


const root = mkdtempSync(join(tmpdir(), 'transcoders-load-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let counter = 0;
const fresh = (o: SetOptions) => {
  const dir = join(root, String(counter++));
  return { dir, weights: writeRandomSet(dir, o) };
};

describe('loadTranscoderSet reads every kind', () => {
  const cases: [string, SetOptions, object][] = [
    ['ReLU without skip (YAML)', { kind: 'relu', skip: false, layers: 2, d: 6, F: 10 }, { kind: 'relu' }],
    ['JumpReLU with skip, F16', { kind: 'jumprelu', skip: true, layers: 2, d: 6, F: 10, dtype: 'F16' }, { kind: 'jumprelu' }],
    ['TopK with skip', { kind: 'topk', skip: true, layers: 3, d: 6, F: 12, k: 3 }, { kind: 'topk', k: 3 }],
    ['Gemma Scope: JumpReLU, W_enc stored [d, F]', { kind: 'jumprelu', skip: false, layers: 2, d: 6, F: 9, transposedEncoder: true }, { kind: 'jumprelu' }],
    ['JSON config listing hf:// paths', { kind: 'relu', skip: true, layers: 2, d: 6, F: 10, config: 'json' }, { kind: 'relu' }],
    ['no config, layer_{l}.safetensors, threshold found', { kind: 'jumprelu', skip: true, layers: 2, d: 6, F: 10, config: 'none' }, { kind: 'jumprelu' }],
  ];
  for (const [name, options, activation] of cases) {
    it(name, () => {
      const { dir, weights } = fresh(options);
      const set = loadTranscoderSet(dir, tinySpec(options.layers, options.d));
      expect(set.activation).toEqual(activation);
      expect(set.layers).toHaveLength(options.layers);
      expect(set.inputHook).toBe(options.config === 'json' ? 'hook_resid_mid' : 'ln2.hook_normalized');
      for (const [l, layer] of set.layers.entries()) {
        expect(layer.layer).toBe(l);
        expect(layer.nFeatures).toBe(options.F);
        expect(layer.W_enc.shape).toEqual([options.F, options.d]);
        expect(Array.from(layer.W_enc.data)).toEqual(Array.from(weights[l]!.W_enc.data));
        expect(Array.from(layer.W_dec.data)).toEqual(Array.from(weights[l]!.W_dec.data));
        expect(Array.from(layer.b_enc.data)).toEqual(Array.from(weights[l]!.b_enc.data));
        expect(Array.from(layer.b_dec.data)).toEqual(Array.from(weights[l]!.b_dec.data));
        expect(layer.W_skip ? Array.from(layer.W_skip.data) : null).toEqual(weights[l]!.W_skip ? Array.from(weights[l]!.W_skip!.data) : null);
        expect(layer.threshold ? Array.from(layer.threshold.data) : null).toEqual(weights[l]!.threshold ? Array.from(weights[l]!.threshold!.data) : null);
      }
    });
  }
});

describe('loadTranscoderSet refuses bad sets with one clear error', () => {
  const base: SetOptions = { kind: 'jumprelu', skip: true, layers: 2, d: 6, F: 10 };
  const spec = tinySpec(2, 6);

  it('a width that does not match the model names the file and tensor', () => {
    const { dir } = fresh(base);
    expect(() => loadTranscoderSet(dir, tinySpec(2, 8))).toThrow(/layer_0\.safetensors: tensor "W_enc" has shape \[10, 6\], expected \[10, 8\]/);
  });

  it('a missing layer', () => {
    const { dir } = fresh({ ...base, layers: 2 });
    expect(() => loadTranscoderSet(dir, tinySpec(3, 6))).toThrow(/no transcoder for layer 2 \(the model has 3/);
  });

  it('a layer beyond the model', () => {
    const { dir } = fresh({ ...base, layers: 3 });
    expect(() => loadTranscoderSet(dir, spec)).toThrow(/is for layer 2 but the model has 2 layers/);
  });

  it('two files for one layer', () => {
    const { dir } = fresh(base);
    const yaml = readFileSync(join(dir, 'config.yaml'), 'utf8').replace('layer: 1', 'layer: 0');
    writeFileSync(join(dir, 'config.yaml'), yaml);
    expect(() => loadTranscoderSet(dir, spec)).toThrow(/layer 0 has two transcoders/);
  });

  it('a NaN in a tensor names the file, tensor and index', () => {
    const { dir, weights } = fresh(base);
    const w = weights[1]!;
    w.b_enc.data[3] = Number.NaN;
    writeFileSync(join(dir, 'layer_1.safetensors'), encodeSafetensors({ ...w } as never));
    expect(() => loadTranscoderSet(dir, spec)).toThrow(/layer_1\.safetensors: tensor "b_enc" holds NaN at \[3\]/);
  });

  it('a wrong shape of W_skip and of threshold', () => {
    const { dir, weights } = fresh(base);
    writeFileSync(join(dir, 'layer_0.safetensors'), encodeSafetensors({ ...weights[0]!, W_skip: { shape: [6, 5], data: new Float32Array(30) } } as never));
    expect(() => loadTranscoderSet(dir, spec)).toThrow(/layer_0\.safetensors: tensor "W_skip" has shape \[6, 5\], expected \[6, 6\]/);
    writeFileSync(join(dir, 'layer_0.safetensors'), encodeSafetensors({ ...weights[0]!, threshold: { shape: [9], data: new Float32Array(9) } } as never));
    expect(() => loadTranscoderSet(dir, spec)).toThrow(/layer_0\.safetensors: tensor "threshold" has shape \[9\], expected \[10\]/);
  });

  it('a missing tensor lists what the file holds', () => {
    const { dir, weights } = fresh(base);
    const { W_dec: _dropped, ...rest } = weights[0]!;
    writeFileSync(join(dir, 'layer_0.safetensors'), encodeSafetensors(rest as never));
    expect(() => loadTranscoderSet(dir, spec)).toThrow(/layer_0\.safetensors: missing tensor "W_dec" \(found /);
  });

  it('the config and the files disagree on the activation', () => {
    const { dir } = fresh({ ...base, kind: 'relu' });
    writeFileSync(join(dir, 'config.yaml'), readFileSync(join(dir, 'config.yaml'), 'utf8').replace('activation_function: relu', 'activation_function: jump_relu'));
    expect(() => loadTranscoderSet(dir, spec)).toThrow(/config says jump_relu but the file has no "threshold" tensor/);
  });

  it('an hf:// file that is not on disk, an unknown hook, a missing directory', () => {
    const { dir } = fresh({ ...base, config: 'json' });
    rmSync(join(dir, 'layer_1.safetensors'));
    expect(() => loadTranscoderSet(dir, spec)).toThrow(/hf:\/\/someone\/tiny-transcoders\/layer_1\.safetensors\?revision=main is not on disk/);
    const other = fresh(base).dir;
    writeFileSync(join(other, 'config.yaml'), readFileSync(join(other, 'config.yaml'), 'utf8').replace('"ln2.hook_normalized"', '"hook_resid_pre"'));
    expect(() => loadTranscoderSet(other, spec)).toThrow(/feature_input_hook "hook_resid_pre" is not supported/);
    expect(() => loadTranscoderSet(join(root, 'nowhere'), spec)).toThrow(/Transcoder directory not found/);
  });
});
