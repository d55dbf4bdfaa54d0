/**
 * Scores and checks of a feature graph (graph.ts): circuit-tracer's replacement and completeness
 * scores, and the exactness of every target node (Σ incoming edges + constant = actual value).
 */
import type { FeatureGraph } from './graph.js';

/**
 * circuit-tracer's compute_graph_scores on the edge list: Â = |A| with rows (targets) normalised
 * to sum 1; influence I = w(Â + Â² + …) with w = 1 on the logit; replacement = influence of the
 * embeddings / (embeddings + error nodes); completeness = Σ (1 − Â's error share of each row)·(I + w)
 * / Σ (I + w).
 */
export function graphScores(graph: Pick<FeatureGraph, 'nodes' | 'sources' | 'targets' | 'weights'>): { replacement: number; completeness: number } {
  const n = graph.nodes.length;
  const rowSum = new Float64Array(n);
  for (let k = 0; k < graph.weights.length; k++) rowSum[graph.targets[k]!]! += Math.abs(graph.weights[k]!);
  const norm = (k: number) => Math.abs(graph.weights[k]!) / Math.max(rowSum[graph.targets[k]!]!, 1e-10);
  const w = new Float64Array(n);
  graph.nodes.forEach((node, i) => { if (node.kind === 'logit') w[i] = 1; });
  const influence = new Float64Array(n);
  let current = w;
  for (let step = 0; step <= n; step++) {
    const next = new Float64Array(n);
    let any = false;
    for (let k = 0; k < graph.weights.length; k++) {
      const c = current[graph.targets[k]!]!;
      if (c === 0) continue;
      next[graph.sources[k]!]! += c * norm(k);
      any = true;
    }
    if (!any) break;
    for (let i = 0; i < n; i++) influence[i]! += next[i]!;
    current = next;
  }
  let tokens = 0;
  let errors = 0;
  graph.nodes.forEach((node, i) => {
    if (node.kind === 'embedding') tokens += influence[i]!;
    if (node.kind === 'error') errors += influence[i]!;
  });
  const errorShare = new Float64Array(n);
  for (let k = 0; k < graph.weights.length; k++) if (graph.nodes[graph.sources[k]!]!.kind === 'error') errorShare[graph.targets[k]!]! += norm(k);
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    const out = influence[i]! + w[i]!;
    num += (1 - errorShare[i]!) * out;
    den += out;
  }
  return { replacement: tokens + errors > 0 ? tokens / (tokens + errors) : 1, completeness: den > 0 ? num / den : 1 };
}

/** For every target node: |Σ incoming + constant − actual| / max(1, |actual|); the largest. */
export function exactnessError(graph: Pick<FeatureGraph, 'nodes' | 'sources' | 'targets' | 'weights'>): { worst: number; node: number; checked: number } {
  const total = graph.nodes.map((node) => node.constant ?? 0);
  for (let k = 0; k < graph.weights.length; k++) total[graph.targets[k]!]! += graph.weights[k]!;
  let worst = 0;
  let node = -1;
  let checked = 0;
  graph.nodes.forEach((n, i) => {
    if (n.actual === undefined) return;
    checked++;
    const err = Math.abs(total[i]! - n.actual) / Math.max(1, Math.abs(n.actual));
    if (err > worst || node < 0) {
      worst = Math.max(worst, err);
      if (err >= worst) node = i;
    }
  });
  return { worst, node, checked };
}
