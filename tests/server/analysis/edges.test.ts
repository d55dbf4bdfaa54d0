/**
 * Every attribution edge weight checked one by one against an independent float64 plain-loop
 * linearised model written here (no code shared with server/analysis or the backward graph):
 * attention patterns and normalisation scales frozen at the forward pass's values, MLPs
 * passing nothing (each neuron is its own node). A source's write (its activation × its
 * W_out row, or a token embedding) is pushed forward through the frozen attention OV paths
 * and the residual stream to the target's read direction (its W_in / W_gate column after
 * the frozen ln2, or the Δ direction after the frozen final norm). Each aggregate is checked
 * against the push of the not-kept neurons' summed write; completeness then holds within 1e-4.
 * Also: the effects' top-k lists equal a brute-force sort of every component.
 */
import { describe, expect, it } from 'vitest';
import type { Decoder, LoadedModel, Tokenizer } from '../../../shared/engine/decoder.js';
import { hookName } from '../../../shared/engine/hooks.js';
import { gpt2Spec, llamaSpec, randomDecoder } from '../../../shared/engine/random-decoder.js';
import { ModelRunner } from '../../../shared/engine/runner.js';
import { AnalysisContext } from '../../../shared/analysis/context.js';
import { buildAttributionGraph, type RawGraph } from '../../../shared/analysis/attribution.js';
import { effectsSteps, extremeEffects } from '../../../shared/analysis/effects.js';
import { topIndices } from '../../../shared/analysis/select.js';
import { runSteps } from '../../../shared/analysis/steps.js';
import type { ResolvedQuestion } from '../../../shared/analysis/question.js';
import { seededRandom } from '../../../shared/engine/generate.js';

const idTokenizer = (V: number): Tokenizer => ({
  encode: (text) => text.split(' ').map(Number), decode: (ids) => ids.join(' '), tokenString: (id) => String(id),
  vocabSize: V, bosId: null, eosId: null,
});

const families: Record<string, Decoder> = {
  gpt2: randomDecoder(gpt2Spec({ nLayers: 3, dModel: 32, nHeads: 4, vocabSize: 53, contextLength: 32 }), 41, 0.25),
  llama: randomDecoder(llamaSpec({ nLayers: 3, dModel: 32, nHeads: 4, nKvHeads: 2, dMlp: 40, vocabSize: 53, contextLength: 32 }), 42, 0.25),
};
const question: ResolvedQuestion = {
  tokens: [4, 8, 15, 16, 23, 42, 7, 1, 30, 11, 5], target: 12, distractor: 40,
  targetTokens: [12], distractorTokens: [40], warnings: [],
};

/** The float64 linearised model of one decoder around one prompt. */
function linearisedReference(decoder: Decoder, cache: Record<string, { data: Float32Array }>, T: number) {
  const { spec, weights } = decoder;
  const { nLayers: L, dModel: d, nHeads: H, nKvHeads: Hkv, dHead: dh, dMlp: m } = spec;
  const G = H / Hkv;
  const W = (name: string) => Float64Array.from(weights[name]!.data);
  const layerNorm = spec.norm.kind === 'layernorm';
  /** Frozen normalisation, linear part: C(x)/s ⊙ γ (LayerNorm) or x/s ⊙ γ (RMSNorm). */
  const frozenNorm = (x: Float64Array, s: number, gamma: Float64Array) => {
    let mean = 0;
    if (layerNorm) for (let i = 0; i < d; i++) mean += x[i]! / d;
    return Float64Array.from(x, (v, i) => ((v - mean) / s) * gamma[i]!);
  };
  const ln1 = Array.from({ length: L }, (_, l) => W(`blocks.${l}.ln1.w`));
  const ln2 = Array.from({ length: L }, (_, l) => W(`blocks.${l}.ln2.w`));
  const lnF = W('ln_final.w');
  const WV = Array.from({ length: L }, (_, l) => W(`blocks.${l}.attn.W_V`)); // [d, Hkv*dh]
  const WO = Array.from({ length: L }, (_, l) => W(`blocks.${l}.attn.W_O`)); // [H*dh, d]
  const readName = spec.mlp.kind === 'gated' ? 'W_gate' : 'W_in';
  const Win = Array.from({ length: L }, (_, l) => W(`blocks.${l}.mlp.${readName}`)); // [d, m]
  const Wout = Array.from({ length: L }, (_, l) => W(`blocks.${l}.mlp.W_out`)); // [m, d]
  const WU = weights['unembed.W_U']!.data;
  const V = spec.vocabSize;

  /** Pushes a residual perturbation (per position) through the attention of layer l: the residual after it. */
  const attention = (l: number, resid: Float64Array[]) => {
    const pattern = cache[hookName.pattern(l)]!.data; // [1, H, T, T]
    const scale = cache[hookName.ln1Scale(l)]!.data;
    const values = resid.map((x, p) => {
      const xn = frozenNorm(x, scale[p]!, ln1[l]!);
      const v = new Float64Array(Hkv * dh);
      for (let j = 0; j < Hkv * dh; j++) for (let i = 0; i < d; i++) v[j]! += xn[i]! * WV[l]![i * Hkv * dh + j]!;
      return v;
    });
    return resid.map((x, q) => {
      const out = Float64Array.from(x);
      for (let h = 0; h < H; h++) {
        const kv = Math.floor(h / G);
        const z = new Float64Array(dh);
        for (let k = 0; k <= q; k++) {
          const a = pattern[(h * T + q) * T + k]!;
          for (let j = 0; j < dh; j++) z[j]! += a * values[k]![kv * dh + j]!;
        }
        for (let j = 0; j < dh; j++) for (let i = 0; i < d; i++) out[i]! += z[j]! * WO[l]![(h * dh + j) * d + i]!;
      }
      return out;
    });
  };

  /** A write `vector` into resid_pre(startLayer) at position `pos`, read by the target. */
  const push = (startLayer: number, pos: number, vector: Float64Array, target: { layer: number; pos: number; index: number }, distractor: number) => {
    let resid = Array.from({ length: T }, () => new Float64Array(d));
    resid[pos] = Float64Array.from(vector);
    for (let l = startLayer; l < Math.min(target.layer + 1, L); l++) {
      resid = attention(l, resid); // MLPs pass nothing: each neuron is a node
      if (l === target.layer) {
        const xn = frozenNorm(resid[target.pos]!, cache[hookName.ln2Scale(l)]!.data[target.pos]!, ln2[l]!);
        let acc = 0;
        for (let i = 0; i < d; i++) acc += xn[i]! * Win[l]![i * m + target.index]!;
        return acc;
      }
    }
    const xn = frozenNorm(resid[target.pos]!, cache[hookName.lnFinalScale]!.data[target.pos]!, lnF);
    let acc = 0;
    for (let i = 0; i < d; i++) acc += xn[i]! * (WU[i * V + target.index]! - WU[i * V + distractor]!);
    return acc;
  };

  const post = (l: number) => cache[hookName.mlpPost(l)]!.data;
  /** Σ over `neurons` of a_i W_out[i] at (l, p). */
  const write = (l: number, p: number, neurons: number[]) => {
    const out = new Float64Array(d);
    for (const i of neurons) {
      const a = post(l)[p * m + i]!;
      for (let j = 0; j < d; j++) out[j]! += a * Wout[l]![i * d + j]!;
    }
    return out;
  };
  const embedding = (p: number) => Float64Array.from(cache[hookName.embed]!.data.subarray(p * d, (p + 1) * d));
  return { push, write, embedding, m, L };
}

describe.each(Object.entries(families))('attribution edges on a random %s-style model', (_family, decoder) => {
  const model: LoadedModel = { decoder, tokenizer: idTokenizer(decoder.spec.vocabSize) };

  it('match a float64 linearised reference one by one (neuron, aggregate and embedding edges), and the graph is complete', async () => {
    const runner = await ModelRunner.create(decoder);
    const context = new AnalysisContext(model, runner);
    const T = question.tokens.length;
    const { L, dMlp: m } = { L: decoder.spec.nLayers, dMlp: decoder.spec.dMlp };
    const hooks: string[] = [hookName.embed, hookName.lnFinalScale];
    for (let l = 0; l < L; l++) hooks.push(hookName.pattern(l), hookName.ln1Scale(l), hookName.ln2Scale(l), hookName.mlpPost(l));
    const { cache } = await runner.run([question.tokens], { hooks });
    const ref = linearisedReference(decoder, cache as never, T);
    // Small batches and a small edge budget per call: several VJP calls per phase.
    const graph: RawGraph = await buildAttributionGraph(context, question, { maxNodes: 30, batchSize: 8, edgeBytesPerCall: 3 * L * T * m * 4 });
    expect(graph.stats.expanded).toBe(30);

    const weightOf = new Map<string, number>();
    for (let k = 0; k < graph.weights.length; k++) weightOf.set(`${graph.sources[k]}>${graph.targets[k]}`, graph.weights[k]!);
    const targets = graph.nodes.map((n, i) => ({ n, i })).filter(({ n }) => n.kind === 'logit' || n.kind === 'neuron');
    const keptAt = (l: number, p: number) => graph.nodes.filter((n) => n.kind === 'neuron' && n.layer === l && n.pos === p).map((n) => n.index);
    let checked = 0;
    let worst = 0;
    for (const { n: t, i: ti } of targets) {
      const read = { layer: t.kind === 'logit' ? L : t.layer, pos: t.pos, index: t.index };
      // Every candidate source of this target, present in the edge list or not (absent = 0).
      const expected: { si: number; value: number }[] = [];
      graph.nodes.forEach((s, si) => {
        if (s.kind === 'neuron' && s.layer < read.layer && s.pos <= read.pos) {
          expected.push({ si, value: ref.push(s.layer + 1, s.pos, ref.write(s.layer, s.pos, [s.index]), read, question.distractor) });
        } else if (s.kind === 'aggregate' && s.layer < read.layer && s.pos <= read.pos) {
          const kept = new Set(keptAt(s.layer, s.pos));
          const rest = Array.from({ length: m }, (_, i) => i).filter((i) => !kept.has(i));
          expected.push({ si, value: ref.push(s.layer + 1, s.pos, ref.write(s.layer, s.pos, rest), read, question.distractor) });
        } else if (s.kind === 'embedding' && s.pos <= read.pos) {
          expected.push({ si, value: ref.push(0, s.pos, ref.embedding(s.pos), read, question.distractor) });
        }
      });
      const scale = Math.max(...expected.map((e) => Math.abs(e.value)));
      for (const { si, value } of expected) {
        const got = weightOf.get(`${si}>${ti}`) ?? 0;
        const error = Math.abs(got - value) / (Math.abs(value) + 1e-3 * scale);
        worst = Math.max(worst, error);
        expect(error, `edge ${JSON.stringify(graph.nodes[si])} → ${JSON.stringify(t)}: ${got} vs reference ${value}`).toBeLessThan(1e-3);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(500);
    // No edge outside the causal, layer-ordered candidates.
    for (let k = 0; k < graph.weights.length; k++) {
      const s = graph.nodes[graph.sources[k]!]!;
      const t = graph.nodes[graph.targets[k]!]!;
      expect(s.pos).toBeLessThanOrEqual(t.pos);
      expect(s.layer).toBeLessThan(t.layer);
    }
    // Completeness: Σ incoming edges (aggregates being independent sums) + constant = actual.
    const incoming = new Float64Array(graph.nodes.length);
    for (let k = 0; k < graph.weights.length; k++) incoming[graph.targets[k]!]! += graph.weights[k]!;
    for (const { n, i } of targets) expect(Math.abs(incoming[i]! + n.constant! - n.actual!)).toBeLessThan(1e-4 * Math.max(1, Math.abs(n.actual!)));
  });
});

describe('top-k selection', () => {
  it('typed-array top-k equals a brute-force sort, ties by index, signs respected', () => {
    const random = seededRandom(5);
    for (const n of [0, 1, 7, 1000, 20000]) {
      // Values on a coarse grid so ties happen.
      const values = Float32Array.from({ length: n }, () => Math.round((random() * 2 - 1) * 50) / 10);
      for (const k of [1, 5, 40, 300]) {
        for (const sign of [1, -1] as const) {
          const brute = Array.from(values.keys()).filter((i) => sign * values[i]! > 0)
            .sort((a, b) => sign * (values[b]! - values[a]!) || a - b).slice(0, k);
          expect(Array.from(topIndices(values, k, sign))).toEqual(brute);
        }
      }
    }
  });

  it('the effects lists (40 up, 40 down) equal a brute-force sort of every component', async () => {
    const decoder = families.gpt2!;
    const context = new AnalysisContext({ decoder, tokenizer: idTokenizer(decoder.spec.vocabSize) }, await ModelRunner.create(decoder));
    const effects = await runSteps(effectsSteps(context, question, { layersPerStep: 1, occlusionTokensPerStep: 20 }));
    const { nLayers: L, nHeads: H, dMlp: m } = decoder.spec;
    const T = question.tokens.length;
    type Item = { kind: string; layer: number; index: number; pos?: number; value: number };
    const direct: Item[] = [...effects.directOther.map(({ kind, layer, index, value }) => ({ kind, layer, index, value }))];
    const total: Item[] = [];
    for (let l = 0; l < L; l++) {
      for (let i = 0; i < m; i++) direct.push({ kind: 'neuron', layer: l, index: i, value: effects.directNeuron[l * m + i]! });
      for (let h = 0; h < H; h++) direct.push({ kind: 'head', layer: l, index: h, value: effects.directHead[l * H + h]! });
      for (let p = 0; p < T; p++) {
        for (let i = 0; i < m; i++) total.push({ kind: 'neuron', layer: l, pos: p, index: i, value: effects.totalNeuron[(l * T + p) * m + i]! });
        for (let h = 0; h < H; h++) total.push({ kind: 'head', layer: l, pos: p, index: h, value: effects.totalHead[(l * T + p) * H + h]! });
      }
    }
    const brute = (items: Item[]) => {
      const sorted = [...items].sort((a, b) => b.value - a.value);
      return [...sorted.slice(0, 40).filter((e) => e.value > 0), ...sorted.slice(-40).filter((e) => e.value < 0)];
    };
    const listed = extremeEffects(effects, 40);
    const key = (e: Item) => `${e.kind}:${e.layer}:${e.pos ?? '-'}:${e.index}:${e.value}`;
    expect(listed.direct.map(key)).toEqual(brute(direct).map(key));
    expect(listed.total.map(key)).toEqual(brute(total).map(key));
    expect(listed.total).toHaveLength(80);
  });
});
