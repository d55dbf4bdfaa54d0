/**
 * The neuron-index CLI commands as people run them: index (progress on stderr, summary on
 * stdout), neuron --json (NeuronDetails, `indexed: null` with a note before an index exists),
 * explanations --import; bad input fails with one clear line and exit 1; neuron finds the index
 * that the server (npm start) built with its own --index-tokens.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { NeuronDetails } from '../../shared/neuron-index.js';
import { startServer } from '../../server/main.js';
import { bundledModel, smallCorpus, tempDir } from './neurons/fixtures.js';
import { expectCleanFailure, runCli } from '../helpers/cli.js';

const root = new URL('../../', import.meta.url).pathname;

const cli = runCli;

describe('neuron index CLI', () => {
  it('imports explanations, indexes a corpus and answers a neuron\'s details; before an index, indexed is null; rejects bad input', async () => {
    const dir = tempDir('cli-neurons');
    const corpus = smallCorpus(dir).path;
    const csv = join(dir, 'explanations.csv');
    writeFileSync(csv, 'layer,neuron,explanation,score\n2,7,"fires on ""the"", mostly",0.4\n');
    const model = ['--model', bundledModel, '--index-dir', dir];

    const indexed = (async () => {
      const imported = await cli(['explanations', ...model, '--import', csv]);
      expect(imported.code, imported.stderr).toBe(0);
      expect(imported.stdout).toMatch(/imported 1 explanations from 1 file into .*explanations\.json \(1 neurons explained in all\)/);
      const built = await cli(['index', ...model, '--corpus', corpus, '--tokens', '2000']);
      expect(built.code, built.stderr).toBe(0);
      expect(built.stderr).toMatch(/index \[[#.]+\] [\d.]+% [\d,]+\/1,984 tokens/);
      expect(built.stdout).toMatch(/neuron index built: .*\.nidx/);
      expect(built.stdout).toMatch(/1,984 tokens in [\d.]+ s \([\d,]+ tokens\/s overall\)/);
      const shown = await cli(['neuron', ...model, '--corpus', corpus, '--tokens', '2000', '--layer', '2', '--index', '7', '--json']);
      expect(shown.code, shown.stderr).toBe(0);
      expect(shown.stderr).toBe('');
      const details = JSON.parse(shown.stdout) as NeuronDetails;
      expect(details.hook).toBe('blocks.2.mlp.hook_post');
      expect(details.indexed!.topExamples).toHaveLength(20);
      expect(details.indexed!.stats.count).toBe(1984);
      expect(details.explanation).toEqual({ text: 'fires on "the", mostly', score: 0.4, source: 'explanations.csv' });
    })();

    const unindexed = (async () => {
      // The default corpus has no index in a fresh folder: logit effects only, and a note.
      const shown = await cli(['neuron', '--model', bundledModel, '--index-dir', tempDir('cli-unindexed'), '--layer', '0', '--index', '1', '--json']);
      expect(shown.code, shown.stderr).toBe(0);
      expect(shown.stderr).toMatch(/note: no corpus index is built/);
      const details = JSON.parse(shown.stdout) as NeuronDetails;
      expect(details.indexed).toBeNull();
      expect(details.explanation).toBeNull();
      expect(details.promoted).toHaveLength(10);
      expect(details.suppressed).toHaveLength(10);
    })();

    const failures = (async () => {
      expectCleanFailure(await cli(['neuron', ...model, '--layer', '4', '--index', '0', '--json']), /--layer 4 is out of range: the model has 4 layers/);
      expectCleanFailure(await cli(['index', ...model, '--corpus', join(dir, 'no-such-corpus')]), /Corpus path not found/);
    })();
    await Promise.all([indexed, unindexed, failures]);
  });

  it('neuron, given no --tokens, finds the index the server built with a non-default --index-tokens', async () => {
    const dir = tempDir('cli-served');
    const corpus = smallCorpus(dir).path;
    const server = await startServer({
      model: bundledModel, port: 0, host: '127.0.0.1', device: 'cpu', https: false, serveClient: false,
      index: true, indexDir: dir, corpus, indexTokens: 3000, log: () => {},
    });
    let expected: NeuronDetails['indexed'];
    try {
      const deadline = Date.now() + 120_000;
      while (server.neurons.status().state !== 'ready') {
        if (Date.now() > deadline || server.neurons.status().state === 'error') throw new Error(`the server's index build: ${JSON.stringify(server.neurons.status())}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expected = server.neurons.details(2, 7).indexed;
    } finally {
      await server.close();
    }
    expect(expected!.stats.count).toBe(2944); // 3,000 tokens: 46 contexts of 64
    const shown = await cli(['neuron', '--model', bundledModel, '--index-dir', dir, '--corpus', corpus, '--layer', '2', '--index', '7', '--json']);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stderr).toBe('');
    expect((JSON.parse(shown.stdout) as NeuronDetails).indexed).toEqual(expected);
    // An explicit budget asks for that budget's index: none is built for 5,000 tokens.
    const other = await cli(['neuron', '--model', bundledModel, '--index-dir', dir, '--corpus', corpus, '--tokens', '5000', '--layer', '2', '--index', '7', '--json']);
    expect(other.code, other.stderr).toBe(0);
    expect(other.stderr).toMatch(/note: no corpus index is built/);
    expect((JSON.parse(other.stdout) as NeuronDetails).indexed).toBeNull();
  }, 180_000);
});
