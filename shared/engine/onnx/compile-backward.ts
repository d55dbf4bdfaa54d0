/**
 * Compiles the backward pass of a `Decoder` into an ONNX graph: vector-Jacobian products for
 * N cotangent rows at once (matrix products, not one vector at a time), read in reverse model
 * order like llm.c's backward. The forward activations come in as inputs named by their hooks
 * (batch 1, broadcast over the N rows), so a forward run's cache is the feed.
 *
 * Three modes:
 *  - `full`: the exact gradient of the model. Cotangent `grad.ln_final.out` [N, T, d] on the
 *    final normalisation's output (= dlogits W_Uᵀ). Outputs ∂/∂ `blocks.l.mlp.hook_post`,
 *    ∂/∂ `blocks.l.attn.hook_z`, ∂/∂ `hook_embed`.
 *  - `linear`: the model linearised around the prompt (INTERP.md, attribution graph): attention
 *    patterns and normalisation scales frozen, no gradient through MLP non-linearities (each
 *    neuron is a node). Cotangents: `grad.ln_final.out` and `inject.l` [N, T, d] on each MLP's
 *    input (its ln2 output), so target nodes of any layer share one pass. Outputs the edge
 *    weights into every neuron `edges.l` [N, T, d_mlp] and embedding `edges.embed` [N, T], the
 *    constant terms `constants` [N] (biases, norm offsets, position embeddings), and the
 *    gradient at each block's output `grad.blocks.l.hook_resid_post` [N, T, d], from which any
 *    single edge is one dot product (a_s · W_out[s]·g).
 *  - `replacement`: the linearised replacement model of a transcoder set (server/transcoders/):
 *    as `linear`, but each MLP is its transcoder, whose skip connection x W_skipᵀ is linear, so
 *    the gradient flows through it (through ln2's frozen scale). The decoder passed in carries
 *    `blocks.l.transcoder.W_skip` [d, d] (when the set has skips) and `blocks.l.transcoder.offset`
 *    [d] = b_dec + β₂ W_skipᵀ (the MLP output's constant); no `edges.l` outputs (features are
 *    read off `grad.blocks.l.hook_resid_post`).
 *
 * Legend: N cotangent rows, T positions, d width, H heads, Hkv kv heads, G = H / Hkv,
 * dh head width, m = d_mlp.
 */
import type { Decoder, DecoderSpec } from '../decoder.js';
import { hookName } from '../hooks.js';
import { graphInput, OPSET } from './compile.js';
import { attr, GraphBuilder } from './graph-builder.js';
import { DataType } from './proto.js';

export type BackwardMode = 'full' | 'linear' | 'replacement';

export const backwardName = {
  gradFinal: 'grad.ln_final.out',
  inject: (l: number) => `inject.${l}`,
  gradMlpPost: (l: number) => `grad.${hookName.mlpPost(l)}`,
  gradZ: (l: number) => `grad.${hookName.z(l)}`,
  gradEmbed: `grad.${hookName.embed}`,
  gradResidPost: (l: number) => `grad.${hookName.residPost(l)}`,
  edges: (l: number) => `edges.${l}`,
  edgesEmbed: 'edges.embed',
  constants: 'constants',
};

/** Forward hooks the backward graph reads, for a given mode. */
export function backwardInputs(spec: DecoderSpec, mode: BackwardMode): string[] {
  const names: string[] = [hookName.lnFinalScale];
  if (mode !== 'full') {
    names.push(hookName.embed);
    if (spec.positional.kind === 'learned') names.push(hookName.posEmbed);
  } else {
    names.push(hookName.residPost(spec.nLayers - 1));
  }
  for (let l = 0; l < spec.nLayers; l++) {
    names.push(hookName.ln1Scale(l), hookName.pattern(l), hookName.ln2Scale(l));
    if (mode === 'linear') {
      names.push(hookName.mlpPost(l));
    } else if (mode === 'full') {
      names.push(hookName.residPre(l), hookName.residMid(l), hookName.q(l), hookName.k(l), hookName.v(l), hookName.mlpPre(l));
      if (spec.mlp.kind === 'gated') names.push(hookName.mlpPreLinear(l));
    }
  }
  return names;
}

class BackwardGraph {
  readonly g = new GraphBuilder(OPSET);
  private readonly weightNames = new Set<string>();
  private constantTerms: string[] = [];

  constructor(private readonly decoder: Decoder, private readonly mode: BackwardMode) {}

  private get spec(): DecoderSpec {
    return this.decoder.spec;
  }

  private has(name: string): boolean {
    return name in this.decoder.weights;
  }

  /** A weight of the decoder, as an initializer that shares its bytes (added once). */
  private w(name: string): string {
    if (this.weightNames.has(name)) return name;
    const tensor = this.decoder.weights[name];
    if (!tensor) throw new Error(`backward compiler: weight ${name} is missing`);
    this.weightNames.add(name);
    return this.g.weight(name, tensor);
  }

  /** x · Wᵀ for x [N, T, out] and a weight W [in, out] of the forward pass: a Gemm with transB
   * on the same initializer as the forward graph's, so the graph holds no transposed copy of any
   * matrix (and ONNX Runtime makes none: its Gemm reads B transposed). Gemm takes 2-D inputs,
   * hence the reshapes around it. */
  private matmulTransposed(x: string, name: string): string {
    const { g } = this;
    const weight = this.w(name);
    const rows = g.op('Reshape', [x, g.int64s([-1, this.decoder.weights[name]!.shape[1]!])]); // [N·T, out]
    const product = g.op('Gemm', [rows, weight], [attr.int('transB', 1)]); // [N·T, in]
    const leading = g.op('Slice', [g.op('Shape', [x]), g.int64s([0]), g.int64s([-1])]); // [N, T]
    return g.op('Reshape', [product, g.op('Concat', [leading, g.int64s([this.decoder.weights[name]!.shape[0]!])], [attr.int('axis', 0)])]);
  }

  private sumLast(x: string): string {
    return this.g.op('ReduceSum', [x, this.g.int64s([-1])], [attr.int('keepdims', 1)]);
  }

  private meanLast(x: string): string {
    return this.g.op('ReduceMean', [x], [attr.ints('axes', [-1]), attr.int('keepdims', 1)]);
  }

  /** Backward through a normalisation y = γ ⊙ x̂ + β, x̂ = C(x)/s (LayerNorm) or x/s (RMSNorm).
   * Frozen scale (linear mode): g_x = C(γ ⊙ g_y)/s. Full: adds the scale's own gradient. */
  private normBackward(gy: string, x: string, scale: string, prefix: string): string {
    const { g } = this;
    const layerNorm = this.spec.norm.kind === 'layernorm';
    const gHat = g.op('Mul', [gy, this.w(`${prefix}.w`)]); // γ ⊙ g_y
    if (this.mode !== 'full') {
      const centred = layerNorm ? g.op('Sub', [gHat, this.meanLast(gHat)]) : gHat;
      return g.op('Div', [centred, scale]);
    }
    const xc = layerNorm ? g.op('Sub', [x, this.meanLast(x)]) : x;
    const xHat = g.op('Div', [xc, scale]); // [1, T, d]
    let inner = g.op('Sub', [gHat, g.op('Mul', [xHat, this.meanLast(g.op('Mul', [gHat, xHat]))])]);
    if (layerNorm) inner = g.op('Sub', [inner, this.meanLast(gHat)]);
    return g.op('Div', [inner, scale]);
  }

  /** The activation's derivative at the pre-activation x. */
  private activationDerivative(x: string): string {
    const { g } = this;
    const half = g.scalar(0.5);
    const one = g.scalar(1);
    switch (this.spec.mlp.activation) {
      case 'gelu_new': { // 0.5(1 + tanh u) + 0.5 x (1 − tanh² u) c (1 + 3·0.044715 x²)
        const c = g.scalar(Math.sqrt(2 / Math.PI));
        const x2 = g.op('Mul', [x, x]);
        const u = g.op('Mul', [g.op('Add', [x, g.op('Mul', [g.op('Mul', [x2, x]), g.scalar(0.044715)])]), c]);
        const th = g.op('Tanh', [u]);
        const du = g.op('Mul', [c, g.op('Add', [one, g.op('Mul', [x2, g.scalar(3 * 0.044715)])])]);
        const sech2 = g.op('Sub', [one, g.op('Mul', [th, th])]);
        return g.op('Add', [g.op('Mul', [half, g.op('Add', [one, th])]),
          g.op('Mul', [g.op('Mul', [g.op('Mul', [half, x]), sech2]), du])]);
      }
      case 'gelu': { // Φ(x) + x φ(x)
        const cdf = g.op('Mul', [half, g.op('Add', [one, g.op('Erf', [g.op('Div', [x, g.scalar(Math.SQRT2)])])])]);
        const pdf = g.op('Mul', [g.op('Exp', [g.op('Mul', [g.op('Mul', [x, x]), g.scalar(-0.5)])]), g.scalar(1 / Math.sqrt(2 * Math.PI))]);
        return g.op('Add', [cdf, g.op('Mul', [x, pdf])]);
      }
      case 'silu': { // σ(x)(1 + x(1 − σ(x)))
        const s = g.op('Sigmoid', [x]);
        return g.op('Mul', [s, g.op('Add', [one, g.op('Mul', [x, g.op('Sub', [one, s])])])]);
      }
      case 'relu':
        return g.op('Cast', [g.op('Greater', [x, g.scalar(0)])], [attr.int('to', DataType.FLOAT)]);
    }
  }

  private activation(x: string): string {
    // Only gated MLPs need the activation value itself in the backward pass (silu(gate)).
    const { g } = this;
    if (this.spec.mlp.activation !== 'silu') throw new Error('backward: gated MLPs support silu only');
    return g.op('Mul', [x, g.op('Sigmoid', [x])]);
  }

  /** Adds `Σ_rows-and-positions (g · vector)` to the constant terms (linear mode). */
  private constantTerm(gradient: string, vector: string): void {
    const { g } = this;
    const perPosition = g.op('MatMul', [gradient, vector]); // [N, T]
    this.constantTerms.push(g.op('ReduceSum', [perPosition, g.int64s([-1])], [attr.int('keepdims', 0)])); // [N]
  }

  /** Backward through the MLP of block l: gradient at resid_post → gradient at its ln2 output. */
  private mlpBackward(l: number, gPost: string): string {
    const { g, spec } = this;
    const p = `blocks.${l}.mlp`;
    if (this.mode === 'replacement') {
      // ŷ = (features) + x W_skipᵀ + offset: the skip's gradient g W_skip joins the injections.
      const skip = `blocks.${l}.transcoder.W_skip`;
      return this.has(skip) ? g.op('Add', [backwardName.inject(l), g.op('MatMul', [gPost, this.w(skip)])]) : backwardName.inject(l);
    }
    const gAct = this.matmulTransposed(gPost, `${p}.W_out`); // [N, T, m]
    if (this.mode === 'linear') {
      g.output(g.op('Mul', [gAct, hookName.mlpPost(l)]), backwardName.edges(l), ['N', 'T', spec.dMlp]);
      return backwardName.inject(l);
    }
    g.output(gAct, backwardName.gradMlpPost(l), ['N', 'T', spec.dMlp]);
    const pre = hookName.mlpPre(l);
    if (spec.mlp.kind === 'gated') {
      const up = hookName.mlpPreLinear(l);
      const gGate = g.op('Mul', [g.op('Mul', [gAct, up]), this.activationDerivative(pre)]);
      const gUp = g.op('Mul', [gAct, this.activation(pre)]);
      return g.op('Add', [this.matmulTransposed(gGate, `${p}.W_gate`), this.matmulTransposed(gUp, `${p}.W_in`)]);
    }
    const gPre = g.op('Mul', [gAct, this.activationDerivative(pre)]);
    return this.matmulTransposed(gPre, `${p}.W_in`);
  }

  /** Rotary backward: the forward is x·cos + rot(x)·sin with rot(x) = [−x₂, x₁]; rotᵀ(y) = [y₂, −y₁]. */
  private rotaryBackward(gy: string): string {
    const { g } = this;
    const half = this.spec.dHead / 2;
    const gSin = g.op('Mul', [gy, graphInput.ropeSin]);
    const [a, b] = g.opMulti('Split', [gSin, g.int64s([half, half])], 2, [attr.int('axis', -1)]);
    const rotT = g.op('Concat', [b!, g.op('Neg', [a!])], [attr.int('axis', -1)]);
    return g.op('Add', [g.op('Mul', [gy, graphInput.ropeCos]), rotT]);
  }

  /** Backward through the attention of block l: gradient at hook_attn_out → at its ln1 output. */
  private attentionBackward(l: number, gOut: string): string {
    const { g, spec } = this;
    const { nHeads: H, nKvHeads: Hkv, dHead: dh, dModel: d } = spec;
    const p = `blocks.${l}.attn`;
    const toHeadMajor = [attr.ints('perm', [0, 2, 1, 3])];
    const swapLast = [attr.ints('perm', [0, 1, 3, 2])];
    const grouped = (t: string) => g.op('Reshape', [t, g.int64s([0, Hkv, -1, 0])]); // [., Hkv, G*T, .]
    const byHead = (t: string) => g.op('Reshape', [t, g.int64s([0, H, -1, 0])]); // [., H, T, .]
    const heads = (t: string, n: number) => g.op('Reshape', [t, g.int64s([0, 0, n, dh])]);
    const flat = (t: string, n: number) => g.op('Reshape', [t, g.int64s([0, 0, n * dh])]);

    if (this.has(`${p}.b_O`)) this.constantTerm(gOut, this.w(`${p}.b_O`));
    const gZ = heads(this.matmulTransposed(gOut, `${p}.W_O`), H); // [N, T, H, dh]
    if (this.mode === 'full') g.output(gZ, backwardName.gradZ(l), ['N', 'T', H, dh]);
    const gZGrouped = grouped(g.op('Transpose', [gZ], toHeadMajor)); // [N, Hkv, G*T, dh]
    const pattern = hookName.pattern(l); // [1, H, T, T]
    // Values: g_v = patternᵀ g_z, summed over the G query heads sharing each kv head.
    const gVHeadMajor = g.op('MatMul', [g.op('Transpose', [grouped(pattern)], swapLast), gZGrouped]); // [N, Hkv, T, dh]
    const gV = flat(g.op('Transpose', [gVHeadMajor], toHeadMajor), Hkv); // [N, T, Hkv*dh]
    let gIn = this.matmulTransposed(gV, `${p}.W_V`); // [N, T, d]
    if (this.mode !== 'full') {
      // Constant through the frozen value path: (β₁ W_V + b_V) per position.
      const valueOffset = this.valueOffset(l);
      if (valueOffset) this.constantTerm(gV, valueOffset);
      return gIn;
    }
    // Pattern → scores (softmax backward), → q and k.
    const values = g.op('Transpose', [hookName.v(l)], toHeadMajor); // [1, Hkv, T, dh]
    const gPattern = byHead(g.op('MatMul', [gZGrouped, g.op('Transpose', [values], swapLast)])); // [N, H, T, T]
    const rowDot = this.sumLast(g.op('Mul', [gPattern, pattern]));
    const gScores = g.op('Mul', [g.op('Mul', [pattern, g.op('Sub', [gPattern, rowDot])]), g.scalar(spec.attnScale)]);
    const gScoresGrouped = grouped(gScores); // [N, Hkv, G*T, T]
    const keys = g.op('Transpose', [hookName.k(l)], toHeadMajor); // [1, Hkv, T, dh]
    const queriesGrouped = grouped(g.op('Transpose', [hookName.q(l)], toHeadMajor)); // [1, Hkv, G*T, dh]
    let gQ = g.op('Transpose', [byHead(g.op('MatMul', [gScoresGrouped, keys]))], toHeadMajor); // [N, T, H, dh]
    let gK = g.op('Transpose', [g.op('MatMul', [g.op('Transpose', [gScoresGrouped], swapLast), queriesGrouped])], toHeadMajor); // [N, T, Hkv, dh]
    if (spec.positional.kind === 'rotary') {
      gQ = this.rotaryBackward(gQ);
      gK = this.rotaryBackward(gK);
    }
    gIn = g.op('Add', [gIn, this.matmulTransposed(flat(gQ, H), `${p}.W_Q`)]);
    gIn = g.op('Add', [gIn, this.matmulTransposed(flat(gK, Hkv), `${p}.W_K`)]);
    void d;
    return gIn;
  }

  /** β₁ W_V + b_V as an initializer, or null when both are absent. */
  private valueOffset(l: number): string | null {
    const { dModel: d, nKvHeads: Hkv, dHead: dh } = this.spec;
    const beta = this.decoder.weights[`blocks.${l}.ln1.b`];
    const bias = this.decoder.weights[`blocks.${l}.attn.b_V`];
    if (!beta && !bias) return null;
    const W_V = this.decoder.weights[`blocks.${l}.attn.W_V`]!.data;
    const n = Hkv * dh;
    const offset = new Float32Array(n);
    for (let j = 0; j < n; j++) {
      let acc = bias ? bias.data[j]! : 0;
      if (beta) for (let i = 0; i < d; i++) acc += beta.data[i]! * W_V[i * n + j]!;
      offset[j] = acc;
    }
    return this.g.weight(`blocks.${l}.attn.value_offset`, { shape: [n], data: offset });
  }

  build(): GraphBuilder {
    const { g, spec, mode } = this;
    const { nLayers: L, dModel: d, nHeads: H, nKvHeads: Hkv, dHead: dh, dMlp: m } = spec;
    const activationShapes: Record<string, (number | string)[]> = {
      [hookName.embed]: [1, 'T', d], [hookName.posEmbed]: [1, 'T', d], [hookName.lnFinalScale]: [1, 'T', 1],
    };
    for (let l = 0; l < L; l++) {
      for (const n of [hookName.residPre(l), hookName.residMid(l), hookName.residPost(l)]) activationShapes[n] = [1, 'T', d];
      activationShapes[hookName.ln1Scale(l)] = [1, 'T', 1];
      activationShapes[hookName.ln2Scale(l)] = [1, 'T', 1];
      activationShapes[hookName.q(l)] = [1, 'T', H, dh];
      activationShapes[hookName.k(l)] = [1, 'T', Hkv, dh];
      activationShapes[hookName.v(l)] = [1, 'T', Hkv, dh];
      activationShapes[hookName.pattern(l)] = [1, H, 'T', 'T'];
      for (const n of [hookName.mlpPre(l), hookName.mlpPreLinear(l), hookName.mlpPost(l)]) activationShapes[n] = [1, 'T', m];
    }
    for (const name of backwardInputs(spec, mode)) g.input(name, DataType.FLOAT, activationShapes[name]!);
    if (mode === 'full' && spec.positional.kind === 'rotary') {
      g.input(graphInput.ropeCos, DataType.FLOAT, [1, 'T', 1, dh]);
      g.input(graphInput.ropeSin, DataType.FLOAT, [1, 'T', 1, dh]);
    }
    g.input(backwardName.gradFinal, DataType.FLOAT, ['N', 'T', d]);
    if (mode !== 'full') for (let l = 0; l < L; l++) g.input(backwardName.inject(l), DataType.FLOAT, ['N', 'T', d]);

    // Final normalisation, then the blocks in reverse order.
    let gResid = this.normBackward(backwardName.gradFinal, hookName.residPost(L - 1), hookName.lnFinalScale, 'ln_final');
    for (let l = L - 1; l >= 0; l--) {
      // gResid is the gradient at blocks.l.hook_resid_post.
      if (mode === 'full') {
        g.output(gResid, backwardName.gradResidPost(l), ['N', 'T', spec.dModel]); // ∂Δ/∂resid_post = ∂Δ/∂mlp_out (transcoder features' total effects)
      } else if (mode === 'linear') {
        g.output(gResid, backwardName.gradResidPost(l), ['N', 'T', spec.dModel]);
        if (this.has(`blocks.${l}.mlp.b_out`)) this.constantTerm(gResid, this.w(`blocks.${l}.mlp.b_out`));
      } else if (mode === 'replacement') {
        g.output(gResid, backwardName.gradResidPost(l), ['N', 'T', spec.dModel]);
        if (this.has(`blocks.${l}.transcoder.offset`)) this.constantTerm(gResid, this.w(`blocks.${l}.transcoder.offset`));
      }
      const gLn2Out = this.mlpBackward(l, gResid);
      const gMid = g.op('Add', [gResid, this.normBackward(gLn2Out, hookName.residMid(l), hookName.ln2Scale(l), `blocks.${l}.ln2`)]);
      const gLn1Out = this.attentionBackward(l, gMid);
      gResid = g.op('Add', [gMid, this.normBackward(gLn1Out, hookName.residPre(l), hookName.ln1Scale(l), `blocks.${l}.ln1`)]);
    }
    // gResid is now the gradient at the embedding sum (token + position).
    if (mode === 'full') {
      g.output(gResid, backwardName.gradEmbed, ['N', 'T', d]);
      return g;
    }
    const perPosition = (value: string) => g.op('ReduceSum', [g.op('Mul', [gResid, value]), g.int64s([-1])], [attr.int('keepdims', 0)]); // [N, T]
    g.output(perPosition(hookName.embed), backwardName.edgesEmbed, ['N', 'T']);
    if (spec.positional.kind === 'learned') {
      this.constantTerms.push(g.op('ReduceSum', [perPosition(hookName.posEmbed), g.int64s([-1])], [attr.int('keepdims', 0)]));
    }
    const zero = g.op('Mul', [g.op('ReduceSum', [perPosition(hookName.embed), g.int64s([-1])], [attr.int('keepdims', 0)]), g.scalar(0)]);
    const total = this.constantTerms.reduce((acc, term) => g.op('Add', [acc, term]), zero);
    g.output(total, backwardName.constants, ['N']);
    return g;
  }
}

export function buildBackwardGraph(decoder: Decoder, mode: BackwardMode): GraphBuilder {
  return new BackwardGraph(decoder, mode).build();
}
