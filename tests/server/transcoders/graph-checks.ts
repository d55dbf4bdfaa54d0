/**
 * Checks shared by the feature-graph tests: exactness of every target node against the forward
 * pass, and a sample of edges (feature→feature above all) against the forward reference of
 * graph-reference.ts.
 */
import { expect } from 'vitest';
import type { Decoder } from '../../../shared/engine/decoder.js';
import { hookName } from '../../../shared/engine/hooks.js';
import type { ModelRunner } from '../../../shared/engine/runner.js';
import { seededRandom } from '../../../shared/engine/generate.js';
import type { FeatureGraph } from '../../../shared/transcoders/graph.js';
import { referenceEdge, type ReferenceModel, type ReferenceWeights } from './graph-reference.js';

/** Σ incoming + constant against each target's actual value (features: pre-activation; logit: Δ). */
export function expectExact(graph: FeatureGraph, tolerance = 1e-4): number {
  const sum = graph.nodes.map((n) => n.constant ?? 0);
  for (let k = 0; k < graph.weights.length; k++) sum[graph.targets[k]!]! += graph.weights[k]!;
  let worst = 0;
  let checked = 0;
  graph.nodes.forEach((node, i) => {
    if (node.kind !== 'feature' && node.kind !== 'logit') return;
    expect(node.actual).toBeDefined();
    worst = Math.max(worst, Math.abs(sum[i]! - node.actual!) / Math.max(1, Math.abs(node.actual!)));
    checked++;
  });
  expect(checked).toBe(graph.stats.features + 1);
  expect(worst).toBeLessThanOrEqual(tolerance);
  return worst;
}

export async function referenceModel(
  decoder: Decoder, runner: ModelRunner, tokens: number[], target: number, distractor: number, layers: ReferenceWeights[], normalisedInput: boolean,
): Promise<ReferenceModel> {
  const L = decoder.spec.nLayers;
  const hooks: string[] = [hookName.lnFinalScale];
  for (let l = 0; l < L; l++) hooks.push(hookName.ln1Scale(l), hookName.ln2Scale(l), hookName.pattern(l));
  const { cache } = await runner.run([tokens], { hooks });
  return {
    decoder, layers, normalisedInput, T: tokens.length, target, distractor,
    ln1Scale: Array.from({ length: L }, (_, l) => cache[hookName.ln1Scale(l)]!),
    ln2Scale: Array.from({ length: L }, (_, l) => cache[hookName.ln2Scale(l)]!),
    pattern: Array.from({ length: L }, (_, l) => cache[hookName.pattern(l)]!),
    finalScale: cache[hookName.lnFinalScale]!.data[tokens.length - 1]!,
  };
}

/**
 * Checks `samples` random feature→feature edges, plus feature→logit and embedding edges, against
 * the forward reference (the write of a feature is a·W_dec[s], of an embedding its vector). Error
 * edges share the same linear map; exactness covers their values.
 */
export function expectEdgesMatch(
  graph: FeatureGraph, ref: ReferenceModel, W_dec: Float32Array[], embed: Float32Array, samples: number, tolerance: number, seed = 3,
): { checked: number; worst: number } {
  const d = ref.decoder.spec.dModel;
  const random = seededRandom(seed);
  const byType = { ff: [] as number[], fl: [] as number[], ef: [] as number[], el: [] as number[] };
  for (let k = 0; k < graph.weights.length; k++) {
    const s = graph.nodes[graph.sources[k]!]!;
    const t = graph.nodes[graph.targets[k]!]!;
    if (s.kind === 'feature' && t.kind === 'feature') byType.ff.push(k);
    else if (s.kind === 'feature' && t.kind === 'logit') byType.fl.push(k);
    else if (s.kind === 'embedding' && t.kind === 'feature') byType.ef.push(k);
    else if (s.kind === 'embedding' && t.kind === 'logit') byType.el.push(k);
  }
  expect(byType.ff.length).toBeGreaterThan(samples);
  const pick = (list: number[], n: number) => Array.from({ length: Math.min(n, list.length) }, () => list[Math.floor(random() * list.length)]!);
  const chosen = [...pick(byType.ff, samples), ...pick(byType.fl, 10), ...pick(byType.ef, 10), ...pick(byType.el, 4)];
  let worst = 0;
  for (const k of chosen) {
    const s = graph.nodes[graph.sources[k]!]!;
    const t = graph.nodes[graph.targets[k]!]!;
    const write = new Float64Array(d);
    if (s.kind === 'feature') for (let j = 0; j < d; j++) write[j] = s.activation! * W_dec[s.layer]![s.index * d + j]!;
    else for (let j = 0; j < d; j++) write[j] = embed[s.pos * d + j]!;
    const expected = referenceEdge(ref, { layer: s.kind === 'feature' ? s.layer : -1, pos: s.pos, write },
      t.kind === 'logit' ? { kind: 'logit' } : { kind: 'feature', layer: t.layer, index: t.index, pos: t.pos });
    // Relative to the edge, or to 1e-3 for edges near zero (float32 VJPs carry ~1e-7 noise).
    const err = Math.abs(graph.weights[k]! - expected) / Math.max(1e-3, Math.abs(expected));
    worst = Math.max(worst, err);
    expect(err, `edge ${k}: ${graph.weights[k]} vs reference ${expected}`).toBeLessThanOrEqual(tolerance);
  }
  return { checked: chosen.length, worst };
}
