/**
 * What the circuit views draw, shared by the 2D panel and the 3D paths so both show the same
 * subgraph: the pruned graph's kept nodes and links, with supernodes (named groups of nodes)
 * merged into one node each (links into or out of a group summed, links inside it dropped), and
 * the words each node is shown with. Pure functions of the store's graph, prune and groups.
 */
import type { GraphIndex } from '../../../shared/graph/io.js';
import type { PruneResult } from '../../../shared/graph/prune.js';
import { nodeKind, type AttributionGraph, type GraphNode, type NodeKind } from '../../../shared/graph/schema.js';

export interface ViewNode {
  /** A graph node id, or `group:{label}` for a supernode. */
  id: string;
  kind: NodeKind | 'group';
  /** Graph node indices drawn by this view node (one, or a supernode's members). */
  members: number[];
  /** Row: layer number for features and errors; −1 embeddings; Infinity logits; groups: members' mean. */
  layer: number;
  /** Column: prompt position (groups: the members' mean). */
  position: number;
  /** Influence on the logits (full graph); groups: the members' sum. */
  influence: number;
  label: string;
}

export interface ViewLink {
  source: number; // index into ViewModel.nodes
  target: number;
  weight: number;
  /** Rows of prune.keptLinks merged into this link (for the path highlight). */
  rows: number[];
}

export interface ViewModel {
  nodes: ViewNode[];
  links: ViewLink[];
  /** Graph node index → view node index (−1 when not shown). */
  viewOf: Int32Array;
  maxAbsWeight: number;
  maxInfluence: number;
}

/** A token as the rail shows it: a leading space as a dot, newlines as ↵. */
export function tokenText(text: string): string {
  return text.replace(/\n/g, '↵').replace(/^ /, '·');
}

function tokenAt(graph: AttributionGraph, position: number): string {
  const token = graph.metadata.prompt_tokens[position];
  return token === undefined ? `position ${position}` : `«${tokenText(token)}»`;
}

/** Our own aggregates of the neurons left out, as opposed to a foreign tool's error nodes. */
export function isOtherNeurons(node: GraphNode): boolean {
  return nodeKind(node) === 'error' && /^other neurons/.test(node.clerp);
}

/** The node's name in a few characters: the token, `L1/N219`, `other L0`, the logit's text. */
export function shortLabel(node: GraphNode, graph: AttributionGraph): string {
  const kind = nodeKind(node);
  if (kind === 'embedding') return tokenText(graph.metadata.prompt_tokens[node.ctx_idx] ?? node.clerp.replace(/^Emb: /, ''));
  if (kind === 'logit') {
    const target = graph.metadata.target;
    if (node.is_target_logit && target && graph.metadata.distractor) return `Δ ${tokenText(target.text)}−${tokenText(graph.metadata.distractor.text)}`;
    const quoted = /"(.*)"/.exec(node.clerp);
    return quoted ? tokenText(quoted[1]!) : node.clerp.slice(0, 14);
  }
  if (kind === 'error') return isOtherNeurons(node) ? `other L${node.layer}` : `error L${node.layer}`;
  return node.feature_type === 'mlp neuron' ? `L${node.layer}/N${node.feature}` : `L${node.layer}/F${node.feature}`;
}

/** The node in words, for lists and hover cards. */
export function longLabel(node: GraphNode, graph: AttributionGraph): string {
  const kind = nodeKind(node);
  const at = tokenAt(graph, node.ctx_idx);
  if (kind === 'embedding') return `token ${at} (position ${node.ctx_idx})`;
  if (kind === 'logit') return node.clerp || `logit of token ${node.feature}`;
  if (kind === 'error') return isOtherNeurons(node) ? `other neurons of layer ${node.layer} at ${at}` : `reconstruction error of layer ${node.layer} at ${at}`;
  const unit = node.feature_type === 'mlp neuron' ? `neuron ${node.feature} of layer ${node.layer}` : `feature ${node.feature} of layer ${node.layer}`;
  return `${unit} at ${at}`;
}

export function nodeRow(node: GraphNode): number {
  const kind = nodeKind(node);
  if (kind === 'embedding') return -1;
  if (kind === 'logit') return Infinity;
  const layer = Number(node.layer);
  return Number.isFinite(layer) ? layer : 0;
}

/** Layer chips in model order: emb, L0, L1, …, logit (not the order nodes happen to come in). */
export function layerOrder(label: string): number {
  if (label === 'emb') return -1;
  if (label === 'logit') return 1e9;
  const layer = Number(label.replace(/^L/, ''));
  return Number.isFinite(layer) ? layer : 1e8;
}

/**
 * Kept candidate nodes for a list, most influential first, and the aggregates ("other neurons",
 * error nodes) after every real unit: they say what was left out, not what to look at.
 */
export function rankedForList(index: GraphIndex, prune: PruneResult): string[] {
  const influence = (id: string) => prune.nodeInfluence.get(id) ?? 0;
  const units: string[] = [];
  const aggregates: string[] = [];
  for (const id of prune.keptNodeIds) {
    const kind = index.kinds[index.indexOf.get(id)!];
    if (kind === 'feature') units.push(id);
    else if (kind === 'error') aggregates.push(id);
  }
  units.sort((a, b) => influence(b) - influence(a));
  aggregates.sort((a, b) => influence(b) - influence(a));
  return [...units, ...aggregates];
}

export const groupPrefix = 'group:';

export function buildView(graph: AttributionGraph, index: GraphIndex, prune: PruneResult, supernodes: readonly string[][]): ViewModel {
  const n = index.nodeIds.length;
  const viewOf = new Int32Array(n).fill(-1);
  const nodes: ViewNode[] = [];
  const kept = new Uint8Array(n);
  for (const id of prune.keptNodeIds) kept[index.indexOf.get(id)!] = 1;
  // Supernodes first: each member (kept, not yet in a group) joins its group's view node.
  for (const [label, ...ids] of supernodes) {
    const members = ids.map((id) => index.indexOf.get(id)).filter((i): i is number => i !== undefined && kept[i] === 1 && viewOf[i] === -1);
    if (members.length === 0) continue;
    const v = nodes.length;
    let layer = 0;
    let position = 0;
    let influence = 0;
    for (const i of members) {
      viewOf[i] = v;
      const row = nodeRow(graph.nodes[i]!);
      layer += Number.isFinite(row) ? row : 0;
      position += graph.nodes[i]!.ctx_idx;
      influence += prune.nodeInfluence.get(index.nodeIds[i]!) ?? 0;
    }
    nodes.push({ id: `${groupPrefix}${label}`, kind: 'group', members, layer: layer / members.length, position: position / members.length, influence, label: label ?? 'group' });
  }
  for (const id of prune.keptNodeIds) {
    const i = index.indexOf.get(id)!;
    if (viewOf[i] !== -1) continue;
    const node = graph.nodes[i]!;
    viewOf[i] = nodes.length;
    nodes.push({ id, kind: index.kinds[i]!, members: [i], layer: nodeRow(node), position: node.ctx_idx, influence: prune.nodeInfluence.get(id) ?? 0, label: shortLabel(node, graph) });
  }
  // Links between view nodes: merged by (source, target), inside-group links dropped.
  const byPair = new Map<number, number>();
  const links: ViewLink[] = [];
  const rows = prune.keptLinkIndices;
  for (let r = 0; r < rows.length; r++) {
    const k = rows[r]!;
    const s = viewOf[index.edgeSources[k]!]!;
    const t = viewOf[index.edgeTargets[k]!]!;
    if (s < 0 || t < 0 || s === t) continue;
    const key = s * nodes.length + t;
    const at = byPair.get(key);
    if (at === undefined) {
      byPair.set(key, links.length);
      links.push({ source: s, target: t, weight: index.edgeWeights[k]!, rows: [r] });
    } else {
      links[at]!.weight += index.edgeWeights[k]!;
      links[at]!.rows.push(r);
    }
  }
  let maxAbsWeight = 0;
  for (const link of links) maxAbsWeight = Math.max(maxAbsWeight, Math.abs(link.weight));
  let maxInfluence = 0;
  for (const node of nodes) if (node.kind !== 'logit') maxInfluence = Math.max(maxInfluence, node.influence);
  return { nodes, links, viewOf, maxAbsWeight, maxInfluence };
}
