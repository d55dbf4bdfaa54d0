/**
 * The graph worker's jobs, run in-thread: a load from JSON text gives the same prune as pruning
 * the parsed graph directly, applies the file's own pins, reports bad input in words; in worker
 * mode the links travel as the index's arrays (an empty list to rebuild) and a re-prune after
 * the index's buffers were handed away still works on the worker's own copy.
 */
import { describe, expect, it } from 'vitest';
import { exportGraph, graphIndex } from '../../../shared/graph/io.js';
import { pruneGraph } from '../../../shared/graph/prune.js';
import { GraphJobs, transferables } from '../../../client/analysis/worker/graph-jobs.js';
import { randomGraph } from '../../shared/graph/random-graph.js';

const graph = randomGraph({ positions: 5, layers: 3, neuronsPerLayer: 30, logits: 2, density: 0.2, seed: 3 });

describe('graph worker jobs', () => {
  it('loads text and prunes it as pruneGraph does, with the file pins', async () => {
    const pinned = graph.nodes.find((n) => n.feature_type === 'mlp neuron')!.node_id;
    const text = exportGraph({ ...graph, qParams: { ...graph.qParams, pinnedIds: [pinned, 'no_such_node'] } });
    const reply = await new GraphJobs(false).handle({ id: 1, type: 'load', text, options: { maxNodes: 20 } });
    if (reply.type !== 'loaded') throw new Error(JSON.stringify(reply));
    const direct = pruneGraph(graphIndex(graph), { maxNodes: 20, pinnedIds: [pinned] });
    expect(reply.pinnedIds).toEqual([pinned]);
    expect(reply.prune.keptNodeIds).toEqual(direct.keptNodeIds);
    expect(reply.prune.keptLinks).toEqual(direct.keptLinks);
    expect(reply.graph.links.length).toBe(graph.links.length);
  });

  it('in worker mode ships links as arrays and re-prunes after its buffers were transferred', async () => {
    const jobs = new GraphJobs(true);
    const reply = await jobs.handle({ id: 1, type: 'load', text: exportGraph(graph), options: {} });
    if (reply.type !== 'loaded') throw new Error(JSON.stringify(reply));
    expect(reply.graph.links).toEqual([]);
    expect(reply.index.edgeWeights.length).toBe(graph.links.length);
    // What postMessage does to transferred buffers: detach them.
    for (const buffer of transferables(reply)) structuredClone(buffer, { transfer: [buffer] });
    expect(reply.index.edgeWeights.length).toBe(0);
    const again = await jobs.handle({ id: 2, type: 'prune', options: { maxNodes: 10 } });
    if (again.type !== 'pruned') throw new Error(JSON.stringify(again));
    expect(again.prune.keptNodeIds).toEqual(pruneGraph(graphIndex(graph), { maxNodes: 10 }).keptNodeIds);
  });

  it('says what is wrong with bad input', async () => {
    const reply = await new GraphJobs(false).handle({ id: 1, type: 'load', text: '{"metadata": 3}', options: {} });
    expect(reply).toMatchObject({ type: 'error', message: expect.stringMatching(/^metadata: expected an object/) });
    const none = await new GraphJobs(false).handle({ id: 2, type: 'prune', options: {} });
    expect(none).toMatchObject({ type: 'error', message: 'no graph is loaded' });
  });
});
