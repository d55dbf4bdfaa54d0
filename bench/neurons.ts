/**
 * Neuron index benchmark: a short build over the default corpus (Brown + nlp-corpus) with the
 * bundled model and with GPT-2-small shapes (random weights made on the fly, GPT-2's own BPE),
 * each in a fresh temporary folder:
 *   - indexing throughput of the corpus pass (the MLP-only forward plus the per-neuron scan),
 *     overall and over its second half (the first contexts enter every neuron's top-k and sample,
 *     a start-up cost that fades as 1/contexts);
 *   - the fixed part of a build: logit effects and records for every neuron;
 *   - the store's size: each neuron keeps k + 5 examples, ≤ 128 histogram bins and 20 logit
 *     effects whatever the corpus, so the size measured here is the size at 1M tokens, up to the
 *     histogram widening (at most 512 bytes per neuron more, given as the bound);
 *   - opening a neuron's details from a warm store (median over 200 neurons; target < 50 ms);
 *   - a checkpoint of a GPT-2-small build's state (about 100 MB): its time, and the longest the
 *     event loop (everyone's streams) waits while it is written.
 */
import { rmSync, statSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoadedModel } from '../shared/engine/decoder.js';
import { loadModel } from '../server/engine/load.js';
import { gpt2SmallSpec, randomDecoder } from '../shared/engine/random-decoder.js';
import { Gpt2BuiltinTokenizer } from '../shared/engine/tokenizers/gpt2-builtin.js';
import { NeuronIndex } from '../server/neurons/service.js';
import { writeCheckpoint } from '../server/neurons/checkpoint.js';
import { IndexState } from '../server/neurons/index-state.js';
import { median, row, type BenchRow } from './report.js';

const bundled = new URL('../assets/models/brown-gpt2', import.meta.url).pathname;

async function benchModel(name: string, model: LoadedModel, tokens: number): Promise<BenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'cxr-bench-index-'));
  try {
    const index = new NeuronIndex(model, { indexDir: dir, tokens });
    const steps = (await index.prepareBuild())!;
    const corpusSteps: { ms: number; tokens: number }[] = [];
    const t0 = performance.now();
    let recordsFrom = 0;
    for (;;) {
      const before = index.status().done;
      const s0 = performance.now();
      const more = await steps.step();
      const after = more ? index.status().done : index.status().total;
      if (after > before) corpusSteps.push({ ms: performance.now() - s0, tokens: after - before });
      else recordsFrom ||= s0;
      if (!more) break;
    }
    const recordsSeconds = (performance.now() - recordsFrom) / 1000;
    const total = (list: typeof corpusSteps) => list.reduce((sum, s) => sum + s.tokens, 0) / (list.reduce((sum, s) => sum + s.ms, 0) / 1000);
    const { nLayers, dMlp } = model.decoder.spec;
    const neurons = nLayers * dMlp;
    const bytes = statSync(index.storePath!).size;
    const times: number[] = [];
    for (let k = 0; k < 200; k++) {
      const g = (k * 7919) % neurons;
      const started = performance.now();
      index.details(Math.floor(g / dMlp), g % dMlp);
      times.push(performance.now() - started);
    }
    await index.dispose();
    const counted = index.status().total;
    return [
      row('neurons', `index ${name}: corpus pass, ${counted.toLocaleString('en-US')} tokens (build ${((performance.now() - t0) / 1000).toFixed(1)} s)`, total(corpusSteps), 'tokens/s'),
      row('neurons', `index ${name}: corpus pass, second half`, total(corpusSteps.slice(corpusSteps.length >> 1)), 'tokens/s'),
      row('neurons', `index ${name}: logit effects + records, ${neurons.toLocaleString('en-US')} neurons`, recordsSeconds, 's', 'fixed per build'),
      row('neurons', `index ${name}: store size per 1M tokens`, bytes / 2 ** 20, 'MiB',
        `measured at ${counted.toLocaleString('en-US')} tokens; size is per neuron, ≤ ${((bytes + neurons * 512) / 2 ** 20).toFixed(0)} MiB at 1M`),
      row('neurons', `index ${name}: neuron details from a warm store (median of 200)`, median(times), 'ms', 'target < 50 ms'),
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchNeurons(): Promise<BenchRow[]> {
  const rows = await benchModel('bundled brown-gpt2', await loadModel(bundled), 16_384);
  const small: LoadedModel = { decoder: randomDecoder(gpt2SmallSpec()), tokenizer: new Gpt2BuiltinTokenizer() };
  rows.push(...await benchModel('GPT-2-small shapes', small, 4096));
  rows.push(...await benchCheckpoint());
  return rows;
}

export async function benchCheckpoint(): Promise<BenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'cxr-bench-checkpoint-'));
  try {
    const { nLayers, dMlp } = gpt2SmallSpec();
    const state = new IndexState({ nLayers, dMlp, contextLength: 64, scoredStart: 0, topK: 20, sampleSize: 24 });
    let last = performance.now();
    let longest = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      longest = Math.max(longest, now - last);
      last = now;
    }, 1);
    const t0 = performance.now();
    await writeCheckpoint(join(dir, 'state.checkpoint'), [{ name: 'neurons', state }], { modelKey: 'bench', corpusKey: 'bench' });
    const ms = performance.now() - t0;
    clearInterval(timer);
    const mib = statSync(join(dir, 'state.checkpoint')).size / 2 ** 20;
    return [
      row('neurons', `checkpoint of a GPT-2-small build's state (${mib.toFixed(0)} MiB, fsync'd)`, ms, 'ms', 'every 30 s of building at most'),
      row('neurons', 'longest event-loop wait while it is written', longest, 'ms', 'was the whole write, in one go'),
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
