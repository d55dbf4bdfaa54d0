/**
 * Issue 13: the corpus index covers transcoder features. One build over a small corpus indexes
 * the bundled model's neurons and its shipped transcoders' features; then, for sampled features:
 *   - brute force written here: the same contexts cut independently from the documents, run
 *     through the real model (blocks.{l}.hook_resid_mid), ln2 and the layer's encoder recomputed
 *     in float64 loops (not the engine's ln2 scale, inputs.ts or the ONNX transcoder graph), gives
 *     the stored statistics, histogram, top contexts (with their windows), quantile contexts and
 *     promoted/suppressed tokens (W_dec[f] through ln_final's γ and W_U);
 *   - a build killed (SIGKILL, the CLI with its default transcoders) after a checkpoint resumes
 *     and ends with both store files byte-identical to the uninterrupted build;
 *   - another transcoder set never reads the stale feature store (not even a copy under its name);
 *   - a real server on that index answers 'feature:details' from it (source 'index'), as the
 *     Features panel shows; without an index it scans (source 'scan').
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { io as connect, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FeatureDetailsView } from '../../../client/ui/feature-details.js';
import type { LoadedModel } from '../../../shared/engine/decoder.js';
import { hookName } from '../../../shared/engine/hooks.js';
import { loadModel } from '../../../server/engine/load.js';
import { ModelRunner } from '../../../shared/engine/runner.js';
import { startServer } from '../../../server/main.js';
import { NeuronIndex, type NeuronIndexOptions } from '../../../server/neurons/service.js';
import { bundledTranscoders, HostedTranscoders, loadHostedTranscoders } from '../../../server/transcoders/live.js';
import type { ClientToServerEvents, FeatureDetails, ServerToClientEvents } from '../../../shared/protocol.js';
import { bundledModel, smallCorpus, tempDir } from '../neurons/fixtures.js';
import { writeRandomSet } from './random-set.js';

const root = new URL('../../../', import.meta.url).pathname;
const C = 64;
const BUDGET = 2048;
const BATCH = 2;
type Client = Socket<ServerToClientEvents, ClientToServerEvents>;

let model: LoadedModel;
let transcoders: HostedTranscoders;
let dir: string;
let corpus: { path: string; documents: string[] };
let index: NeuronIndex;
let contexts: number[][];
/** Sampled features: [layer, feature] and their activation per context and position [c][t]. */
const sampled: { layer: number; feature: number; acts: Float64Array[] }[] = [];

const options = (indexDir: string, set: HostedTranscoders | null = transcoders): NeuronIndexOptions =>
  ({ indexDir, corpus: corpus.path, tokens: BUDGET, build: { batchContexts: BATCH }, transcoders: set });

async function build(target: NeuronIndex): Promise<void> {
  const steps = await target.prepareBuild();
  while (steps && await steps.step());
}

const find = (folder: string, suffix: string) => (existsSync(folder) ? readdirSync(folder, { recursive: true }) as string[] : [])
  .filter((f) => f.endsWith(suffix)).map((f) => join(folder, f));

beforeAll(async () => {
  model = await loadModel(bundledModel);
  transcoders = await loadHostedTranscoders(bundledTranscoders(bundledModel)!, model.decoder);
  dir = tempDir('feature-index');
  corpus = smallCorpus(dir);
  index = new NeuronIndex(model, options(dir));
  await build(index);
  expect(index.status().state).toBe('ready');

  // The contexts, cut here: documents each followed by EOS, in chunks of C (GPT-2: no BOS).
  const stream: number[] = [];
  for (const doc of corpus.documents) stream.push(...model.tokenizer.encode(doc), model.tokenizer.eosId!);
  contexts = Array.from({ length: Math.min(BUDGET / C, Math.floor(stream.length / C)) }, (_, c) => stream.slice(c * C, (c + 1) * C));
  const { dModel: d, nLayers } = model.decoder.spec;
  const set = transcoders.set;
  const F = set.layers[0]!.nFeatures;
  for (let l = 0; l < nLayers; l++) {
    for (let k = 0; k < 24; k++) sampled.push({ layer: l, feature: (k * 331 + 7 * l + 3) % F, acts: [] });
  }
  // resid_mid from the real model, batched unlike the build; ln2 and the encoder in float64 here.
  const runner = await ModelRunner.create(model.decoder);
  const hooks = Array.from({ length: nLayers }, (_, l) => hookName.residMid(l));
  const eps = model.decoder.spec.norm.eps;
  for (let at = 0; at < contexts.length; at += 7) {
    const rows = contexts.slice(at, at + 7);
    const { cache } = await runner.run(rows, { hooks });
    for (let b = 0; b < rows.length; b++) {
      for (const s of sampled) {
        const t = set.layers[s.layer]!;
        const resid = cache[hooks[s.layer]!]!.data;
        const gamma = model.decoder.weights[`blocks.${s.layer}.ln2.w`]!.data;
        const beta = model.decoder.weights[`blocks.${s.layer}.ln2.b`]!.data;
        const out = new Float64Array(C);
        for (let p = 0; p < C; p++) {
          const x = resid.subarray((b * C + p) * d, (b * C + p + 1) * d);
          let mean = 0;
          for (let j = 0; j < d; j++) mean += x[j]!;
          mean /= d;
          let variance = 0;
          for (let j = 0; j < d; j++) variance += (x[j]! - mean) ** 2;
          const scale = Math.sqrt(variance / d + eps);
          let z = t.b_enc.data[s.feature]!;
          for (let j = 0; j < d; j++) z += (((x[j]! - mean) / scale) * gamma[j]! + beta[j]!) * t.W_enc.data[s.feature * d + j]!;
          out[p] = z > t.threshold!.data[s.feature]! ? z : 0; // the shipped set is JumpReLU
        }
        s.acts[at + b] = out;
      }
    }
  }
  await runner.dispose();
}, 600_000);

afterAll(async () => {
  await index?.dispose();
  await transcoders?.dispose();
});

const close = (a: number, b: number, tol = 1e-3) => Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));

describe('the stored feature index', () => {
  it('holds the statistics, histogram, top and quantile contexts of a brute-force recomputation', () => {
    let firing = 0;
    for (const { layer, feature, acts } of sampled) {
      const where = `feature ${layer}/${feature}`;
      const details = index.featureDetails(layer, feature)!;
      expect(details, where).not.toBeNull();
      expect(details.source).toBe('index');
      const values = acts.flatMap((a) => Array.from(a));
      const active = values.filter((v) => v > 0);
      expect(details.tokensScanned, where).toBe(values.length);
      expect(Math.abs(details.activeShare * values.length - active.length), where).toBeLessThanOrEqual(1); // a value on the threshold
      expect(close(details.maxActivation, Math.max(0, ...values)), where).toBe(true);
      expect(close(details.meanActive, active.length ? active.reduce((a, b) => a + b, 0) / active.length : 0, 2e-3), where).toBe(true);
      const { edges, counts } = details.histogram;
      expect(counts.reduce((a, b) => a + b, 0), where).toBe(values.length);
      const width = edges[1]! - edges[0]!;
      const mine = new Array<number>(counts.length).fill(0);
      for (const v of values) mine[Math.min(counts.length - 1, Math.floor((v - edges[0]!) / width))]!++;
      expect(mine.reduce((sum, m, k) => sum + Math.abs(m - counts[k]!), 0), `${where}: histogram`).toBeLessThanOrEqual(4);

      // Top contexts: every context's maximum, sorted (ties: the lower context), where it fires.
      const maxima = acts.map((a, c) => {
        let at = 0;
        for (let t = 1; t < C; t++) if (a[t]! > a[at]!) at = t;
        return { context: c, value: a[at]!, at };
      }).filter((m) => m.value > 0).sort((x, y) => y.value - x.value || x.context - y.context).slice(0, 20);
      expect(details.examples.length, where).toBe(maxima.length);
      details.examples.forEach((e, r) => {
        const expected = maxima[r]!;
        const here = `${where} rank ${r}: stored context ${e.context} (${e.max}), brute force ${expected.context} (${expected.value})`;
        expect(close(e.max, expected.value), here).toBe(true);
        const a = acts[e.context!]!;
        // A different context only where brute force has a near-tie.
        if (e.context !== expected.context) expect(close(a[e.position!]!, expected.value), here).toBe(true);
        expect(close(a[e.position!]!, e.max), here).toBe(true);
        const start = e.position! - e.at;
        expect(start).toBe(Math.max(0, e.position! - 24));
        expect(e.tokens.map((t) => t.id), here).toEqual(contexts[e.context!]!.slice(start, start + e.tokens.length));
        const step = Math.max(...e.activations.map(Math.abs)) / 127;
        e.activations.forEach((v, k) => expect(Math.abs(v - a[start + k]!), `${here} token ${k}`).toBeLessThanOrEqual(step / 2 + 1e-3));
      });

      // Quantile contexts: contexts where it fires, increasing, each valued at its own maximum.
      if (active.length === 0) expect(details.quantiles, where).toHaveLength(0);
      else firing++;
      let previous = 0;
      for (const q of details.quantiles) {
        expect([0.1, 0.3, 0.5, 0.7, 0.9]).toContain(q.quantile);
        expect(q.value, where).toBeGreaterThan(0);
        expect(q.value).toBeGreaterThanOrEqual(previous);
        const a = acts[q.example.context!]!;
        expect(close(Math.max(...a), q.value), `${where} q${q.quantile}: the context's maximum`).toBe(true);
        expect(close(a[q.example.position!]!, q.value), `${where} q${q.quantile}`).toBe(true);
        previous = q.value;
      }
    }
    expect(firing, 'most sampled features fire somewhere in 2,048 tokens').toBeGreaterThan(sampled.length / 2);
  });

  it('stores the tokens W_dec[f] promotes and suppresses through ln_final and the unembedding', () => {
    const { dModel: d, vocabSize: V } = model.decoder.spec;
    const W_U = model.decoder.weights['unembed.W_U']!.data;
    const gamma = model.decoder.weights['ln_final.w']!.data;
    for (const { layer, feature } of sampled.filter((_, k) => k % 12 === 0)) {
      const row = transcoders.set.layers[layer]!.W_dec.data.subarray(feature * d, (feature + 1) * d);
      const mean = row.reduce((a, b) => a + b, 0) / d;
      const effect = new Float64Array(V);
      for (let j = 0; j < d; j++) for (let v = 0; v < V; v++) effect[v]! += (row[j]! - mean) * gamma[j]! * W_U[j * V + v]!;
      const order = Array.from({ length: V }, (_, v) => v).sort((a, b) => effect[b]! - effect[a]!);
      const details = index.featureDetails(layer, feature)!;
      expect(details.promoted.map((e) => e.token.id)).toEqual(order.slice(0, 10));
      expect(details.suppressed.map((e) => e.token.id)).toEqual(order.slice(-10).reverse());
      details.promoted.forEach((e) => expect(close(e.value, effect[e.token.id]!, 1e-4)).toBe(true));
    }
  });
});

describe('resume and staleness', () => {
  it('resumes a build killed after a checkpoint and ends with both stores byte-identical', async () => {
    const killed = tempDir('feature-index-killed');
    // The CLI indexes the model's own transcoders by default, as npm start does.
    const child = spawn('npx', ['tsx', 'server/cli.ts', 'index', '--model', bundledModel, '--corpus', corpus.path, '--tokens', String(BUDGET),
      '--index-dir', killed, '--batch-contexts', String(BATCH), '--checkpoint-every', '1'], { cwd: root, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const deadline = Date.now() + 120_000;
    while (find(killed, '.checkpoint').length === 0) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the CLI ended before its first checkpoint:\n${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await new Promise((resolve) => setTimeout(resolve, 300)); // a few batches on
    process.kill(-child.pid!, 'SIGKILL');
    await exited;
    expect(find(killed, '.fidx'), 'the build finished before it was killed').toHaveLength(0);

    const resumed = new NeuronIndex(model, options(killed));
    await resumed.locate(false);
    expect(resumed.status().done, 'the checkpoint is found').toBeGreaterThan(0);
    expect(resumed.status().done).toBeLessThan(resumed.status().total);
    await build(resumed);
    expect(resumed.status().state).toBe('ready');
    expect(readFileSync(resumed.storePath!).equals(readFileSync(index.storePath!))).toBe(true);
    expect(readFileSync(resumed.featureStorePath!).equals(readFileSync(index.featureStorePath!))).toBe(true);
    expect(find(killed, '.checkpoint'), 'a finished build removes its checkpoint').toHaveLength(0);
    await resumed.dispose();
  }, 300_000);

  it('indexes the features alone where the neurons are indexed already (npm start\'s automatic build), to the same file', async () => {
    const later = tempDir('feature-index-later');
    const neuronsOnly = new NeuronIndex(model, options(later, null));
    await build(neuronsOnly);
    expect(neuronsOnly.status().state).toBe('ready');
    await neuronsOnly.dispose();
    const stored = readFileSync(index.storePath!);
    const withFeatures = new NeuronIndex(model, options(later));
    try {
      await withFeatures.locate(false);
      expect(withFeatures.status().state).toBe('absent');
      expect(withFeatures.status().message).toMatch(/neurons are indexed; the features of the loaded transcoders are not yet/);
      await withFeatures.start(true); // as the server starts it
      const deadline = Date.now() + 120_000;
      while (withFeatures.status().state !== 'ready') {
        if (Date.now() > deadline || withFeatures.status().state === 'error') throw new Error(JSON.stringify(withFeatures.status()));
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(readFileSync(withFeatures.featureStorePath!).equals(readFileSync(index.featureStorePath!))).toBe(true);
      expect(readFileSync(withFeatures.storePath!).equals(stored), 'the neuron store is untouched').toBe(true);
    } finally {
      await withFeatures.dispose();
    }
  }, 300_000);

  it('never serves the feature store of another transcoder set, even copied under its name', async () => {
    const other = tempDir('feature-index-other-set');
    writeRandomSet(other, { kind: 'relu', skip: false, layers: 4, d: model.decoder.spec.dModel, F: transcoders.set.layers[0]!.nFeatures, seed: 3 });
    const otherSet = await loadHostedTranscoders(other, model.decoder);
    const stale = new NeuronIndex(model, { ...options(dir, otherSet), build: { ...options(dir).build } });
    try {
      await stale.locate(false);
      expect(stale.featureStorePath).not.toBe(index.featureStorePath);
      expect(stale.status().state, 'neurons are indexed, these features are not').toBe('absent');
      expect(stale.featureDetails(1, 5)).toBeNull();
      // The stale store copied to the new set's name: its header names the other set.
      copyFileSync(index.featureStorePath!, stale.featureStorePath!);
      const copied = new NeuronIndex(model, options(dir, otherSet));
      await copied.locate(false);
      expect(copied.featureDetails(1, 5)).toBeNull();
      expect(copied.status().message).toMatch(/built for another transcodersKey/);
      expect(existsSync(`${stale.featureStorePath!}.corrupt`)).toBe(true);
      await copied.dispose();
      // And the original set still reads its own.
      expect(index.featureDetails(1, 5)).not.toBeNull();
    } finally {
      await stale.dispose();
      await otherSet.dispose();
    }
  }, 120_000);
});

describe('feature:details on a real server', () => {
  it('answers from the stored index (source index), and scans without one (source scan)', async () => {
    const serve = (indexDir: string) => startServer({
      model: bundledModel, port: 0, host: '127.0.0.1', device: 'cpu', https: false, serveClient: false, index: false,
      indexDir, corpus: corpus.path, indexTokens: BUDGET, log: () => {},
    });
    const ask = async (url: string, layer: number, feature: number): Promise<FeatureDetails> => {
      const socket: Client = connect(url, { transports: ['websocket'], forceNew: true });
      try {
        await new Promise<void>((resolve, reject) => { socket.once('connect', () => resolve()); socket.once('connect_error', reject); });
        const response = await socket.emitWithAck('feature:details', { layer, index: feature });
        if (!response.ok) throw new Error(response.error.message);
        return response.value;
      } finally {
        socket.disconnect();
      }
    };
    const { layer, feature } = sampled.find((s) => s.layer === 2 && s.acts.some((a) => a.some((v) => v > 0)))!;
    const server = await serve(dir);
    try {
      const deadline = Date.now() + 60_000;
      while (server.neurons.status().state !== 'ready') {
        if (Date.now() > deadline) throw new Error(`the server did not find the index: ${JSON.stringify(server.neurons.status())}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const answer = await ask(server.url, layer, feature);
      expect(answer.source).toBe('index');
      expect(answer).toEqual({ ...index.featureDetails(layer, feature), explanation: null });
      const html = renderToStaticMarkup(createElement(FeatureDetailsView, { details: answer }));
      expect(html).toContain('data-source="index"');
      expect(html).toContain('from the stored corpus index');
    } finally {
      await server.close();
    }
    const bare = await serve(tempDir('feature-index-none'));
    try {
      const scanned = await ask(bare.url, layer, feature);
      expect(scanned.source).toBe('scan');
      expect(renderToStaticMarkup(createElement(FeatureDetailsView, { details: scanned }))).toContain('data-source="scan"');
    } finally {
      await bare.close();
    }
  }, 300_000);
});
