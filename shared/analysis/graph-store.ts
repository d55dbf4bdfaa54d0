/**
 * The whole graphs behind the pruned ones clients were sent: one per client (its last trace),
 * in typed arrays, answering "every edge of this node" on demand. At most `MAX_HELD` graphs
 * are held server-wide; beyond that the oldest is released and a query about it says so.
 */
import type { GraphNodeEdges } from '../protocol.js';
import type { RawGraph } from './attribution.js';
import { nodeId } from './graph-export.js';

export const MAX_HELD = 8;

/** Compressed rows: for node v, its edges are order[start[v] .. start[v+1]). */
interface Rows {
  start: Int32Array;
  order: Int32Array;
}

function rowsBy(keys: Int32Array, n: number): Rows {
  const start = new Int32Array(n + 1);
  for (let k = 0; k < keys.length; k++) start[keys[k]! + 1]!++;
  for (let i = 0; i < n; i++) start[i + 1]! += start[i]!;
  const fill = start.slice(0, n);
  const order = new Int32Array(keys.length);
  for (let k = 0; k < keys.length; k++) order[fill[keys[k]!]!++] = k;
  return { start, order };
}

export class HeldGraph {
  released = false;
  private readonly ids: string[];
  private readonly indexOf: Map<string, number>;
  private byTarget: Rows | null = null;
  private bySource: Rows | null = null;
  private readonly sources: Int32Array;
  private readonly targets: Int32Array;
  private readonly weights: Float64Array;

  /** `ids`: the model's layer count (neuron graphs: ids from the raw nodes), or the node ids themselves. */
  constructor(readonly runId: string, raw: Pick<RawGraph, 'sources' | 'targets' | 'weights'> & { nodes: unknown[] }, ids: number | string[]) {
    this.ids = typeof ids === 'number' ? (raw as RawGraph).nodes.map((node) => nodeId(node, ids)) : ids;
    this.indexOf = new Map(this.ids.map((id, i) => [id, i]));
    this.sources = raw.sources;
    this.targets = raw.targets;
    this.weights = raw.weights;
  }

  get links(): number {
    return this.weights.length;
  }

  get nodes(): number {
    return this.ids.length;
  }

  /** Every edge into and out of `id`, or null when the graph has no such node. */
  edgesOf(id: string): GraphNodeEdges | null {
    const v = this.indexOf.get(id);
    if (v === undefined) return null;
    this.byTarget ??= rowsBy(this.targets, this.ids.length);
    this.bySource ??= rowsBy(this.sources, this.ids.length);
    const incoming: GraphNodeEdges['incoming'] = [];
    const outgoing: GraphNodeEdges['outgoing'] = [];
    for (let r = this.byTarget.start[v]!; r < this.byTarget.start[v + 1]!; r++) {
      const k = this.byTarget.order[r]!;
      incoming.push({ source: this.ids[this.sources[k]!]!, weight: this.weights[k]! });
    }
    for (let r = this.bySource.start[v]!; r < this.bySource.start[v + 1]!; r++) {
      const k = this.bySource.order[r]!;
      outgoing.push({ target: this.ids[this.targets[k]!]!, weight: this.weights[k]! });
    }
    return { runId: this.runId, nodeId: id, incoming, outgoing };
  }
}

const held: HeldGraph[] = [];

/** Holds a graph, releasing the oldest beyond MAX_HELD. */
export function holdGraph(graph: HeldGraph): void {
  held.push(graph);
  while (held.length > MAX_HELD) held.shift()!.released = true;
}

export function releaseGraph(graph: HeldGraph | null): void {
  if (!graph) return;
  graph.released = true;
  const at = held.indexOf(graph);
  if (at >= 0) held.splice(at, 1);
}
