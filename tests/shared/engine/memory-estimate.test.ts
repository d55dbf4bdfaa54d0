/**
 * The in-browser engine's memory estimate (shared/engine/memory-estimate.ts): the parameter count
 * it derives from a config equals what the loader really holds for the bundled model (the sum of
 * its safetensors header's tensor sizes + the tied unembedding's own copy) and for stories260K
 * (from the llama2.c header); a GPT-2-XL-shaped config is refused with the numbers in words, the
 * bundled one is accepted; the browser's limits are read from what it tells.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { memoryFiles } from '../../../shared/engine/files.js';
import { loadModelFiles } from '../../../shared/engine/loaders/model-files.js';
import {
  WASM32_MAX_BYTES, browserLimits, decoderParameters, estimateFromConfig, estimateFromFileSizes, estimateFromLlama2cHeader,
  formatBytes, memoryRefusal, parseSafetensorsHeader,
} from '../../../shared/engine/memory-estimate.js';
import { needSharedFixtures, stories260K } from '../../helpers/shared-fixtures.js';

const bundled = resolve('assets/models/brown-gpt2');
const roomy = { wasmBytes: WASM32_MAX_BYTES, jsHeapBytes: 4 * 2 ** 30, deviceBytes: 8 * 2 ** 30 };

/** The values a loaded decoder holds. */
function heldValues(weights: Record<string, { data: Float32Array }>): number {
  return Object.values(weights).reduce((sum, t) => sum + t.data.length, 0);
}

const gpt2xl = JSON.stringify({
  architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', vocab_size: 50257, n_positions: 1024, n_ctx: 1024,
  n_embd: 1600, n_layer: 48, n_head: 25, n_inner: null, activation_function: 'gelu_new', layer_norm_epsilon: 1e-5,
});

describe('memory estimate', () => {
  it("counts the bundled model's values as its safetensors header does, plus the tied unembedding, and as the loader holds them", () => {
    const config = readFileSync(join(bundled, 'config.json'), 'utf8');
    const weightsFile = new Uint8Array(readFileSync(join(bundled, 'model.safetensors')));
    const header = parseSafetensorsHeader(weightsFile);
    expect(header.byDtype).toEqual({ F32: header.parameters });
    const need = estimateFromConfig('brown-gpt2', config, weightsFile.byteLength);
    const { n_embd: d, vocab_size: V } = JSON.parse(config) as { n_embd: number; vocab_size: number };
    expect(need.parameters).toBe(header.parameters + V * d); // W_U = W_Eᵀ, its own array
    expect(need.weightsBytes).toBe(4 * need.parameters);

    const model = loadModelFiles(memoryFiles('brown-gpt2', new Map([['config.json', new TextEncoder().encode(config)], ['model.safetensors', weightsFile]])), ['config.json', 'model.safetensors']);
    expect(heldValues(model.decoder.weights)).toBe(need.parameters);
    expect(decoderParameters(model.decoder.spec)).toBe(need.parameters);
    expect(memoryRefusal(need, roomy)).toBeNull();
    expect(need.total).toBeGreaterThan(need.weightsBytes * 3);
    expect(need.total).toBeLessThan(200e6);
  });

  it('refuses a GPT-2-XL-shaped config with the numbers and the reason in words', () => {
    const need = estimateFromConfig('gpt2-xl', gpt2xl, 6_431_000_000);
    // 1.56 B stored + the unembedding's own 80 M: 6.6 GB as float32.
    expect(need.parameters).toBe(1_557_611_200 + 50257 * 1600);
    expect(formatBytes(need.weightsBytes)).toBe('6.6 GB');
    const refusal = memoryRefusal(need, roomy);
    expect(refusal).toMatch(/^gpt2-xl needs about \d+\.\d GB in this browser \(weights 6\.6 GB as float32 \(1638 M values\), /);
    expect(refusal).toContain('more than the 4 GB a WebAssembly engine can address');
    expect(refusal).toContain('npm start -- --model');
    // Even with no JS or device limit known, WASM32 alone refuses it.
    expect(memoryRefusal(need, { wasmBytes: WASM32_MAX_BYTES, jsHeapBytes: null, deviceBytes: null })).toContain('4 GB a WebAssembly engine');
  });

  it('accepts GPT-2 small (124 M) where the browser allows 4 GB of JS heap and 8 GB of device memory', () => {
    const gpt2 = JSON.stringify({ architectures: ['GPT2LMHeadModel'], vocab_size: 50257, n_positions: 1024, n_embd: 768, n_layer: 12, n_head: 12 });
    const need = estimateFromConfig('gpt2', gpt2, 548_105_171);
    expect(need.parameters).toBe(124_439_808 + 50257 * 768);
    expect(need.wasmBytes).toBeLessThan(WASM32_MAX_BYTES);
    expect(memoryRefusal(need, roomy)).toBeNull();
  });

  it('refuses against the JS heap limit or the memory the device reports when those are smaller', () => {
    const config = readFileSync(join(bundled, 'config.json'), 'utf8');
    const need = estimateFromConfig('brown-gpt2', config, 16_968_688);
    expect(memoryRefusal(need, { ...roomy, jsHeapBytes: 10e6 })).toContain("more than this browser's heap limit of 10 MB");
    expect(memoryRefusal(need, { ...roomy, deviceBytes: 2 ** 26 })).toContain('of memory this device reports');
  });

  it('estimates from the file sizes alone, widening 16-bit values to float32', () => {
    const need = estimateFromFileSizes('some-model', 2e9, 2, 2e9);
    expect(need.weightsBytes).toBe(4e9);
    expect(memoryRefusal(need, roomy)).toContain('from its file sizes');
  });

  it("reads the browser's limits from performance.memory and navigator.deviceMemory, and none where absent", () => {
    expect(browserLimits({ performance: { memory: { jsHeapSizeLimit: 4294705152 } }, navigator: { deviceMemory: 8 } }))
      .toEqual({ wasmBytes: 2 ** 32, jsHeapBytes: 4294705152, deviceBytes: 8 * 2 ** 30 });
    expect(browserLimits({ performance: {}, navigator: {} })).toEqual({ wasmBytes: 2 ** 32, jsHeapBytes: null, deviceBytes: null });
  });

  it('rejects a config it cannot read in words', () => {
    expect(() => estimateFromConfig('x', '{ not json', 0)).toThrow(/x\/config.json: not valid JSON/);
    expect(() => estimateFromConfig('x', JSON.stringify({ architectures: ['BertModel'] }), 0)).toThrow(/unsupported architecture "BertModel"/);
  });
});

describe.skipIf(!needSharedFixtures('the stories260K memory estimate', join(stories260K, 'stories260K.bin')))('memory estimate of a llama2.c checkpoint', () => {
  it('counts what the loader holds for stories260K from its 28-byte header', () => {
    const checkpoint = new Uint8Array(readFileSync(join(stories260K, 'stories260K.bin')));
    const need = estimateFromLlama2cHeader('stories260K', 'stories260K.bin', checkpoint.subarray(0, 28), checkpoint.byteLength, checkpoint.byteLength);
    const model = loadModelFiles(memoryFiles('stories260K', new Map([['stories260K.bin', checkpoint]])), ['stories260K.bin']);
    expect(heldValues(model.decoder.weights)).toBe(need.parameters);
    expect(memoryRefusal(need, roomy)).toBeNull();
  });
});
