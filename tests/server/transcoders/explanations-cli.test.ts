/**
 * Issue 13: `explanations --import` checks each feature entry against the transcoder set at
 * import: --transcoders DIR, by default the model's own transcoders/ folder (as npm start), none
 * with --no-transcoders. A feature beyond its layer's count fails with the file and line; the
 * CLI as people run it (a real process, exit 1, one line, no stack).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectCleanFailure, runCli } from '../../helpers/cli.js';
import { bundledModel, tempDir } from '../neurons/fixtures.js';
import { writeRandomSet } from './random-set.js';

describe('explanations CLI: feature entries against the transcoders', () => {
  it('checks layer and feature against the set at import, naming the file and line', async () => {
    const dir = tempDir('explanations-cli');
    const set = join(dir, 'small-set');
    writeRandomSet(set, { kind: 'relu', skip: false, layers: 4, d: 256, F: 64, seed: 5 });
    const file = join(dir, 'np.jsonl');
    const lines = (index: number) => [
      { layer: '1-brown-transcoders', index: '17', description: 'words about fruit', score: 0.5 },
      { layer: 2, index, description: 'past tense verbs', score: 0.4 },
    ].map((e) => JSON.stringify(e)).join('\n');
    const base = ['explanations', '--model', bundledModel, '--index-dir', dir, '--import', file];

    // The bundled set has 2048 features per layer (default: the model's own transcoders/).
    writeFileSync(file, lines(3000));
    expectCleanFailure(await runCli(base), new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:2: feature 3000 is out of range \\(the transcoders have 2048 features in layer 2, 0\\.\\.2047\\)`));
    // The same file against a 64-feature set: feature 100 fails on line 2, 40 passes.
    writeFileSync(file, lines(100));
    expectCleanFailure(await runCli([...base, '--transcoders', set]), /np\.jsonl:2: feature 100 is out of range \(the transcoders have 64 features in layer 2, 0\.\.63\)/);
    const ok = await runCli(base); // 100 < 2048
    expect(ok.code, ok.stderr).toBe(0);
    writeFileSync(file, lines(40));
    const small = await runCli([...base, '--transcoders', set]);
    expect(small.code, small.stderr).toBe(0);
    expect(small.stdout).toMatch(/imported 2 explanations/);
    // CSV lines are checked the same way.
    const csv = join(dir, 'features.csv');
    writeFileSync(csv, 'layer,feature,explanation,score\n0,3,"commas, and ""quotes""",0.7\n3,64,too far,0.1\n');
    expectCleanFailure(await runCli(['explanations', '--model', bundledModel, '--index-dir', dir, '--import', csv, '--transcoders', set]),
      /features\.csv:3: feature 64 is out of range \(the transcoders have 64 features in layer 3, 0\.\.63\)/);
    // Without transcoders only ≥ 0 is checked; both flags at once are refused.
    writeFileSync(file, lines(3000));
    const none = await runCli([...base, '--no-transcoders']);
    expect(none.code, none.stderr).toBe(0);
    const stored = JSON.parse(readFileSync(none.stdout.match(/into (\S+explanations\.json)/)![1]!, 'utf8')) as { features: unknown[][] };
    expect(stored.features.some((row) => row[0] === 2 && row[1] === 3000)).toBe(true);
    expectCleanFailure(await runCli([...base, '--no-transcoders', '--transcoders', set]), /--transcoders DIR and --no-transcoders contradict each other/);
    // A set that does not fit the model fails in one line naming its file and tensor.
    const bad = join(dir, 'bad-set');
    writeRandomSet(bad, { kind: 'relu', skip: false, layers: 4, d: 128, F: 16, seed: 6 });
    expectCleanFailure(await runCli([...base, '--transcoders', bad]), /layer_0\.safetensors: tensor "W_enc" has shape \[16, 128\], expected \[16, 256\]/);
  }, 300_000);
});
