/**
 * The feature graph on the bundled brown-gpt2 with its shipped transcoders: exact against the
 * forward pass (≤ 1e-4 relative) with sampled feature→feature edges equal to the forward-mode
 * reference; and `npm run -s cli -- graph --transcoders DIR` writing a file that imports back
 * through shared/graph/io.ts with circuit-tracer's node types and scores, or refusing a bad set
 * with one clear line.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hookName } from '../../../shared/engine/hooks.js';
import { loadModel } from '../../../server/engine/load.js';
import { ModelRunner } from '../../../shared/engine/runner.js';
import { AnalysisContext } from '../../../shared/analysis/context.js';
import { resolveQuestion } from '../../../shared/analysis/question.js';
import { TranscoderRunner } from '../../../shared/transcoders/forward.js';
import { buildFeatureGraph } from '../../../shared/transcoders/graph.js';
import { loadTranscoderSet } from '../../../server/transcoders/load.js';
import { importGraph } from '../../../shared/graph/io.js';
import { nodeKind } from '../../../shared/graph/schema.js';
import { expectEdgesMatch, expectExact, referenceModel } from './graph-checks.js';
import { writeRandomSet } from './random-set.js';
import { runCli } from '../../helpers/cli.js';

const root = new URL('../../../', import.meta.url).pathname;
const modelDir = join(root, 'assets/models/brown-gpt2');
const setDir = join(modelDir, 'transcoders');
const scratch = mkdtempSync(join(tmpdir(), 'feature-graph-cli-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const prompt = 'The cat sat on the mat. The cat sat on the';

const cli = runCli;

describe('feature graph on the bundled model', () => {
  it('is exact and its edges match the forward reference', async () => {
    const model = await loadModel(modelDir);
    const set = loadTranscoderSet(setDir, model.decoder.spec);
    const runner = await ModelRunner.create(model.decoder);
    const context = new AnalysisContext(model, runner);
    const transcoders = await TranscoderRunner.create(set);
    try {
      const question = resolveQuestion(model.tokenizer, model.decoder, { prompt, target: ' mat', distractor: ' dog' });
      const graph = await buildFeatureGraph(context, set, transcoders, question, { stepMs: 100 });
      expect(graph.stats.features).toBeGreaterThan(100);
      expectExact(graph);
      const { cache } = await runner.run([question.tokens], { hooks: [hookName.embed] });
      const ref = await referenceModel(model.decoder, runner, question.tokens, question.target, question.distractor,
        set.layers.map((t) => ({ W_enc: t.W_enc.data, W_skip: t.W_skip?.data })), true);
      expectEdgesMatch(graph, ref, set.layers.map((t) => t.W_dec.data), cache[hookName.embed]!.data, 30, 1e-3);
      // Shipped transcoders explain most of the computation (card: FVU ≤ 0.05).
      expect(graph.scores.completeness).toBeGreaterThan(0.5);
    } finally {
      await transcoders.dispose();
      await context.dispose();
      await runner.dispose();
    }
  }, 180_000);

  it('cli graph --transcoders writes a graph that imports back', async () => {
    const out = join(scratch, 'graph.json');
    const { code, stderr } = await cli(['graph', '--model', modelDir, '--transcoders', setDir, '--prompt', 'The cat sat on the mat. The cat',
      '--target', ' sat', '--distractor', ' mat', '--out', out]);
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(/exactness \d\.\d+e-\d+/);
    const graph = importGraph(JSON.parse(readFileSync(out, 'utf8')));
    const types = new Set(graph.nodes.map((n) => n.feature_type));
    expect(types).toContain('cross layer transcoder');
    expect(types).toContain('embedding');
    expect(types).toContain('logit');
    expect(graph.nodes.filter((n) => nodeKind(n) === 'feature').every((n) => /^\d+_\d+_\d+$/.test(n.node_id) && n.activation! > 0)).toBe(true);
    expect(graph.metadata.replacement_score).toBeGreaterThan(0);
    expect(graph.metadata.completeness_score).toBeGreaterThan(0);
    expect(graph.metadata.info?.transcoder_set).toContain(setDir);
  }, 180_000);

  it('cli graph --transcoders refuses a set that does not fit the model, in one line', async () => {
    const dir = join(scratch, 'wrong');
    writeRandomSet(dir, { kind: 'relu', skip: false, layers: 4, d: 64, F: 16 });
    const { code, stderr } = await cli(['graph', '--model', modelDir, '--transcoders', dir, '--prompt', 'The cat', '--target', ' sat', '--distractor', ' mat', '--out', join(scratch, 'x.json')]);
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/layer_0\.safetensors/);
  }, 60_000);
});
