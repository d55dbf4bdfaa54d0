/**
 * `npm run -s cli -- transcoders`: per-layer FVU and L0 as JSON for a prompt, agreeing with the
 * figures PyTorch recorded for the shipped set on its check text, and a mismatched set refused
 * with one line naming the file and tensor.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeRandomSet } from './random-set.js';
import { runCli } from '../../helpers/cli.js';

const root = new URL('../../../', import.meta.url).pathname;
const modelDir = join(root, 'assets/models/brown-gpt2');
const setDir = join(modelDir, 'transcoders');
const scratch = mkdtempSync(join(tmpdir(), 'transcoders-cli-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const cli = runCli;

describe('cli transcoders', () => {
  it('prints per-layer FVU and L0 that match the card’s check text', async () => {
    const evaluation = JSON.parse(readFileSync(join(setDir, 'evaluation.json'), 'utf8')) as { check: { tokens: number[]; per_layer: { fvu: number; l0: number }[] } };
    const { code, stdout, stderr } = await cli(['transcoders', '--model', modelDir, '--transcoders', setDir, '--tokens', evaluation.check.tokens.join(',')]);
    expect(code, stderr).toBe(0);
    const out = JSON.parse(stdout) as { activation: { kind: string }; layers: { layer: number; fvu: number; l0: number; l0ByPosition: number[] }[] };
    expect(out.activation.kind).toBe('jumprelu');
    expect(out.layers.map((l) => l.layer)).toEqual([0, 1, 2, 3]);
    for (const [l, fit] of out.layers.entries()) {
      const expected = evaluation.check.per_layer[l]!;
      expect(fit.l0ByPosition).toHaveLength(evaluation.check.tokens.length);
      expect(Math.abs(fit.fvu - expected.fvu), `layer ${l} FVU`).toBeLessThanOrEqual(0.005 + 0.02 * expected.fvu);
      expect(Math.abs(fit.l0 - expected.l0), `layer ${l} L0`).toBeLessThanOrEqual(0.5);
    }
  });

  it('refuses a set made for another width, naming the file and tensor', async () => {
    const dir = join(scratch, 'narrow');
    writeRandomSet(dir, { kind: 'relu', skip: true, layers: 4, d: 8, F: 16 });
    const { code, stderr } = await cli(['transcoders', '--model', modelDir, '--transcoders', dir, '--prompt', 'Hello there']);
    expect(code).toBe(1);
    expect(stderr.trim()).toMatch(/^error: .*layer_0\.safetensors: tensor "W_enc" has shape \[16, 8\], expected \[16, 256\]/);
    expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
    const missing = await cli(['transcoders', '--model', modelDir, '--prompt', 'Hello']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/--transcoders DIR is required/);
  });
});
