/**
 * loadModel's dispatch and its user-facing errors: missing paths, unsupported architectures,
 * broken config.json, and finding a llama2.c tokenizer beside the checkpoint.
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { needSharedFixtures, stories260K } from '../../../helpers/shared-fixtures.js';
import { tempDir } from './temp-dir.js';
import { ModelError } from '../../../../shared/engine/decoder.js';
import { describeModel, loadModel } from '../../../../server/engine/load.js';
import { writeSafetensors } from '../../../../server/engine/safetensors.js';

const tmp = () => tempDir('load-');

async function modelError(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(ModelError);
  return (error as Error).message;
}

describe('loadModel errors', () => {
  it('missing path', async () => {
    expect(await modelError(loadModel('/nonexistent/model-dir'))).toBe('Model path not found: /nonexistent/model-dir');
  });

  it('directory without config.json', async () => {
    const dir = tmp();
    expect(await modelError(loadModel(dir))).toMatch(/no config.json \(expected a Hugging Face model directory or a llama2.c .bin file\)/);
  });

  it('config.json that is not JSON', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'config.json'), '{"architectures": [');
    expect(await modelError(loadModel(dir))).toMatch(/config.json: not valid JSON/);
  });

  it('unsupported architecture, naming it and the supported ones', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ architectures: ['GemmaForCausalLM'], model_type: 'gemma' }));
    const message = await modelError(loadModel(dir));
    expect(message).toMatch(/unsupported architecture "GemmaForCausalLM"/);
    expect(message).toMatch(/supported: GPT2LMHeadModel, LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM .* llama2.c/);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'bert' }));
    expect(await modelError(loadModel(dir))).toMatch(/unsupported architecture model_type "bert"/);
  });

  it('missing config fields and missing weights', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ architectures: ['LlamaForCausalLM'], hidden_size: 8 }));
    expect(await modelError(loadModel(dir))).toMatch(/config.json: missing "num_attention_heads"/);
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'gpt2', n_embd: 8, n_layer: 1, n_head: 2, vocab_size: 50257 }));
    expect(await modelError(loadModel(dir))).toMatch(/no model.safetensors or model.safetensors.index.json found/);
  });

  it('a directory without tokenizer files loads for token ids; encoding text explains what to pass', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'gpt2', n_embd: 2, n_layer: 1, n_head: 1, n_positions: 2, vocab_size: 3, eos_token_id: 2 }));
    const ones = (shape: number[]) => ({ shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(1) });
    writeSafetensors(join(dir, 'model.safetensors'), {
      'wte.weight': ones([3, 2]), 'wpe.weight': ones([2, 2]), 'ln_f.weight': ones([2]), 'ln_f.bias': ones([2]),
      'h.0.ln_1.weight': ones([2]), 'h.0.ln_1.bias': ones([2]), 'h.0.ln_2.weight': ones([2]), 'h.0.ln_2.bias': ones([2]),
      'h.0.attn.c_attn.weight': ones([2, 6]), 'h.0.attn.c_attn.bias': ones([6]), 'h.0.attn.c_proj.weight': ones([2, 2]),
      'h.0.attn.c_proj.bias': ones([2]), 'h.0.mlp.c_fc.weight': ones([2, 8]), 'h.0.mlp.c_fc.bias': ones([8]),
      'h.0.mlp.c_proj.weight': ones([8, 2]), 'h.0.mlp.c_proj.bias': ones([2]),
    });
    const { tokenizer } = await loadModel(dir);
    expect(() => tokenizer.encode('hello')).toThrow(ModelError);
    expect(() => tokenizer.encode('hello')).toThrow(/no tokenizer found \(looked for tokenizer.json, vocab.json \+ merges.txt\); pass --tokenizer PATH, or give token ids with --tokens/);
    expect(tokenizer.decode([2, 0])).toBe('<2><0>');
    expect([tokenizer.vocabSize, tokenizer.bosId, tokenizer.eosId]).toEqual([3, null, 2]);
  });

  it('unknown file formats and PyTorch pickles', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'model.gguf'), 'GGUF');
    expect(await modelError(loadModel(join(dir, 'model.gguf')))).toMatch(/unknown model format; supported: /);
    writeFileSync(join(dir, 'pytorch_model.bin'), 'x');
    expect(await modelError(loadModel(join(dir, 'pytorch_model.bin')))).toMatch(/PyTorch pickle weights cannot be loaded/);
  });

  it('a tokenizer path that does not exist', async () => {
    const dir = tmp();
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'gpt2', n_embd: 8, n_layer: 1, n_head: 2 }));
    expect(await modelError(loadModel(dir, { tokenizerPath: join(dir, 'nope.json') }))).toMatch(/Tokenizer path not found: .*nope.json/);
  });
});

const fixtures = stories260K;
const present = needSharedFixtures('the llama2.c tokenizer-discovery tests', join(fixtures, 'stories260K.bin'));

describe.skipIf(!present)('llama2.c checkpoint: finding its tokenizer', () => {
  const copyModel = (dir: string, name = 'stories260K.bin') => copyFileSync(join(fixtures, 'stories260K.bin'), join(dir, name));

  it('uses --tokenizer, else tokenizer.bin, else tok{V}.bin or the only tok*.bin beside it, else none', async () => {
    const dir = tmp();
    copyModel(dir, 'model.bin');
    const bare = await loadModel(join(dir, 'model.bin')); // loads for --tokens; text needs a tokenizer
    expect(() => bare.tokenizer.encode('Once')).toThrow(/no tokenizer found beside it \(looked for tokenizer.bin, tok\*.bin\); pass --tokenizer PATH, or give token ids with --tokens/);
    copyFileSync(join(fixtures, 'tok512.bin'), join(dir, 'tokA.bin'));
    expect((await loadModel(join(dir, 'model.bin'))).tokenizer.vocabSize).toBe(512);
    copyFileSync(join(fixtures, 'tok512.bin'), join(dir, 'tokB.bin'));
    expect(await modelError(loadModel(join(dir, 'model.bin')))).toMatch(/several tokenizers beside it \(tokA.bin, tokB.bin\); choose one with --tokenizer PATH/);
    const explicit = await loadModel(join(dir, 'model.bin'), { tokenizerPath: join(dir, 'tokB.bin') });
    expect(explicit.tokenizer.encode('Once')).toEqual([1, 403]);
    copyFileSync(join(fixtures, 'tok512.bin'), join(dir, 'tokenizer.bin'));
    expect((await loadModel(join(dir, 'model.bin'))).tokenizer.bosId).toBe(1);
  });

  it('refuses a tokenizer larger than the model vocabulary', async () => {
    const dir = tmp();
    copyModel(dir);
    const big = join(dir, 'big');
    mkdirSync(big);
    // A 600-token byte-level BPE cannot drive a 512-token model.
    const vocab = Object.fromEntries(Array.from({ length: 600 }, (_, i) => [`t${i}`, i]));
    writeFileSync(join(big, 'vocab.json'), JSON.stringify(vocab));
    writeFileSync(join(big, 'merges.txt'), '#version: 0.2\n');
    expect(await modelError(loadModel(join(dir, 'stories260K.bin'), { tokenizerPath: big }))).toMatch(/the tokenizer has 600 tokens but the model's vocabulary is 512; wrong tokenizer\?/);
  });

  it('describes the model for the CLI', async () => {
    const description = describeModel(await loadModel(join(fixtures, 'stories260K.bin')));
    expect(description).toEqual({
      architecture: 'llama2.c', source: join(fixtures, 'stories260K.bin'),
      layers: 5, dModel: 64, heads: 8, kvHeads: 4, dHead: 8, dMlp: 172, vocabSize: 512, contextLength: 512,
      norm: { kind: 'rmsnorm', eps: 1e-5 }, mlp: { kind: 'gated', activation: 'silu' }, positional: { kind: 'rotary', theta: 10000 },
      tiedEmbeddings: true, parameters: 260_032, tokenizer: { vocabSize: 512, bosId: 1, eosId: 2 },
    });
  });
});
