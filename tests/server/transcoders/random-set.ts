/**
 * Writes random-weight transcoder sets in circuit-tracer's layout for the loader and forward
 * tests (with tests/helpers/safetensors.ts, which shares no code with server/), and returns the
 * tensors exactly as a reader sees them (after F16 rounding), always feature-major [F, d].
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DecoderSpec } from '../../../shared/engine/decoder.js';
import { seededRandom } from '../../../shared/engine/generate.js';
import { encodeSafetensors, roundTo, type Dtype, type HfTensor, type TensorMap } from '../../helpers/safetensors.js';

export type Kind = 'relu' | 'jumprelu' | 'topk';

export interface SetOptions {
  kind: Kind;
  skip: boolean;
  layers: number;
  d: number;
  F: number;
  k?: number;
  /** Store W_enc as [d, F] (Gemma Scope style). */
  transposedEncoder?: boolean;
  dtype?: Dtype;
  config?: 'yaml' | 'json' | 'none';
  seed?: number;
}

export type LayerWeights = Record<'W_enc' | 'W_dec' | 'b_enc' | 'b_dec', HfTensor> & { W_skip?: HfTensor; threshold?: HfTensor };

export function randomTensor(shape: number[], random: () => number, scale: number, offset = 0): HfTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return { shape, data: Float32Array.from({ length: n }, () => offset + (random() * 2 - 1) * scale) };
}

function transpose(t: HfTensor): HfTensor {
  const [r, c] = t.shape as [number, number];
  const data = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) data[j * r + i] = t.data[i * c + j]!;
  return { shape: [c, r], data };
}

/** Writes the set into `dir`; returns per-layer weights as stored (rounded), feature-major. */
export function writeRandomSet(dir: string, o: SetOptions): LayerWeights[] {
  mkdirSync(dir, { recursive: true });
  const random = seededRandom(o.seed ?? 1);
  const dtype = o.dtype ?? 'F32';
  const layers: LayerWeights[] = [];
  for (let l = 0; l < o.layers; l++) {
    const w: LayerWeights = {
      W_enc: randomTensor([o.F, o.d], random, 0.5),
      W_dec: randomTensor([o.F, o.d], random, 0.5),
      b_enc: randomTensor([o.F], random, 0.3),
      b_dec: randomTensor([o.d], random, 0.3),
    };
    if (o.skip) w.W_skip = randomTensor([o.d, o.d], random, 0.3);
    if (o.kind === 'jumprelu') w.threshold = randomTensor([o.F], random, 0.2, 0.3);
    const file: TensorMap = {};
    for (const [name, t] of Object.entries(w)) file[name] = name === 'W_enc' && o.transposedEncoder ? transpose(t) : t;
    writeFileSync(join(dir, `layer_${l}.safetensors`), encodeSafetensors(file, dtype));
    for (const t of Object.values(w)) t.data = roundTo(t.data, dtype);
    layers.push(w);
  }
  const activation = { relu: 'relu', jumprelu: 'jump_relu', topk: 'topk' }[o.kind];
  if (o.config === 'yaml' || o.config === undefined) {
    writeFileSync(join(dir, 'config.yaml'), [
      '# random transcoders for a test',
      'model_name: "test/tiny"',
      'feature_input_hook: "ln2.hook_normalized"',
      "feature_output_hook: 'hook_mlp_out'",
      `activation_function: ${activation}`,
      ...(o.kind === 'topk' ? [`k: ${o.k}`] : []),
      '',
      'transcoders:',
      ...Array.from({ length: o.layers }, (_, l) => [`  - id: "tiny-${l}"`, `    layer: ${l}`, `    filepath: "layer_${l}.safetensors"`, '']).flat(),
    ].join('\n'));
  } else if (o.config === 'json') {
    writeFileSync(join(dir, 'config.json'), JSON.stringify({
      model_name: 'test/tiny', feature_input_hook: 'hook_resid_mid', feature_output_hook: 'mlp.hook_out',
      activation_function: activation, ...(o.kind === 'topk' ? { k: o.k } : {}),
      transcoders: Array.from({ length: o.layers }, (_, l) => `hf://someone/tiny-transcoders/layer_${l}.safetensors?revision=main`),
    }));
  }
  return layers;
}

/** A model description with only what a transcoder set is checked against (layers, width) mattering. */
export function tinySpec(nLayers: number, dModel: number): DecoderSpec {
  return {
    architecture: 'GPT2LMHeadModel', nLayers, dModel, nHeads: 2, nKvHeads: 2, dHead: dModel / 2, dMlp: 4 * dModel,
    vocabSize: 16, contextLength: 8, norm: { kind: 'layernorm', eps: 1e-5 }, mlp: { kind: 'mlp', activation: 'gelu_new' },
    positional: { kind: 'learned' }, biases: { qkv: true, attnOut: true, mlp: true, unembed: false }, attnScale: 1 / Math.sqrt(dModel / 2),
  };
}
