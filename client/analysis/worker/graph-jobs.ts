/**
 * The graph work that must not run on the page's main thread for large graphs: parse and
 * validate the JSON text, index it, prune it. One `GraphJobs` holds the loaded graph's index so
 * a re-prune (a slider moved, a pin) sends only the options. Runs inside the Web Worker
 * (graph.worker.ts) and, where no Worker exists (Node tests), in-thread: same code either way.
 */
import { graphIndex, importGraph, type GraphIndex } from '../../../shared/graph/io.js';
import { pruneGraph, type PruneOptions, type PruneResult } from '../../../shared/graph/prune.js';
import type { AttributionGraph } from '../../../shared/graph/schema.js';

export type GraphRequest =
  | { id: number; type: 'load'; text?: string; blob?: Blob; graph?: AttributionGraph; options: PruneOptions }
  | { id: number; type: 'prune'; options: PruneOptions };

export type GraphReply =
  | { id: number; type: 'loaded'; graph: AttributionGraph; index: GraphIndex; prune: PruneResult; pinnedIds: string[]; parseMs: number; pruneMs: number }
  | { id: number; type: 'pruned'; prune: PruneResult; pruneMs: number }
  | { id: number; type: 'error'; message: string };

/** Typed arrays a reply can hand over without a copy (the sender loses them). */
export function transferables(reply: GraphReply): ArrayBuffer[] {
  const buffers: ArrayBuffer[] = [];
  if (reply.type === 'loaded') {
    const { index } = reply;
    for (const array of [index.tokenProbs, index.logitIndices, index.embeddingIndices, index.edgeSources, index.edgeTargets, index.edgeWeights]) buffers.push(array.buffer as ArrayBuffer);
  }
  if (reply.type === 'loaded' || reply.type === 'pruned') buffers.push(reply.prune.keptLinkIndices.buffer as ArrayBuffer);
  return buffers;
}

export class GraphJobs {
  private index: GraphIndex | null = null;

  /** `keepIndexCopy`: in a worker the index's buffers are transferred away, so a copy stays here. */
  constructor(private readonly keepIndexCopy: boolean) {}

  async handle(request: GraphRequest): Promise<GraphReply> {
    try {
      if (request.type === 'load') {
        // A file arrives as its Blob: reading and decoding it happens here, not on the page's thread.
        const text = request.blob ? await request.blob.text() : request.text;
        const t0 = performance.now();
        const graph = request.graph ?? importGraph(text ?? '');
        const index = graphIndex(graph);
        const t1 = performance.now();
        // Pins saved in the file (qParams) apply unless the caller names its own; unknown ids are dropped.
        const pinnedIds = (request.options.pinnedIds ?? graph.qParams.pinnedIds).filter((id) => index.indexOf.has(id));
        const prune = pruneGraph(index, { ...request.options, pinnedIds });
        const t2 = performance.now();
        this.index = index;
        const sent = this.keepIndexCopy ? copyIndex(index) : index;
        // In a worker the links travel as the index's typed arrays (transferred, no copy) and are
        // rebuilt as objects on arrival: cloning tens of thousands of objects would stall the page.
        const shipped = this.keepIndexCopy ? { ...graph, links: [] } : graph;
        return { id: request.id, type: 'loaded', graph: shipped, index: sent, prune, pinnedIds, parseMs: t1 - t0, pruneMs: t2 - t1 };
      }
      if (!this.index) throw new Error('no graph is loaded');
      const t0 = performance.now();
      const prune = pruneGraph(this.index, request.options);
      return { id: request.id, type: 'pruned', prune, pruneMs: performance.now() - t0 };
    } catch (error) {
      return { id: request.id, type: 'error', message: (error as Error).message };
    }
  }
}

function copyIndex(index: GraphIndex): GraphIndex {
  return {
    ...index,
    tokenProbs: index.tokenProbs.slice(),
    logitIndices: index.logitIndices.slice(),
    embeddingIndices: index.embeddingIndices.slice(),
    edgeSources: index.edgeSources.slice(),
    edgeTargets: index.edgeTargets.slice(),
    edgeWeights: index.edgeWeights.slice(),
  };
}
