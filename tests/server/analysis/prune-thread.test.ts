/**
 * Pruning a big graph off the event loop: the worker thread gives the same pruned graph as the
 * same code run inline, keeps within the link budget by lowering the edge threshold, and
 * starts both under vitest (this file) and under tsx (a child `node --import tsx` process, as
 * `npm start` runs the server).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RawGraph, RawNode } from '../../../shared/analysis/attribution.js';
import { prunedGraphText, type PruneRequest } from '../../../shared/analysis/graph-prune.js';
import { pruneInWorker } from '../../../server/analysis/prune-thread.js';
import { importGraph } from '../../../shared/graph/io.js';
import { seededRandom } from '../../../shared/engine/generate.js';

/** A layered random graph: Δ logit, neurons in 3 layers × 6 positions, aggregates, embeddings. */
function syntheticGraph(): RawGraph {
  const random = seededRandom(3);
  const L = 3;
  const T = 6;
  const nodes: RawNode[] = [{ kind: 'logit', layer: L, index: 7, pos: T - 1, activation: null, actual: 1, constant: 0 }];
  for (let l = 0; l < L; l++) for (let p = 0; p < T; p++) for (let i = 0; i < 12; i++) nodes.push({ kind: 'neuron', layer: l, index: i, pos: p, activation: random(), actual: 0, constant: 0 });
  for (let l = 0; l < L; l++) for (let p = 0; p < T; p++) nodes.push({ kind: 'aggregate', layer: l, index: -1, pos: p, activation: null });
  for (let p = 0; p < T; p++) nodes.push({ kind: 'embedding', layer: -1, index: 20 + p, pos: p, activation: null });
  const sources: number[] = [];
  const targets: number[] = [];
  const weights: number[] = [];
  nodes.forEach((t, ti) => {
    if (t.kind !== 'logit' && t.kind !== 'neuron') return;
    nodes.forEach((s, si) => {
      if (s.pos > t.pos || s.layer >= t.layer || s.kind === 'logit') return;
      sources.push(si);
      targets.push(ti);
      weights.push((random() * 2 - 1) ** 3);
    });
  });
  return {
    tokens: [20, 21, 22, 23, 24, 25], target: 7, distractor: 8, logitDiff: 1, targetProb: 0.4, nodes,
    sources: Int32Array.from(sources), targets: Int32Array.from(targets), weights: Float64Array.from(weights),
    stats: { expanded: 216, vjpCalls: 0, candidates: 216 },
  };
}

function request(linkBudget: number): PruneRequest {
  const raw = syntheticGraph();
  const tokenTexts: Record<number, string> = {};
  for (const id of [...raw.tokens, 7, 8]) tokenTexts[id] = `t${id}`;
  return {
    raw, tokenTexts, linkBudget,
    options: { scan: 'synthetic', prompt: 'p', nLayers: 3, targetProb: 0.4, batchSize: 32, maxNodes: 216, nodeThreshold: 0.8, edgeThreshold: 0.98 },
  };
}

/** The graph without its time-dependent metadata (slug, creation time). */
const content = (text: string) => {
  const graph = importGraph(text);
  return { nodes: graph.nodes, links: graph.links, pruning: graph.metadata.pruning_settings };
};

describe('graph pruning in a worker thread', () => {
  it('matches the inline result and keeps within the link budget (vitest)', async () => {
    const whole = request(1e9);
    const unbounded = prunedGraphText(whole);
    expect(unbounded.edgeThreshold).toBe(0.98);
    const budget = Math.floor(unbounded.links / 3);
    const capped = request(budget);
    const inline = prunedGraphText(capped);
    const threaded = await pruneInWorker(capped).result;
    expect(content(threaded.text)).toEqual(content(inline.text));
    expect(threaded.links).toBeLessThanOrEqual(budget);
    expect(threaded.links).toBeGreaterThan(budget / 4); // the threshold search does not overshoot wildly
    expect(threaded.edgeThreshold).toBeLessThan(0.98);
    expect(importGraph(threaded.text).links).toHaveLength(threaded.links);
  });

  it('starts under tsx too (as npm start runs the server)', async () => {
    const capped = request(200);
    const inline = prunedGraphText(capped);
    const code = `
      const { pruneInWorker } = await import(${JSON.stringify(new URL('../../../server/analysis/prune-thread.ts', import.meta.url).href)});
      const { readFileSync } = await import('node:fs');
      const request = JSON.parse(readFileSync(process.env.PRUNE_REQUEST, 'utf8'));
      const raw = request.raw;
      raw.sources = Int32Array.from(raw.sources); raw.targets = Int32Array.from(raw.targets); raw.weights = Float64Array.from(raw.weights);
      const result = await pruneInWorker(request).result;
      process.stdout.write(JSON.stringify(result));
    `;
    const json = JSON.stringify({ ...capped, raw: { ...capped.raw, sources: [...capped.raw.sources], targets: [...capped.raw.targets], weights: [...capped.raw.weights] } });
    const dir = mkdtempSync(join(tmpdir(), 'prune-'));
    writeFileSync(join(dir, 'request.json'), json);
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { env: { ...process.env, PRUNE_REQUEST: join(dir, 'request.json') }, maxBuffer: 1 << 26 },
        (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out)));
    }).finally(() => rmSync(dir, { recursive: true, force: true }));
    const result = JSON.parse(stdout) as { text: string; links: number };
    expect(content(result.text)).toEqual(content(inline.text));
    expect(result.links).toBeLessThanOrEqual(200);
  });
});
