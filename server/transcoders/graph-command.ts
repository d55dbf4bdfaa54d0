/**
 * The CLI's `graph --transcoders DIR` (server/cli.ts dispatches to it): the attribution graph of
 * the replacement model (graph.ts) over transcoder features, pruned like the neuron graph unless
 * `--unpruned`, written as Neuronpedia JSON. Prints its exactness and scores on stderr.
 */
import { writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { exportGraph } from '../../shared/graph/io.js';
import { applyPrune, pruneGraph } from '../../shared/graph/prune.js';
import type { AnalysisContext } from '../../shared/analysis/context.js';
import type { ResolvedQuestion } from '../../shared/analysis/question.js';
import { TranscoderRunner } from '../../shared/transcoders/forward.js';
import { exactnessError, buildFeatureGraph } from '../../shared/transcoders/graph.js';
import { featureGraphJson } from '../../shared/transcoders/graph-export.js';
import { loadTranscoderSet } from './load.js';

export interface FeatureGraphArgs {
  model: string;
  transcoders: string;
  prompt: string;
  out: string;
  unpruned: boolean;
  nodeThreshold: number;
  edgeThreshold: number;
}

export async function featureGraphCommand(context: AnalysisContext, question: ResolvedQuestion, args: FeatureGraphArgs): Promise<void> {
  const { decoder, tokenizer } = context.model;
  const set = loadTranscoderSet(args.transcoders, decoder.spec);
  const transcoders = await TranscoderRunner.create(set);
  try {
    const started = performance.now();
    const raw = await buildFeatureGraph(context, set, transcoders, question, {
      stepMs: 200, onProgress: (done, total) => process.stderr.write(`\rtarget nodes ${done}/${total}`),
    });
    const exact = exactnessError(raw);
    const graph = featureGraphJson(raw, {
      scan: basename(args.model), prompt: args.prompt, tokenizer, nLayers: decoder.spec.nLayers, transcoderSet: set.source,
      nodeThreshold: args.nodeThreshold, edgeThreshold: args.edgeThreshold,
    });
    const result = args.unpruned ? graph : applyPrune(graph, pruneGraph(graph, { nodeThreshold: args.nodeThreshold, edgeThreshold: args.edgeThreshold }));
    writeFileSync(args.out, exportGraph(result));
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.error(`\n${raw.stats.features} active features, ${raw.nodes.length} nodes, ${raw.weights.length} edges; exactness ${exact.worst.toExponential(2)} (worst relative, ${exact.checked} nodes)`);
    console.error(`replacement score ${raw.scores.replacement.toFixed(3)}, completeness ${raw.scores.completeness.toFixed(3)}`);
    console.error(`${result.nodes.length} nodes, ${result.links.length} links written to ${args.out} in ${seconds} s`);
  } finally {
    await transcoders.dispose();
  }
}
