/**
 * Measures what each attention head of a model does on repeated random text, with the real
 * engine (ONNX Runtime, the server's own runner): per head, the induction score and the
 * previous-token score (client/analysis/state/attention-pattern.ts defines both, the same
 * definitions the attention panel shows). The bundled tour (assets/tours/induction.json) states
 * these facts and its test (tests/client/bundled-tour.test.ts) checks them with this function.
 *
 *   npx tsx tools/head-scores.ts [model dir] [--sequences 16] [--length 50] [--seed 1] [--json]
 *
 * Sequences: `length` uniformly random tokens (BOS/EOS left out), written twice (no BOS in front).
 * - induction score: over queries whose token occurred earlier, the mean attention to the token
 *   right after that earlier occurrence (the second copy's tokens, in practice);
 * - previous-token score: the mean attention from each query to the key just before it.
 * Also the loss on the first and the second copy (nats/token): copying shows as a far lower second.
 */
import { fileURLToPath } from 'node:url';
import { assemblePattern, inductionScore, previousTokenScore } from '../client/analysis/state/attention-pattern.js';
import { seededRandom } from '../shared/engine/generate.js';
import { hookName } from '../shared/engine/hooks.js';
import { loadModel } from '../server/engine/load.js';
import { ModelRunner } from '../shared/engine/runner.js';

export interface HeadScores {
  nLayers: number;
  nHeads: number;
  /** [layer][head] */
  induction: number[][];
  previousToken: number[][];
  /** Mean next-token loss (nats) over the first copy's and the second copy's predictions. */
  lossFirstCopy: number;
  lossSecondCopy: number;
  sequences: number;
  length: number;
  seed: number;
}

export interface HeadRank {
  layer: number;
  head: number;
  score: number;
}

export const defaultModelDir = fileURLToPath(new URL('../assets/models/brown-gpt2/', import.meta.url));

/** Heads by score, highest first. */
export function rankHeads(scores: number[][]): HeadRank[] {
  return scores.flatMap((row, layer) => row.map((score, head) => ({ layer, head, score }))).sort((a, b) => b.score - a.score);
}

export const headName = (h: { layer: number; head: number }) => `L${h.layer}H${h.head}`;

export async function measureHeadScores(dir = defaultModelDir, { sequences = 16, length = 50, seed = 1 } = {}): Promise<HeadScores> {
  const model = await loadModel(dir);
  const runner = await ModelRunner.create(model.decoder);
  const { nLayers, nHeads, vocabSize } = model.decoder.spec;
  const special = new Set<number>([model.tokenizer.bosId, model.tokenizer.eosId].filter((id): id is number => id !== null));
  const random = seededRandom(seed);
  const batch: number[][] = [];
  for (let s = 0; s < sequences; s++) {
    const half: number[] = [];
    while (half.length < length) {
      const id = Math.floor(random() * vocabSize);
      if (!special.has(id)) half.push(id);
    }
    batch.push([...half, ...half]);
  }
  const T = 2 * length;
  const hooks = Array.from({ length: nLayers }, (_, l) => hookName.pattern(l));
  const { logits, cache } = await runner.run(batch, { hooks });
  const induction = Array.from({ length: nLayers }, () => new Array<number>(nHeads).fill(0));
  const previousToken = Array.from({ length: nLayers }, () => new Array<number>(nHeads).fill(0));
  for (let l = 0; l < nLayers; l++) {
    const data = cache[hookName.pattern(l)]!.data;
    for (let b = 0; b < sequences; b++) {
      for (let h = 0; h < nHeads; h++) {
        const base = (b * nHeads + h) * T * T;
        const pattern = assemblePattern((q) => data.subarray(base + q * T, base + (q + 1) * T), T);
        induction[l]![h]! += (inductionScore(pattern, batch[b]!) ?? 0) / sequences;
        previousToken[l]![h]! += (previousTokenScore(pattern) ?? 0) / sequences;
      }
    }
  }
  // Losses: prediction at position t is for token t + 1.
  const V = logits.shape[2]!;
  let first = 0;
  let second = 0;
  for (let b = 0; b < sequences; b++) {
    for (let t = 0; t < T - 1; t++) {
      const row = logits.data.subarray((b * T + t) * V, (b * T + t + 1) * V);
      let max = -Infinity;
      for (let v = 0; v < V; v++) if (row[v]! > max) max = row[v]!;
      let sum = 0;
      for (let v = 0; v < V; v++) sum += Math.exp(row[v]! - max);
      const loss = max + Math.log(sum) - row[batch[b]![t + 1]!]!;
      if (t + 1 < length) first += loss;
      else if (t + 1 > length) second += loss; // the second copy's first token is not predictable
    }
  }
  return {
    nLayers, nHeads, induction, previousToken, sequences, length, seed,
    lossFirstCopy: first / (sequences * (length - 1)),
    lossSecondCopy: second / (sequences * (length - 1)),
  };
}

function table(title: string, scores: number[][]): string {
  const heads = scores[0]!.length;
  const lines = [title, `| layer \\ head | ${Array.from({ length: heads }, (_, h) => h).join(' | ')} |`, `| --- |${' --- |'.repeat(heads)}`];
  scores.forEach((row, l) => lines.push(`| ${l} | ${row.map((s) => s.toFixed(2)).join(' | ')} |`));
  return lines.join('\n');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const option = (name: string, fallback: number) => {
    const i = args.indexOf(`--${name}`);
    if (i < 0) return fallback;
    const value = Number(args[i + 1]);
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer, got ${args[i + 1]}`);
    return value;
  };
  const dir = args.find((a, i) => !a.startsWith('--') && !(i > 0 && args[i - 1]!.startsWith('--') && args[i - 1] !== '--json')) ?? defaultModelDir;
  const scores = await measureHeadScores(dir, { sequences: option('sequences', 16), length: option('length', 50), seed: option('seed', 1) });
  if (args.includes('--json')) {
    console.log(JSON.stringify(scores, null, 2));
    return;
  }
  console.log(`${scores.sequences} sequences of ${scores.length} random tokens, each written twice (seed ${scores.seed}); model ${dir}`);
  console.log(`loss: first copy ${scores.lossFirstCopy.toFixed(2)} nats/token, second copy ${scores.lossSecondCopy.toFixed(2)}\n`);
  console.log(table('Induction score (attention to the token after the previous occurrence):', scores.induction));
  console.log();
  console.log(table('Previous-token score (attention to the token just before):', scores.previousToken));
  console.log();
  const top = (s: number[][]) => rankHeads(s).slice(0, 4).map((h) => `${headName(h)} ${h.score.toFixed(2)}`).join(', ');
  console.log(`strongest induction heads: ${top(scores.induction)}`);
  console.log(`strongest previous-token heads: ${top(scores.previousToken)}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error: Error) => {
    console.error(`head-scores: ${error.message}`);
    process.exit(1);
  });
}
