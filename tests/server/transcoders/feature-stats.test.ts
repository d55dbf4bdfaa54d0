/**
 * Issue 13 gap 1: 'feature:details' returns the histogram and quantiles of the feature's
 * activations over the scanned tokens, checked against a brute-force scan written here (the
 * layer's full transcoder forward over the same corpus contexts, sorted and counted directly).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { io as connect, type Socket } from 'socket.io-client';
import { startServer } from '../../../server/main.js';
import { buildContexts } from '../../../server/neurons/contexts.js';
import { openCorpus } from '../../../server/neurons/corpus.js';
import { FEATURE_SCAN_TOKENS } from '../../../server/transport/feature-handlers.js';
import { transcoderHooks, transcoderInput } from '../../../shared/transcoders/inputs.js';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../shared/protocol.js';

const model = fileURLToPath(new URL('../../../assets/models/brown-gpt2/', import.meta.url));
type Client = Socket<ServerToClientEvents, ClientToServerEvents>;
let server: Awaited<ReturnType<typeof startServer>>;
let socket: Client;

beforeAll(async () => {
  // A fresh index folder: the on-demand scan answers (an index built in .cache would answer instead).
  server = await startServer({ model, port: 0, host: '127.0.0.1', device: 'cpu', https: false, serveClient: false, index: false, indexDir: mkdtempSync(join(tmpdir(), 'feature-stats-')), log: () => {} });
  socket = connect(server.url, { transports: ['websocket'], forceNew: true });
  await new Promise<void>((resolve, reject) => { socket.once('connect', () => resolve()); socket.once('connect_error', reject); });
}, 120_000);

afterAll(async () => {
  socket?.disconnect();
  await server?.close();
});

describe('feature explanations: histogram and quantiles', () => {
  it('match a brute-force scan of the same corpus tokens', async () => {
    const layer = 1;
    const effects = await socket.emitWithAck('analysis:effects', { prompt: ' the apple fell from the', target: ' tree', distractor: ' sky' });
    if (!effects.ok) throw new Error(effects.error.message);
    const index = (effects.value.features!.direct.find((f) => f.layer === layer) ?? effects.value.features!.direct[0]!).index;
    const asked = effects.value.features!.direct.find((f) => f.layer === layer) ? layer : effects.value.features!.direct[0]!.layer;
    const response = await socket.emitWithAck('feature:details', { layer: asked, index });
    if (!response.ok) throw new Error(response.error.message);
    const details = response.value;
    expect(details.source).toBe('scan');

    // Brute force: every scored token of the same contexts through the layer's whole transcoder.
    const { host } = server;
    const { decoder, tokenizer } = host.model;
    const set = host.transcoders!.set;
    const contexts = await buildContexts(openCorpus(), tokenizer, decoder.spec, { budget: FEATURE_SCAN_TOKENS });
    const C = contexts.contextLength;
    const F = set.layers[asked]!.nFeatures;
    const hooks = transcoderHooks(set.inputHook, asked).filter((h) => !h.endsWith('hook_mlp_out'));
    const values: number[] = [];
    for (let first = 0; first < contexts.count; first += 16) {
      const n = Math.min(16, contexts.count - first);
      const rows = Array.from({ length: n }, (_, c) => Array.from(contexts.tokens.subarray((first + c) * C, (first + c + 1) * C)));
      const cache = await host.runner.runHooks(rows, hooks);
      const { features } = await host.transcoders!.runner.run(asked, transcoderInput(set.inputHook, decoder, cache, asked));
      for (let c = 0; c < n; c++) for (let p = contexts.scoredStart; p < C; p++) values.push(features.data[(c * C + p) * F + index]!);
    }
    expect(details.tokensScanned).toBe(values.length);

    // Histogram: every token in exactly one bin; counts as counted here from the sent edges.
    const { edges, counts } = details.histogram;
    expect(edges).toHaveLength(counts.length + 1);
    expect(counts.length).toBeGreaterThan(4);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(values.length);
    expect(edges[0]!).toBeLessThanOrEqual(Math.min(...values));
    expect(edges[edges.length - 1]!).toBeGreaterThan(Math.max(...values) - 1e-6);
    const brute = counts.map((_, i) => values.filter((v) => v >= edges[i]! && (i === counts.length - 1 ? v <= edges[i + 1]! : v < edges[i + 1]!)).length);
    let moved = 0;
    for (let i = 0; i < counts.length; i++) moved += Math.abs(brute[i]! - counts[i]!);
    expect(moved).toBeLessThanOrEqual(4); // a value within float error of an edge may fall either side
    expect(counts[edges.findIndex((e, i) => e <= 0 && edges[i + 1]! > 0)]!).toBeGreaterThanOrEqual(values.filter((v) => v === 0).length - 4);

    // Quantiles of the active tokens (the index's rule: value at round(q (n - 1)) of the sorted list).
    const active = values.filter((v) => v > 0).sort((a, b) => a - b);
    expect(details.quantiles.map((q) => q.quantile)).toEqual([0.1, 0.3, 0.5, 0.7, 0.9]);
    for (const q of details.quantiles) {
      const expected = active[Math.round(q.quantile * (active.length - 1))]!;
      expect(Math.abs(q.value - expected)).toBeLessThan(1e-3 * Math.max(1, expected));
      // Its example is that token, re-read from a run of its context alone.
      expect(q.example.activations[q.example.at]!).toBeCloseTo(q.value, 3);
    }
    for (let i = 1; i < details.quantiles.length; i++) expect(details.quantiles[i]!.value).toBeGreaterThanOrEqual(details.quantiles[i - 1]!.value);
  }, 300_000);
});
