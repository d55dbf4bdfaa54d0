/**
 * The feature attribution graph (server/transcoders/graph.ts) on small random models with random
 * transcoder sets of each kind (JumpReLU with skip reading ln2's output, on ONNX and in float64;
 * ReLU without skip reading resid_mid (float64 path); TopK with skip on a Llama-style model): exact (Σ incoming + constant = each feature's
 * pre-activation and Δ, against the forward pass), each sampled edge equal to a forward-mode
 * float64 reference, activations consistent with the pre-activations, scores in range, and the
 * export imports back through shared/graph/io.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Decoder, LoadedModel, Tokenizer } from '../../../shared/engine/decoder.js';
import { hookName } from '../../../shared/engine/hooks.js';
import { gpt2Spec, llamaSpec, randomDecoder } from '../../../shared/engine/random-decoder.js';
import { ModelRunner } from '../../../shared/engine/runner.js';
import { AnalysisContext } from '../../../shared/analysis/context.js';
import type { ResolvedQuestion } from '../../../shared/analysis/question.js';
import { TranscoderRunner } from '../../../shared/transcoders/forward.js';
import { buildFeatureGraph } from '../../../shared/transcoders/graph.js';
import { featureGraphJson } from '../../../shared/transcoders/graph-export.js';
import { loadTranscoderSet } from '../../../server/transcoders/load.js';
import { exportGraph, importGraph } from '../../../shared/graph/io.js';
import { nodeKind } from '../../../shared/graph/schema.js';
import { expectEdgesMatch, expectExact, referenceModel } from './graph-checks.js';
import { writeRandomSet, type SetOptions } from './random-set.js';

const idTokenizer = (V: number): Tokenizer => ({
  encode: (text) => text.split(' ').map(Number), decode: (ids) => ids.join(' '), tokenString: (id) => String(id),
  vocabSize: V, bosId: null, eosId: null,
});

const question: ResolvedQuestion = {
  tokens: [4, 8, 15, 16, 23, 42, 7, 1, 30], target: 12, distractor: 40,
  targetTokens: [12], distractorTokens: [40], warnings: [],
};

const cases: { name: string; decoder: Decoder; set: Omit<SetOptions, 'layers' | 'd'>; engine: 'onnx' | 'float64' }[] = [
  { name: 'gpt2 / JumpReLU + skip (ln2 input)', decoder: randomDecoder(gpt2Spec({ nLayers: 3, dModel: 32, nHeads: 4, vocabSize: 53, contextLength: 32 }), 41, 0.25), set: { kind: 'jumprelu', skip: true, F: 48, seed: 5 }, engine: 'onnx' },
  { name: 'gpt2 / JumpReLU + skip (ln2 input), float64 VJPs', decoder: randomDecoder(gpt2Spec({ nLayers: 3, dModel: 32, nHeads: 4, vocabSize: 53, contextLength: 32 }), 41, 0.25), set: { kind: 'jumprelu', skip: true, F: 48, seed: 5 }, engine: 'float64' },
  { name: 'gpt2 / ReLU, no skip (resid_mid input)', decoder: randomDecoder(gpt2Spec({ nLayers: 3, dModel: 32, nHeads: 4, vocabSize: 53, contextLength: 32 }), 42, 0.25), set: { kind: 'relu', skip: false, F: 40, seed: 6, config: 'json' }, engine: 'onnx' },
  { name: 'llama / TopK + skip (ln2 input)', decoder: randomDecoder(llamaSpec({ nLayers: 3, dModel: 32, nHeads: 4, nKvHeads: 2, dMlp: 40, vocabSize: 53, contextLength: 32 }), 43, 0.25), set: { kind: 'topk', k: 6, skip: true, F: 40, seed: 7 }, engine: 'onnx' },
];

const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

describe.each(cases)('feature graph on a random model: $name', ({ decoder, set: setOptions, engine }) => {
  it('is exact, its edges match a forward reference, and it round-trips as JSON', async () => {
    const { spec } = decoder;
    const dir = mkdtempSync(join(tmpdir(), 'feature-graph-'));
    dirs.push(dir);
    const stored = writeRandomSet(dir, { ...setOptions, layers: spec.nLayers, d: spec.dModel });
    const set = loadTranscoderSet(dir, spec);
    const model: LoadedModel = { decoder, tokenizer: idTokenizer(spec.vocabSize) };
    const runner = await ModelRunner.create(decoder);
    const context = new AnalysisContext(model, runner);
    const transcoders = await TranscoderRunner.create(set);
    try {
      const steps: number[] = [];
      const graph = await buildFeatureGraph(context, set, transcoders, question, { engine, batchSize: 8, stepMs: 1, onProgress: (done) => steps.push(done) });
      expect(steps.length).toBeGreaterThan(3); // ran as many short steps
      expect(graph.stats.features).toBeGreaterThan(50);
      // No feature at position 0 (circuit-tracer zeroes them), one error node per (layer, position).
      expect(graph.nodes.some((n) => n.kind === 'feature' && n.pos === 0)).toBe(false);
      expect(graph.nodes.filter((n) => n.kind === 'error').length).toBe(spec.nLayers * question.tokens.length);
      // ReLU / JumpReLU / TopK activations equal their pre-activation (computed here in float64 from
      // the encoder) where active.
      for (const n of graph.nodes) if (n.kind === 'feature') expect(n.activation!).toBeCloseTo(n.actual!, 4);
      expectExact(graph);

      const { cache } = await runner.run([question.tokens], { hooks: [hookName.embed] });
      const ref = await referenceModel(decoder, runner, question.tokens, question.target, question.distractor,
        stored.map((w) => ({ W_enc: w.W_enc.data, W_skip: w.W_skip?.data })), set.inputHook === 'ln2.hook_normalized');
      const { checked } = expectEdgesMatch(graph, ref, stored.map((w) => w.W_dec.data), cache[hookName.embed]!.data, 60,
        engine === 'float64' || set.inputHook === 'hook_resid_mid' ? 1e-5 : 1e-4);
      expect(checked).toBeGreaterThan(60);

      expect(graph.scores.replacement).toBeGreaterThan(0);
      expect(graph.scores.replacement).toBeLessThanOrEqual(1);
      expect(graph.scores.completeness).toBeGreaterThan(0);
      expect(graph.scores.completeness).toBeLessThanOrEqual(1);

      const json = featureGraphJson(graph, { scan: 'random', prompt: question.tokens.join(' '), tokenizer: model.tokenizer, nLayers: spec.nLayers, transcoderSet: dir, nodeThreshold: 0.8, edgeThreshold: 0.98 });
      const back = importGraph(JSON.parse(exportGraph(json)));
      expect(back.nodes.length).toBe(graph.nodes.length);
      expect(back.links.length).toBe(graph.weights.length);
      expect(back.metadata.replacement_score).toBe(graph.scores.replacement);
      expect(back.metadata.completeness_score).toBe(graph.scores.completeness);
      const kinds = new Map<string, number>();
      for (const n of back.nodes) kinds.set(nodeKind(n), (kinds.get(nodeKind(n)) ?? 0) + 1);
      expect(kinds.get('feature')).toBe(graph.stats.features);
      expect(kinds.get('error')).toBe(spec.nLayers * question.tokens.length);
      expect(back.nodes.find((n) => n.feature_type === 'cross layer transcoder')!.node_id).toMatch(/^\d+_\d+_\d+$/);
      expect(back.nodes.find((n) => n.feature_type === 'mlp reconstruction error')!.node_id).toMatch(/^\d+_-1_\d+$/);
    } finally {
      await transcoders.dispose();
      await context.dispose();
      await runner.dispose();
    }
  }, 60_000);
});
