/**
 * Compiles a `Decoder` into one ONNX graph that serves both a full run and incremental
 * decoding: past keys/values come in (length P, zero for a fresh run) and present ones go
 * out. Every hook of INTERP.md is a graph output; a run fetches only the ones it asks for.
 *
 * Legend: B batch, T new positions, P past positions, S = P + T, d width, H query heads,
 * Hkv key/value heads, G = H / Hkv, dh head width, d_mlp MLP width, V vocabulary.
 *
 * Graph inputs:
 *   input_ids       int64 [B, T]
 *   position_ids    int64 [B, T]             (learned positions)
 *   rope_cos/sin    f32   [B, T, 1, dh]      (rotary; cos/sin of each pair's angle, halves repeated)
 *   attention_bias  f32   [B, 1, T, S]       (0 where a query may attend, -inf elsewhere)
 *   past_key.{l}    f32   [B, Hkv, P, dh]    and past_value.{l}
 * Op set 17, plain ops only (no contrib ops), so onnxruntime-node and -web both run it.
 */
import type { Decoder, DecoderSpec, Tensor } from '../decoder.js';
import { hookName } from '../hooks.js';
import { attr, GraphBuilder } from './graph-builder.js';
import { DataType } from './proto.js';

export const OPSET = 17;

export const graphInput = {
  inputIds: 'input_ids',
  positionIds: 'position_ids',
  ropeCos: 'rope_cos',
  ropeSin: 'rope_sin',
  attentionBias: 'attention_bias',
  pastKey: (l: number) => `past_key.${l}`,
  pastValue: (l: number) => `past_value.${l}`,
  presentKey: (l: number) => `present_key.${l}`,
  presentValue: (l: number) => `present_value.${l}`,
};

/** Shape of each hook output, batch first, with symbolic B, T, S. */
export function hookShapes(spec: DecoderSpec): Record<string, (number | string)[]> {
  const { dModel: d, nHeads: H, nKvHeads: Hkv, dHead: dh, dMlp } = spec;
  const shapes: Record<string, (number | string)[]> = {
    [hookName.embed]: ['B', 'T', d],
    [hookName.lnFinalScale]: ['B', 'T', 1],
    [hookName.logits]: ['B', 'T', spec.vocabSize],
  };
  if (spec.positional.kind === 'learned') shapes[hookName.posEmbed] = ['B', 'T', d];
  for (let l = 0; l < spec.nLayers; l++) {
    for (const name of [hookName.residPre(l), hookName.attnOut(l), hookName.residMid(l), hookName.mlpOut(l), hookName.residPost(l)]) {
      shapes[name] = ['B', 'T', d];
    }
    shapes[hookName.ln1Scale(l)] = ['B', 'T', 1];
    shapes[hookName.ln2Scale(l)] = ['B', 'T', 1];
    shapes[hookName.q(l)] = ['B', 'T', H, dh];
    shapes[hookName.k(l)] = ['B', 'T', Hkv, dh];
    shapes[hookName.v(l)] = ['B', 'T', Hkv, dh];
    shapes[hookName.pattern(l)] = ['B', H, 'T', 'S'];
    shapes[hookName.z(l)] = ['B', 'T', H, dh];
    shapes[hookName.mlpPre(l)] = ['B', 'T', dMlp];
    if (spec.mlp.kind === 'gated') shapes[hookName.mlpPreLinear(l)] = ['B', 'T', dMlp];
    shapes[hookName.mlpPost(l)] = ['B', 'T', dMlp];
  }
  return shapes;
}

class DecoderGraph {
  readonly g = new GraphBuilder(OPSET);
  private readonly shapes: Record<string, (number | string)[]>;

  constructor(
    private readonly spec: DecoderSpec,
    private readonly weights: Record<string, Tensor>,
    private readonly interventions: ReadonlySet<string>,
  ) {
    this.shapes = hookShapes(spec);
  }

  private w(name: string): string {
    const tensor = this.weights[name];
    if (!tensor) throw new Error(`compiler: weight ${name} is missing`);
    return this.g.weight(name, tensor);
  }

  private has(name: string): boolean {
    return name in this.weights;
  }

  /** Names a value as a hook: an Identity node whose output is a graph output. A hook listed
   * in `interventions` first gets an input `delta.<hook>` added to it (ablations, tests). */
  private hook(value: string, name: string): string {
    const shape = this.shapes[name]!;
    if (this.interventions.has(name)) {
      value = this.g.op('Add', [value, this.g.input(`delta.${name}`, DataType.FLOAT, shape)]);
    }
    return this.g.output(value, name, shape);
  }

  /** x @ W (+ b). */
  private linear(x: string, weight: string, bias?: string): string {
    const y = this.g.op('MatMul', [x, this.w(weight)]);
    return bias && this.has(bias) ? this.g.op('Add', [y, this.w(bias)]) : y;
  }

  /** Normalisation with its scale exposed: LayerNorm γ(x-μ)/s+β, s = √(var+ε); RMSNorm γx/s, s = √(mean x²+ε). */
  private norm(x: string, prefix: string, scaleHook: string): string {
    const { g } = this;
    const eps = g.scalar(this.spec.norm.eps);
    const lastAxis = [attr.ints('axes', [-1]), attr.int('keepdims', 1)];
    const centred = this.spec.norm.kind === 'layernorm'
      ? g.op('Sub', [x, g.op('ReduceMean', [x], lastAxis)])
      : x;
    const meanSquare = g.op('ReduceMean', [g.op('Mul', [centred, centred])], lastAxis);
    const scale = this.hook(g.op('Sqrt', [g.op('Add', [meanSquare, eps])]), scaleHook); // [B, T, 1]
    const normed = g.op('Mul', [g.op('Div', [centred, scale]), this.w(`${prefix}.w`)]);
    return this.has(`${prefix}.b`) ? g.op('Add', [normed, this.w(`${prefix}.b`)]) : normed;
  }

  private activation(x: string): string {
    const { g } = this;
    switch (this.spec.mlp.activation) {
      case 'gelu': // 0.5 x (1 + erf(x / √2))
        return g.op('Mul', [g.op('Mul', [x, g.scalar(0.5)]),
          g.op('Add', [g.scalar(1), g.op('Erf', [g.op('Div', [x, g.scalar(Math.SQRT2)])])])]);
      case 'gelu_new': { // 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))
        const cube = g.op('Mul', [g.op('Mul', [x, x]), x]);
        const inner = g.op('Mul', [g.op('Add', [x, g.op('Mul', [cube, g.scalar(0.044715)])]), g.scalar(Math.sqrt(2 / Math.PI))]);
        return g.op('Mul', [g.op('Mul', [x, g.scalar(0.5)]), g.op('Add', [g.scalar(1), g.op('Tanh', [inner])])]);
      }
      case 'silu':
        return g.op('Mul', [x, g.op('Sigmoid', [x])]);
      case 'relu':
        return g.op('Relu', [x]);
    }
  }

  /** Rotary embedding on [B, T, heads, dh], rotate_half pairing (i with i + dh/2). */
  private rotary(x: string): string {
    const { g } = this;
    const half = this.spec.dHead / 2;
    const [x1, x2] = g.opMulti('Split', [x, g.int64s([half, half])], 2, [attr.int('axis', -1)]);
    const rotated = g.op('Concat', [g.op('Neg', [x2!]), x1!], [attr.int('axis', -1)]);
    return g.op('Add', [g.op('Mul', [x, graphInput.ropeCos]), g.op('Mul', [rotated, graphInput.ropeSin])]);
  }

  private attention(l: number, x: string): string {
    const { g, spec } = this;
    const { nHeads: H, nKvHeads: Hkv, dHead: dh } = spec;
    const p = `blocks.${l}.attn`;
    const heads = (t: string, n: number) => g.op('Reshape', [t, g.int64s([0, 0, n, dh])]); // [B, T, n, dh]
    let q = heads(this.linear(x, `${p}.W_Q`, `${p}.b_Q`), H);
    let k = heads(this.linear(x, `${p}.W_K`, `${p}.b_K`), Hkv);
    const v = heads(this.linear(x, `${p}.W_V`, `${p}.b_V`), Hkv);
    if (spec.positional.kind === 'rotary') {
      q = this.rotary(q);
      k = this.rotary(k);
    }
    q = this.hook(q, hookName.q(l));
    k = this.hook(k, hookName.k(l));
    const vHooked = this.hook(v, hookName.v(l));
    // KV cache: append this run's keys/values to the past ones → [B, Hkv, S, dh].
    const toHeadMajor = [attr.ints('perm', [0, 2, 1, 3])];
    const keys = g.op('Concat', [graphInput.pastKey(l), g.op('Transpose', [k], toHeadMajor)], [attr.int('axis', 2)]);
    const values = g.op('Concat', [graphInput.pastValue(l), g.op('Transpose', [vHooked], toHeadMajor)], [attr.int('axis', 2)]);
    g.output(keys, graphInput.presentKey(l), ['B', Hkv, 'S', dh]);
    g.output(values, graphInput.presentValue(l), ['B', Hkv, 'S', dh]);
    // Grouped heads: query head h = kv * G + j reads key/value head kv, so the G query heads
    // of one kv head are stacked along the position axis: [B, Hkv, G*T, dh].
    const grouped = (t: string) => g.op('Reshape', [t, g.int64s([0, Hkv, -1, 0])]);
    const byHead = (t: string) => g.op('Reshape', [t, g.int64s([0, H, -1, 0])]);
    const qGrouped = grouped(g.op('Transpose', [q], toHeadMajor)); // [B, Hkv, G*T, dh]
    const keysT = g.op('Transpose', [keys], [attr.ints('perm', [0, 1, 3, 2])]); // [B, Hkv, dh, S]
    const scores = byHead(g.op('Mul', [g.op('MatMul', [qGrouped, keysT]), g.scalar(spec.attnScale)])); // [B, H, T, S]
    const pattern = this.hook(
      g.op('Softmax', [g.op('Add', [scores, graphInput.attentionBias])], [attr.int('axis', -1)]),
      hookName.pattern(l)); // [B, H, T, S]
    const zHeadMajor = byHead(g.op('MatMul', [grouped(pattern), values])); // [B, H, T, dh]
    const z = this.hook(g.op('Transpose', [zHeadMajor], toHeadMajor), hookName.z(l)); // [B, T, H, dh]
    const zFlat = g.op('Reshape', [z, g.int64s([0, 0, H * dh])]);
    return this.linear(zFlat, `${p}.W_O`, `${p}.b_O`);
  }

  private mlp(l: number, x: string): string {
    const { g, spec } = this;
    const p = `blocks.${l}.mlp`;
    let post: string;
    if (spec.mlp.kind === 'gated') {
      const gate = this.hook(this.linear(x, `${p}.W_gate`, `${p}.b_gate`), hookName.mlpPre(l));
      const up = this.hook(this.linear(x, `${p}.W_in`, `${p}.b_in`), hookName.mlpPreLinear(l));
      post = g.op('Mul', [this.activation(gate), up]);
    } else {
      post = this.activation(this.hook(this.linear(x, `${p}.W_in`, `${p}.b_in`), hookName.mlpPre(l)));
    }
    post = this.hook(post, hookName.mlpPost(l)); // [B, T, d_mlp]
    return this.linear(post, `${p}.W_out`, `${p}.b_out`);
  }

  build(): GraphBuilder {
    const { g, spec } = this;
    const { nKvHeads: Hkv, dHead: dh } = spec;
    g.input(graphInput.inputIds, DataType.INT64, ['B', 'T']);
    g.input(graphInput.attentionBias, DataType.FLOAT, ['B', 1, 'T', 'S']);
    for (let l = 0; l < spec.nLayers; l++) {
      g.input(graphInput.pastKey(l), DataType.FLOAT, ['B', Hkv, 'P', dh]);
      g.input(graphInput.pastValue(l), DataType.FLOAT, ['B', Hkv, 'P', dh]);
    }

    let resid = this.hook(g.op('Gather', [this.w('embed.W_E'), graphInput.inputIds]), hookName.embed); // [B, T, d]
    if (spec.positional.kind === 'learned') {
      g.input(graphInput.positionIds, DataType.INT64, ['B', 'T']);
      const pos = this.hook(g.op('Gather', [this.w('pos_embed.W_pos'), graphInput.positionIds]), hookName.posEmbed);
      resid = g.op('Add', [resid, pos]);
    } else {
      g.input(graphInput.ropeCos, DataType.FLOAT, ['B', 'T', 1, dh]);
      g.input(graphInput.ropeSin, DataType.FLOAT, ['B', 'T', 1, dh]);
    }

    for (let l = 0; l < spec.nLayers; l++) {
      resid = this.hook(resid, hookName.residPre(l));
      const attnOut = this.hook(this.attention(l, this.norm(resid, `blocks.${l}.ln1`, hookName.ln1Scale(l))), hookName.attnOut(l));
      resid = this.hook(g.op('Add', [resid, attnOut]), hookName.residMid(l)); // residual connection
      const mlpOut = this.hook(this.mlp(l, this.norm(resid, `blocks.${l}.ln2`, hookName.ln2Scale(l))), hookName.mlpOut(l));
      resid = this.hook(g.op('Add', [resid, mlpOut]), hookName.residPost(l)); // residual connection
    }

    const final = this.norm(resid, 'ln_final', hookName.lnFinalScale);
    this.hook(this.linear(final, 'unembed.W_U', 'unembed.b_U'), hookName.logits); // [B, T, V]
    return g;
  }
}

/** Builds the decoder graph (weights as initializers). `interventions`: hooks that get an
 * additive `delta.<hook>` input, same shape as the hook. */
export function buildDecoderGraph(decoder: Decoder, interventions: string[] = []): GraphBuilder {
  return new DecoderGraph(decoder.spec, decoder.weights, new Set(interventions)).build();
}
