/**
 * Transcoders on the real server (bundled brown-gpt2 and its shipped transcoders, real socket.io
 * on a free port): model:info describes them; a mismatched set stops `npm start` with one error
 * naming the file and the tensor; live features stream only to clients that asked, and match the
 * transcoders run on the engine's hooks; "Trace over features" runs as a cancellable scheduler job
 * with progress and returns an exact feature graph with its replacement and completeness scores.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import { startServer } from '../../../server/main.js';
import { transcoderHooks, transcoderInput } from '../../../shared/transcoders/inputs.js';
import { decodeFrame, frameByteLength } from '../../../shared/frame-codec.js';
import { importGraph } from '../../../shared/graph/io.js';
import { nodeKind } from '../../../shared/graph/schema.js';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../shared/protocol.js';
import { repoRoot } from '../../helpers/cli.js';
import { writeRandomSet } from './random-set.js';

const model = fileURLToPath(new URL('../../../assets/models/brown-gpt2/', import.meta.url));
const question = { prompt: ' the apple fell from the', target: ' tree', distractor: ' sky' };

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;
let server: Awaited<ReturnType<typeof startServer>>;
const clients: Client[] = [];
const tmp = mkdtempSync(join(tmpdir(), 'serving-transcoders-'));

async function client(url = server.url): Promise<Client> {
  const socket: Client = connect(url, { transports: ['websocket'], forceNew: true });
  clients.push(socket);
  await new Promise<void>((resolve, reject) => { socket.once('connect', () => resolve()); socket.once('connect_error', reject); });
  return socket;
}

// A fresh index folder: feature:details scans on demand here (an index built in .cache would answer instead).
const options = { model, port: 0, host: '127.0.0.1', device: 'cpu' as const, https: false, serveClient: false, index: false, indexDir: tmp, log: () => {} };

beforeAll(async () => {
  // No `transcoders` option: the model's own transcoders/ folder is loaded.
  server = await startServer(options);
});

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('transcoders on npm start', () => {
  it('loads the model\'s own transcoders by default and describes them in model:info', async () => {
    const socket = await client();
    const response = await socket.emitWithAck('model:info');
    expect(response.ok).toBe(true);
    if (!response.ok) return;
    const info = response.value.transcoders!;
    expect(info).toBeTruthy();
    expect(info.featuresPerLayer).toEqual([2048, 2048, 2048, 2048]);
    expect(info.activation).toBe('jumprelu');
    expect(info.skip).toBe(true);
    expect(info.modelName).toBe('brown-gpt2');
    expect(info.source).toMatch(/brown-gpt2\/transcoders\/config\.yaml$/);
    expect(info.inputHook).toBe('blocks.{l}.ln2.hook_normalized');
  });

  it('serves without them under transcoders: false, and refuses feature requests in words', async () => {
    const plain = await startServer({ ...options, transcoders: false });
    try {
      const socket = await client(plain.url);
      const info = await socket.emitWithAck('model:info');
      expect(info.ok && info.value.transcoders).toBe(null);
      const sub = await socket.emitWithAck('features:subscribe', true);
      expect(sub.ok).toBe(false);
      if (!sub.ok) expect(sub.error.message).toMatch(/no transcoders loaded/);
      const trace = await socket.emitWithAck('analysis:graph', { ...question, over: 'features' });
      expect(trace.ok).toBe(false);
      if (!trace.ok) expect(trace.error.message).toMatch(/no transcoders loaded.*--transcoders DIR/);
    } finally {
      await plain.close();
    }
  });

  it('stops the start with one error naming the file and the tensor when a set does not fit the model', async () => {
    const bad = join(tmp, 'narrow');
    writeRandomSet(bad, { kind: 'relu', skip: false, layers: 4, d: 128, F: 16, config: 'none' });
    await expect(startServer({ ...options, transcoders: bad })).rejects.toThrow(/layer_0\.safetensors: tensor "W_enc" has shape \[16, 128\], expected \[16, 256\]/);
    // And as a user sees it: `npm start -- --transcoders DIR` prints it and exits 1.
    const run = promisify(execFile);
    const result = await run(join(repoRoot, 'node_modules/.bin/tsx'), ['server/main.ts', '--port', '0', '--no-index', '--transcoders', bad], { cwd: repoRoot })
      .then(() => ({ code: 0, stderr: '' }), (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }));
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: .*layer_0\.safetensors: tensor "W_enc" has shape \[16, 128\]/m);
    expect(result.stderr).not.toMatch(/\n\s+at /); // words, not a stack trace
  }, 120_000);
});

describe('live features', () => {
  it('streams each position\'s active features to a subscribed client only, equal to the transcoders on the engine\'s hooks', async () => {
    const subscribed = await client();
    const plain = await client();
    expect(await subscribed.emitWithAck('features:subscribe', true)).toEqual({ ok: true, value: { subscribed: true } });
    const framesOf = async (socket: Client) => {
      const frames: ArrayBuffer[] = [];
      const listener = (_: string, frame: ArrayBuffer) => frames.push(frame);
      socket.on('run:frame', listener);
      const response = await socket.emitWithAck('run:prompt', { prompt: question.prompt });
      socket.off('run:frame', listener);
      if (!response.ok) throw new Error(response.error.message);
      return { frames, tokens: response.value.tokens.map((t) => t.id) };
    };
    const [withFeatures, without] = await Promise.all([framesOf(subscribed), framesOf(plain)]);
    const { host } = server;
    const spec = host.model.decoder.spec;
    const T = withFeatures.tokens.length;
    expect(withFeatures.frames).toHaveLength(T);
    // The neuron-only client's frames are exactly the neuron codec's size: it pays nothing.
    without.frames.forEach((buffer, t) => {
      expect(buffer.byteLength).toBe(frameByteLength(spec.nLayers, spec.dMlp, spec.nHeads, t + 1));
      expect(decodeFrame(buffer).features).toBeNull();
    });
    // Reference: the transcoders run on a plain engine run's hooks, dense, compared entry by entry.
    const { set, runner } = host.transcoders!;
    const hooks = set.layers.flatMap((t) => transcoderHooks(set.inputHook, t.layer));
    const { cache } = await host.runner.run([withFeatures.tokens], { hooks });
    let active = 0;
    for (let l = 0; l < spec.nLayers; l++) {
      const dense = (await runner.run(l, transcoderInput(set.inputHook, host.model.decoder, cache, l))).features;
      const F = set.layers[l]!.nFeatures;
      withFeatures.frames.forEach((buffer, t) => {
        const f = decodeFrame(buffer).features!;
        expect(f.featuresPerLayer).toBe(F);
        const start = f.counts.slice(0, l).reduce((a, b) => a + b, 0);
        const shown = new Map<number, number>();
        for (let j = 0; j < f.counts[l]!; j++) shown.set(f.indices[start + j]!, f.values[start + j]!);
        let max = 0;
        for (let i = 0; i < F; i++) max = Math.max(max, dense.data[t * F + i]!);
        for (let i = 0; i < F; i++) {
          const value = dense.data[t * F + i]!;
          if (value > 0) {
            expect(shown.has(i)).toBe(true);
            expect(Math.abs(shown.get(i)! - value)).toBeLessThanOrEqual(max / 65535 + 1e-6);
          } else expect(shown.has(i)).toBe(false);
        }
        active += f.counts[l]!;
      });
    }
    // The shipped transcoders run at about 30 active features per token and layer.
    expect(active / (T * spec.nLayers)).toBeGreaterThan(5);
    expect(active / (T * spec.nLayers)).toBeLessThan(200);
  });

  it('streams features with every generated token while subscribed, and stops after unsubscribing', async () => {
    const socket = await client();
    await socket.emitWithAck('features:subscribe', true);
    const generate = async () => {
      const frames: (ArrayBuffer | null)[] = [];
      socket.on('generate:token', (_r, _t, _p, frame) => frames.push(frame));
      const done = new Promise<void>((resolve) => socket.once('generate:done', () => resolve()));
      const started = await socket.emitWithAck('generate:start', { prompt: 'Once upon a time', maxTokens: 4, temperature: 0 });
      expect(started.ok).toBe(true);
      await done;
      socket.off('generate:token');
      return frames.filter((f): f is ArrayBuffer => f !== null).map((f) => decodeFrame(f));
    };
    const on = await generate();
    expect(on.length).toBeGreaterThan(0);
    for (const frame of on) {
      expect(frame.features).not.toBeNull();
      expect(frame.features!.indices.length).toBeGreaterThan(0);
    }
    expect(await socket.emitWithAck('features:subscribe', false)).toEqual({ ok: true, value: { subscribed: false } });
    const off = await generate();
    for (const frame of off) expect(frame.features).toBeNull();
    const wrong = await socket.emitWithAck('features:subscribe', 'yes' as never);
    expect(wrong.ok).toBe(false);
  });
});

describe('features in Explain', () => {
  it('lists the features raising and lowering Δ most by direct effect with the effects answer', async () => {
    const socket = await client();
    const response = await socket.emitWithAck('analysis:effects', question);
    expect(response.ok).toBe(true);
    if (!response.ok) return;
    const features = response.value.features!;
    expect(features).toBeTruthy();
    expect(features.layers.map((l) => l.layer)).toEqual([0, 1, 2, 3]);
    const raising = features.direct.filter((f) => f.value > 0);
    const lowering = features.direct.filter((f) => f.value < 0);
    expect(raising.length + lowering.length).toBe(features.direct.length);
    expect(raising.length).toBeGreaterThan(0);
    expect(raising.length).toBeLessThanOrEqual(20);
    expect(lowering.length).toBeLessThanOrEqual(20);
    for (let i = 1; i < raising.length; i++) expect(raising[i]!.value).toBeLessThanOrEqual(raising[i - 1]!.value);
    for (let i = 1; i < lowering.length; i++) expect(lowering[i]!.value).toBeGreaterThanOrEqual(lowering[i - 1]!.value);
    const P = response.value.tokens.length - 1;
    for (const f of features.direct) {
      expect(f.pos).toBe(P);
      expect(f.activation).toBeGreaterThan(0);
      expect(f.index).toBeLessThan(2048);
    }
  });
});

describe('feature explanations on demand', () => {
  it('scans the corpus for one feature: top contexts, firing statistics, promoted and suppressed tokens', async () => {
    const socket = await client();
    const effects = await socket.emitWithAck('analysis:effects', question);
    if (!effects.ok) throw new Error(effects.error.message);
    const feature = effects.value.features!.direct[0]!;
    const progress: number[] = [];
    socket.on('analysis:progress', (_id, done) => progress.push(done));
    const response = await socket.emitWithAck('feature:details', { layer: feature.layer, index: feature.index });
    expect(response.ok).toBe(true);
    if (!response.ok) return;
    const details = response.value;
    expect(progress.length).toBeGreaterThan(3);
    expect(details.tokensScanned).toBeGreaterThan(20_000);
    expect(details.activeShare).toBeGreaterThan(0);
    expect(details.activeShare).toBeLessThan(1);
    expect(details.examples.length).toBeGreaterThan(0);
    expect(details.maxActivation).toBeCloseTo(details.examples[0]!.max, 5);
    for (let i = 0; i < details.examples.length; i++) {
      const example = details.examples[i]!;
      if (i > 0) expect(example.max).toBeLessThanOrEqual(details.examples[i - 1]!.max);
      expect(example.tokens).toHaveLength(example.activations.length);
      // The maximum re-read from a run of that context alone is the scan's (batching changes nothing).
      expect(example.activations[example.at]!).toBeCloseTo(example.max, 3);
      expect(Math.max(...example.activations)).toBeCloseTo(example.max, 3);
    }
    expect(details.meanActive).toBeGreaterThan(0);
    expect(details.meanActive).toBeLessThanOrEqual(details.maxActivation);
    // Promoted tokens: W_dec[f] through γ (centred) and W_U, recomputed here.
    const { decoder } = server.host.model;
    const { dModel: d, vocabSize: V } = decoder.spec;
    const row = server.host.transcoders!.set.layers[feature.layer]!.W_dec.data.subarray(feature.index * d, (feature.index + 1) * d);
    const mean = row.reduce((a, b) => a + b, 0) / d;
    const gamma = decoder.weights['ln_final.w']!.data;
    const W_U = decoder.weights['unembed.W_U']!.data;
    const effectOf = (v: number) => { let e = 0; for (let j = 0; j < d; j++) e += (row[j]! - mean) * gamma[j]! * W_U[j * V + v]!; return e; };
    let best = 0;
    for (let v = 1; v < V; v++) if (effectOf(v) > effectOf(best)) best = v;
    expect(details.promoted[0]!.token.id).toBe(best);
    expect(details.promoted[0]!.value).toBeCloseTo(effectOf(best), 4);
    expect(details.suppressed[0]!.value).toBeLessThan(0);
    const bad = await socket.emitWithAck('feature:details', { layer: 0, index: 2048 });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error.message).toMatch(/layer 0 has 2048 features/);
  }, 120_000);
});

describe('trace over features', () => {
  it('builds the exact feature graph as a scheduler job with progress, scores in its metadata', async () => {
    const socket = await client();
    const progress: [number, number][] = [];
    socket.on('analysis:progress', (_id, done, total) => progress.push([done, total]));
    const response = await socket.emitWithAck('analysis:graph', { ...question, over: 'features' });
    expect(response.ok).toBe(true);
    if (!response.ok) return;
    const graph = importGraph(JSON.parse(response.value.graph));
    const kinds = graph.nodes.map(nodeKind);
    expect(graph.nodes.filter((n) => n.feature_type === 'cross layer transcoder').length).toBeGreaterThan(10);
    expect(graph.nodes.some((n) => n.feature_type === 'mlp reconstruction error')).toBe(true);
    expect(graph.nodes.some((n) => n.feature_type === 'mlp neuron')).toBe(false);
    expect(kinds.filter((k) => k === 'logit')).toHaveLength(1);
    const { replacement_score: replacement, completeness_score: completeness } = graph.metadata;
    expect(replacement).toBeGreaterThan(0);
    expect(replacement).toBeLessThanOrEqual(1);
    expect(completeness).toBeGreaterThan(0);
    expect(completeness).toBeLessThanOrEqual(1);
    expect(response.value.full.nodes).toBeGreaterThanOrEqual(graph.nodes.length);
    // Progress: several steps, counting up to the total.
    expect(progress.length).toBeGreaterThan(2);
    for (let i = 1; i < progress.length; i++) expect(progress[i]![0]).toBeGreaterThanOrEqual(progress[i - 1]![0]);
    expect(progress[progress.length - 1]![0]).toBe(progress[progress.length - 1]![1]);
    // Exact: every edge into the logit (asked of the whole graph the server holds) + its constant = Δ.
    const logit = graph.nodes.find((n) => nodeKind(n) === 'logit')!;
    const edges = await socket.emitWithAck('analysis:graph-node', { runId: response.value.runId, nodeId: logit.node_id });
    expect(edges.ok).toBe(true);
    if (!edges.ok) return;
    const sum = edges.value.incoming.reduce((a, e) => a + e.weight, 0) + (logit.constant ?? 0);
    expect(logit.actual).toBeDefined();
    expect(Math.abs(sum - logit.actual!)).toBeLessThan(1e-3 * Math.max(1, Math.abs(logit.actual!)));
    expect(edges.value.incoming.some((e) => /^\d+_\d+_\d+$/.test(e.source) && !e.source.startsWith('0_-1'))).toBe(true);
  });

  it('is cancelled at its next step, and the server keeps serving', async () => {
    const socket = await client();
    let runId: string | null = null;
    socket.on('analysis:progress', (id) => {
      if (runId === null) {
        runId = id;
        socket.emit('run:cancel', id);
      }
    });
    const response = await socket.emitWithAck('analysis:graph', { ...question, prompt: `${question.prompt} and the leaves fell from the`, over: 'features' });
    expect(response.ok).toBe(false);
    if (!response.ok) expect(response.error.code).toBe('cancelled');
    const run = await socket.emitWithAck('run:prompt', { prompt: 'still here' });
    expect(run.ok).toBe(true);
  });
});
