/**
 * The index against brute force: build it over a small corpus, then for sampled neurons
 * recompute everything from the engine's hooks over the same contexts (cut here independently
 * from the documents): every context's maximum, sorted, must give the stored top-k (contexts and
 * values; window activations within the int8 step), and the statistics, histogram and quantile
 * examples must match what the activations say. Twice: the bundled GPT-2 (no BOS: every position
 * scored) and stories260K from ../shared/fixtures (a Llama whose contexts start with BOS, which is
 * never scored), when that folder is present.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { needSharedFixtures, stories260K } from '../../helpers/shared-fixtures.js';
import { loadModel } from '../../../server/engine/load.js';
import { hookName } from '../../../shared/engine/hooks.js';
import { ModelRunner } from '../../../shared/engine/runner.js';
import type { LoadedModel } from '../../../shared/engine/decoder.js';
import { NeuronIndex } from '../../../server/neurons/service.js';
import type { NeuronDetails } from '../../../shared/neuron-index.js';
import { bundledModel, smallCorpus, tempDir } from './fixtures.js';

const C = 64;
const BUDGET = 4096;
const stories = stories260K;
const storiesPresent = needSharedFixtures('the BOS case of the neuron index test', `${stories}stories260K.bin`, `${stories}tok512.bin`);

const models = [
  { name: 'bundled GPT-2 (no BOS)', path: bundledModel, tokenizer: undefined as string | undefined, present: true },
  { name: 'stories260K (BOS first)', path: `${stories}stories260K.bin`, tokenizer: `${stories}tok512.bin`, present: storiesPresent },
];

describe.each(models.filter((m) => m.present))('neuron index, $name', ({ path, tokenizer }) => {
  let model: LoadedModel;
  let index: NeuronIndex;
  let contexts: number[][];
  /** blocks.{l}.mlp.hook_post per context: [contexts][C * N]. */
  let activations: Float32Array[][];
  /** The first scored position: 1 behind a BOS, else 0. */
  let first = 0;

  beforeAll(async () => {
    model = await loadModel(path, { tokenizerPath: tokenizer });
    const dir = tempDir('indexer');
    const corpus = smallCorpus(dir);
    index = new NeuronIndex(model, { indexDir: dir, corpus: corpus.path, tokens: BUDGET, build: { batchContexts: 5 } });
    const steps = await index.prepareBuild();
    while (await steps!.step());
    expect(index.status().state).toBe('ready');

    // The same contexts, cut independently: documents (without a leading BOS), each followed by
    // EOS, in chunks of C, or of C - 1 after a BOS.
    const bos = model.tokenizer.bosId;
    first = bos === null ? 0 : 1;
    const stream: number[] = [];
    for (const doc of corpus.documents) {
      const ids = model.tokenizer.encode(doc);
      stream.push(...(bos !== null && ids[0] === bos ? ids.slice(1) : ids), model.tokenizer.eosId!);
    }
    const per = C - first;
    const count = Math.min(Math.floor(BUDGET / C), Math.floor(stream.length / per));
    contexts = Array.from({ length: count }, (_, c) => [...(bos === null ? [] : [bos]), ...stream.slice(c * per, (c + 1) * per)]);
    const runner = await ModelRunner.create(model.decoder);
    const hooks = Array.from({ length: model.decoder.spec.nLayers }, (_, l) => hookName.mlpPost(l));
    activations = [];
    for (let at = 0; at < count; at += 16) { // batched differently from the build
      const { cache } = await runner.run(contexts.slice(at, at + 16), { hooks });
      const N = model.decoder.spec.dMlp;
      for (let b = 0; b < Math.min(16, count - at); b++) {
        activations.push(hooks.map((h) => cache[h]!.data.slice(b * C * N, (b + 1) * C * N)));
      }
    }
    await runner.dispose();
  });

  /** Neuron (l, i)'s activation at position t of context c. */
  const act = (c: number, l: number, i: number, t: number) => activations[c]![l]![t * model.decoder.spec.dMlp + i]!;

  const sampled = () => {
    const { nLayers, dMlp } = model.decoder.spec;
    const picks: [number, number][] = [[0, 0], [nLayers - 1, dMlp - 1]];
    for (let k = 0; k < 22; k++) picks.push([k % nLayers, (k * 7919 + 13) % dMlp]);
    return picks;
  };

  const close = (a: number, b: number, tol = 1e-5) => Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));

  it('stores each sampled neuron\'s top-k contexts as brute force over the engine\'s hooks finds them', () => {
    for (const [l, i] of sampled()) {
      const details: NeuronDetails = index.details(l, i);
      const indexed = details.indexed!;
      const maxima = contexts.map((_, c) => {
        let best = -Infinity;
        let at = 0;
        for (let t = first; t < C; t++) if (act(c, l, i, t) > best) { best = act(c, l, i, t); at = t; }
        return { context: c, value: best, position: at };
      }).sort((a, b) => b.value - a.value || a.context - b.context);
      const expected = maxima.slice(0, 20);
      expect(indexed.topExamples.map((e) => e.value).length, `${l}/${i}`).toBe(20);
      indexed.topExamples.forEach((e, r) => {
        const where = `neuron ${l}/${i} rank ${r}: stored context ${e.context} (${e.value}), brute force ${expected[r]!.context} (${expected[r]!.value})`;
        expect(close(e.value, expected[r]!.value), where).toBe(true);
        // A different context is only acceptable where brute force has a near-tie.
        if (e.context !== expected[r]!.context) expect(close(act(e.context, l, i, e.position), expected[r]!.value), where).toBe(true);
        expect(close(act(e.context, l, i, e.position), e.value), where).toBe(true);
        // The window: tokens of the context, activations within half an int8 step.
        const start = e.position - e.focus;
        expect(e.tokens.map((t) => t.id), where).toEqual(contexts[e.context]!.slice(start, start + e.tokens.length));
        expect(start).toBe(Math.max(first, e.position - 24));
        expect(start + e.tokens.length).toBe(Math.min(C, e.position + 9));
        const step = Math.max(...e.activations.map(Math.abs)) / 127;
        e.activations.forEach((a, k) => expect(Math.abs(a - act(e.context, l, i, start + k)), `${where} token ${k}`).toBeLessThanOrEqual(step / 2 + 1e-5));
        expect(e.tokens[e.focus]!.text).toBe(model.tokenizer.tokenString(contexts[e.context]![e.position]!));
      });
    }
  });

  it('stores statistics and a histogram that agree with every activation', () => {
    for (const [l, i] of sampled()) {
      const values: number[] = [];
      for (let c = 0; c < contexts.length; c++) for (let t = first; t < C; t++) values.push(act(c, l, i, t));
      const { stats, histogram } = index.details(l, i).indexed!;
      const where = `neuron ${l}/${i}`;
      expect(stats.count, where).toBe(values.length);
      expect(close(stats.min, Math.min(...values)), where).toBe(true);
      expect(close(stats.max, Math.max(...values)), where).toBe(true);
      expect(Math.abs(stats.mean - values.reduce((a, b) => a + b, 0) / values.length), where).toBeLessThan(1e-6);
      expect(Math.abs(stats.frequency - values.filter((v) => v > 0).length / values.length), where).toBeLessThanOrEqual(2 / values.length);
      const { edges, counts } = histogram;
      expect(edges).toHaveLength(counts.length + 1);
      expect(counts.reduce((a, b) => a + b, 0), where).toBe(values.length);
      expect(edges[0]!).toBeLessThanOrEqual(stats.min);
      expect(edges[edges.length - 1]!).toBeGreaterThan(stats.max);
      const width = edges[1]! - edges[0]!;
      const mine = new Array<number>(counts.length).fill(0);
      for (const v of values) mine[Math.min(counts.length - 1, Math.floor((v - edges[0]!) / width))]!++;
      const moved = mine.reduce((sum, m, k) => sum + Math.abs(m - counts[k]!), 0);
      expect(moved, `${where}: histogram differs from brute-force binning`).toBeLessThanOrEqual(4); // values on an edge
    }
  });

  it('takes the quantile examples from active contexts, in increasing order of activation', () => {
    for (const [l, i] of sampled()) {
      const { quantileExamples, stats } = index.details(l, i).indexed!;
      if (stats.max <= 0) {
        expect(quantileExamples).toHaveLength(0);
        continue;
      }
      expect(quantileExamples.length).toBeGreaterThan(0);
      let previous = -Infinity;
      for (const { quantile, example } of quantileExamples) {
        expect([0.1, 0.3, 0.5, 0.7, 0.9]).toContain(quantile);
        let best = -Infinity;
        for (let t = first; t < C; t++) best = Math.max(best, act(example.context, l, i, t));
        expect(close(example.value, best), `neuron ${l}/${i} q${quantile}`).toBe(true);
        expect(example.value).toBeGreaterThan(0);
        expect(example.value).toBeGreaterThanOrEqual(previous);
        previous = example.value;
      }
    }
  });
});
