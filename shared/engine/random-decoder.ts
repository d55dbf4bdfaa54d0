/**
 * Random weights in the canonical layout, for benchmarks (GPT-2-small shapes made on the
 * fly, never committed) and engine tests. Seeded, so figures are reproducible.
 */
import type { Decoder, DecoderSpec, Weights } from './decoder.js';
import { seededRandom } from './generate.js';

export function gpt2Spec(sizes: { nLayers: number; dModel: number; nHeads: number; vocabSize: number; contextLength: number }): DecoderSpec {
  return {
    architecture: 'GPT2LMHeadModel', ...sizes, nKvHeads: sizes.nHeads, dHead: sizes.dModel / sizes.nHeads,
    dMlp: 4 * sizes.dModel, norm: { kind: 'layernorm', eps: 1e-5 }, mlp: { kind: 'mlp', activation: 'gelu_new' },
    positional: { kind: 'learned' }, biases: { qkv: true, attnOut: true, mlp: true, unembed: false },
    attnScale: 1 / Math.sqrt(sizes.dModel / sizes.nHeads),
  };
}

export const gpt2SmallSpec = (): DecoderSpec =>
  gpt2Spec({ nLayers: 12, dModel: 768, nHeads: 12, vocabSize: 50257, contextLength: 1024 });
export const gpt2XlSpec = (): DecoderSpec =>
  gpt2Spec({ nLayers: 48, dModel: 1600, nHeads: 25, vocabSize: 50257, contextLength: 1024 });

/** Every canonical tensor the spec implies, filled with N(0, std)-ish noise (gains near 1). */
export function randomDecoder(spec: DecoderSpec, seed = 1, std = 0.02): Decoder {
  const random = seededRandom(seed);
  const noise = (n: number, scale: number, offset = 0) => {
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = offset + (random() * 2 - 1) * scale * Math.sqrt(3);
    return data;
  };
  const weights: Weights = {};
  const add = (name: string, shape: number[], scale = std, offset = 0) => {
    weights[name] = { shape, data: noise(shape.reduce((a, b) => a * b, 1), scale, offset) };
  };
  const { dModel: d, nHeads: H, nKvHeads: Hkv, dHead: dh, dMlp, vocabSize: V } = spec;
  const norm = (prefix: string) => {
    add(`${prefix}.w`, [d], 0.1, 1);
    if (spec.norm.kind === 'layernorm') add(`${prefix}.b`, [d], 0.02);
  };
  add('embed.W_E', [V, d], 0.1);
  if (spec.positional.kind === 'learned') add('pos_embed.W_pos', [spec.contextLength, d], 0.05);
  for (let l = 0; l < spec.nLayers; l++) {
    const b = `blocks.${l}`;
    norm(`${b}.ln1`);
    add(`${b}.attn.W_Q`, [d, H * dh]); add(`${b}.attn.W_K`, [d, Hkv * dh]);
    add(`${b}.attn.W_V`, [d, Hkv * dh]); add(`${b}.attn.W_O`, [H * dh, d]);
    if (spec.biases.qkv) { add(`${b}.attn.b_Q`, [H * dh]); add(`${b}.attn.b_K`, [Hkv * dh]); add(`${b}.attn.b_V`, [Hkv * dh]); }
    if (spec.biases.attnOut) add(`${b}.attn.b_O`, [d]);
    norm(`${b}.ln2`);
    add(`${b}.mlp.W_in`, [d, dMlp]); add(`${b}.mlp.W_out`, [dMlp, d]);
    if (spec.mlp.kind === 'gated') add(`${b}.mlp.W_gate`, [d, dMlp]);
    if (spec.biases.mlp) { add(`${b}.mlp.b_in`, [dMlp]); add(`${b}.mlp.b_out`, [d]); }
  }
  norm('ln_final');
  // Tied, as GPT-2: W_U = W_Eᵀ.
  const W_E = weights['embed.W_E']!.data;
  const W_U = new Float32Array(d * V);
  for (let v = 0; v < V; v++) for (let i = 0; i < d; i++) W_U[i * V + v] = W_E[v * d + i]!;
  weights['unembed.W_U'] = { shape: [d, V], data: W_U };
  if (spec.biases.unembed) add('unembed.b_U', [V]);
  return { spec, weights, source: `random(seed=${seed})` };
}

export function llamaSpec(sizes: {
  nLayers: number; dModel: number; nHeads: number; nKvHeads: number; dMlp: number; vocabSize: number; contextLength: number;
}): DecoderSpec {
  const dHead = sizes.dModel / sizes.nHeads;
  return {
    architecture: 'LlamaForCausalLM', ...sizes, dHead, norm: { kind: 'rmsnorm', eps: 1e-5 },
    mlp: { kind: 'gated', activation: 'silu' }, positional: { kind: 'rotary', theta: 10000 },
    biases: { qkv: false, attnOut: false, mlp: false, unembed: false }, attnScale: 1 / Math.sqrt(dHead),
  };
}
