/**
 * A Hugging Face model folder (config.json + safetensors + tokenizer files) to a `LoadedModel`,
 * wherever its files are: a folder on the server's disk (server/engine/load.ts), files the page
 * fetched or a folder dropped onto it (the in-browser engine). The loader is chosen by
 * `architectures` (or `model_type`); the config is validated before any weight is read.
 */
import { ModelError, type DecoderSpec, type LoadedModel, type Tokenizer } from '../decoder.js';
import type { ModelFiles } from '../files.js';
import { openSafetensorsFiles } from '../safetensors.js';
import { Gpt2BuiltinTokenizer } from '../tokenizers/gpt2-builtin.js';
import { HfTokenizer, type HfTokenizerOptions } from '../tokenizers/hf.js';
import { MissingTokenizer } from '../tokenizers/missing.js';
import { readConfig, type HfConfig } from './common.js';
import { GPT2_ARCHITECTURES, gpt2SpecFromConfig, loadGpt2Hf } from './gpt2-hf.js';
import { LLAMA_ARCHITECTURES, llamaSpecFromConfig, loadLlamaHf } from './llama-hf.js';

export type HfFamily = 'gpt2' | 'llama';

export const HF_ARCHITECTURES = [...GPT2_ARCHITECTURES, ...LLAMA_ARCHITECTURES];

export interface HfLoadOptions {
  /** The tokenizer to use instead of the folder's own (called once the config is known to be good). */
  tokenizer?: (config: HfConfig) => Tokenizer | null;
  /** What the "supported:" part of an unsupported-architecture error lists. */
  supported?: string;
}

/** The family of the config's architecture, or a ModelError naming it and what is supported. */
export function hfFamily(config: HfConfig, files: ModelFiles, supported = `${HF_ARCHITECTURES.join(', ')} (Hugging Face folders with safetensors)`): HfFamily {
  const architectures = Array.isArray(config.architectures) ? (config.architectures as string[]) : [];
  const modelType = typeof config.model_type === 'string' ? config.model_type : undefined;
  if (architectures.some((a) => GPT2_ARCHITECTURES.includes(a))) return 'gpt2';
  if (architectures.some((a) => LLAMA_ARCHITECTURES.includes(a))) return 'llama';
  if (architectures.length === 0 && modelType === 'gpt2') return 'gpt2';
  if (architectures.length === 0 && ['llama', 'mistral', 'qwen2'].includes(modelType ?? '')) return 'llama';
  const named = architectures.length > 0 ? `"${architectures.join(', ')}"` : `model_type "${modelType ?? '(none)'}"`;
  throw new ModelError(`${files.path('config.json')}: unsupported architecture ${named}; supported: ${supported}`);
}

/** The config's decoder shape (validated), before any weight is read. */
export function hfSpec(config: HfConfig, files: ModelFiles, family = hfFamily(config, files)): DecoderSpec {
  return family === 'gpt2' ? gpt2SpecFromConfig(config, files.root) : llamaSpecFromConfig(config, files.root);
}

/** The folder's Hugging Face tokenizer (tokenizer.json, or vocab.json + merges.txt), or null. */
export function hfTokenizerIn(files: ModelFiles, options: HfTokenizerOptions = {}): Tokenizer | null {
  if (files.exists('tokenizer.json')) return HfTokenizer.fromTokenizerJson(files, 'tokenizer.json', options);
  if (files.exists('vocab.json') && files.exists('merges.txt')) return HfTokenizer.fromVocabAndMerges(files, options);
  return null;
}

export function loadHfFiles(files: ModelFiles, options: HfLoadOptions = {}): LoadedModel {
  const config = readConfig(files);
  const family = hfFamily(config, files, options.supported);
  const spec = hfSpec(config, files, family);
  const tokenizer = (options.tokenizer ? options.tokenizer(config) : hfTokenizerIn(files, { modelConfig: config }))
    ?? fallbackTokenizer(family, spec, config, files.root);
  const store = openSafetensorsFiles(files);
  try {
    const decoder = family === 'gpt2' ? loadGpt2Hf(store, config, files.root) : loadLlamaHf(store, config, files.root);
    return checkedModel({ decoder, tokenizer });
  } finally {
    store.close();
  }
}

/**
 * Without tokenizer files: GPT-2 with the standard vocabulary uses the built-in GPT-2 BPE;
 * anything else loads with a stand-in that takes token ids only and explains on encode.
 */
function fallbackTokenizer(family: HfFamily, spec: DecoderSpec, config: HfConfig, root: string): Tokenizer {
  if (family === 'gpt2' && spec.vocabSize === 50257) return new Gpt2BuiltinTokenizer();
  const eos = Array.isArray(config.eos_token_id) ? config.eos_token_id[0] : config.eos_token_id;
  const eosId = typeof eos === 'number' && Number.isInteger(eos) ? eos : null;
  return new MissingTokenizer(spec.vocabSize, eosId, `${root}: no tokenizer found (looked for tokenizer.json, vocab.json + merges.txt)`);
}

/** A ModelError when the tokenizer has more tokens than the model's vocabulary. */
export function checkedModel(model: LoadedModel): LoadedModel {
  const { tokenizer, decoder } = model;
  if (tokenizer.vocabSize > decoder.spec.vocabSize) {
    throw new ModelError(`${decoder.source}: the tokenizer has ${tokenizer.vocabSize} tokens but the model's vocabulary is ${decoder.spec.vocabSize}; wrong tokenizer?`);
  }
  return model;
}
