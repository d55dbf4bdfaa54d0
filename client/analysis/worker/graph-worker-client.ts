/**
 * The main thread's side of the graph worker: `load` (JSON text or a parsed graph) and `prune`
 * as promises. Only the newest request of each kind matters to the caller, which drops stale
 * answers by comparing what it asked for. Without Worker support (Node, tests of pure state)
 * the same jobs run in-thread.
 */
import type { GraphIndex } from '../../../shared/graph/io.js';
import type { PruneOptions, PruneResult } from '../../../shared/graph/prune.js';
import type { AttributionGraph } from '../../../shared/graph/schema.js';
import { GraphJobs, type GraphReply, type GraphRequest } from './graph-jobs.js';

export interface LoadedGraph {
  graph: AttributionGraph;
  index: GraphIndex;
  prune: PruneResult;
  /** The pins the prune used (the file's own, when the caller named none). */
  pinnedIds: string[];
}

/** A graph as JSON text (a trace's answer), a file (read in the worker) or already parsed. */
export type GraphInput = { text: string } | { blob: Blob } | { graph: AttributionGraph };

export interface GraphWorkerClient {
  load(input: GraphInput, options: PruneOptions): Promise<LoadedGraph>;
  prune(options: PruneOptions): Promise<PruneResult>;
  dispose(): void;
}

/**
 * `graph.links` built on first read: the views never need the full list (they read the index's
 * typed arrays and the prune's kept links), and building tens of thousands of objects on arrival
 * cost the page a long task and a garbage collection. Export or storage reads it and gets it.
 */
function lazyLinks(graph: AttributionGraph, index: GraphIndex): void {
  let links: AttributionGraph['links'] | null = null;
  Object.defineProperty(graph, 'links', {
    get: () => (links ??= linksOf(index)),
    set: (value: AttributionGraph['links']) => { links = value; },
    enumerable: true,
    configurable: true,
  });
}

/** The graph's links as objects, from the index's typed arrays (graph order). */
function linksOf(index: GraphIndex): AttributionGraph['links'] {
  const { nodeIds, edgeSources, edgeTargets, edgeWeights } = index;
  const links = new Array<AttributionGraph['links'][number]>(edgeSources.length);
  for (let k = 0; k < links.length; k++) links[k] = { source: nodeIds[edgeSources[k]!]!, target: nodeIds[edgeTargets[k]!]!, weight: edgeWeights[k]! };
  return links;
}

type Distribute<T> = T extends unknown ? Omit<T, 'id'> : never;

export function createGraphWorkerClient(): GraphWorkerClient {
  let worker: Worker | null = null;
  if (typeof Worker !== 'undefined') {
    try {
      worker = new Worker(new URL('./graph.worker.ts', import.meta.url), { type: 'module' });
    } catch {
      worker = null; // a page without module workers: in-thread below
    }
  }
  const jobs = worker ? null : new GraphJobs(false);
  const waiting = new Map<number, (reply: GraphReply) => void>();
  let nextId = 1;
  if (worker) {
    worker.onmessage = (event: MessageEvent<GraphReply>) => {
      const resolve = waiting.get(event.data.id);
      waiting.delete(event.data.id);
      resolve?.(event.data);
    };
    worker.onerror = (event) => {
      // A crashed worker answers nothing more: fail everything waiting, with the reason.
      for (const [id, resolve] of waiting) resolve({ id, type: 'error', message: `graph worker failed: ${event.message}` });
      waiting.clear();
    };
  }

  const send = (request: Distribute<GraphRequest>): Promise<GraphReply> => {
    const full = { ...request, id: nextId++ } as GraphRequest;
    if (jobs) return jobs.handle(full);
    return new Promise((resolve) => {
      waiting.set(full.id, resolve);
      worker!.postMessage(full);
    });
  };

  return {
    async load(input, options) {
      const reply = await send({ type: 'load', ...input, options });
      if (reply.type === 'error') throw new Error(reply.message);
      if (reply.type !== 'loaded') throw new Error(`graph worker: unexpected ${reply.type} reply`);
      const { graph, index } = reply;
      if (graph.links.length === 0 && index.edgeSources.length > 0) lazyLinks(graph, index);
      return { graph, index, prune: reply.prune, pinnedIds: reply.pinnedIds };
    },
    async prune(options) {
      const reply = await send({ type: 'prune', options });
      if (reply.type === 'error') throw new Error(reply.message);
      if (reply.type !== 'pruned') throw new Error(`graph worker: unexpected ${reply.type} reply`);
      return reply.prune;
    },
    dispose() {
      worker?.terminate();
      waiting.clear();
    },
  };
}
