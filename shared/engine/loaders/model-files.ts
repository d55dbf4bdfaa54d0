/**
 * A model from a set of files without a file system (the in-browser engine: a folder dropped
 * onto the page, or the bundled model fetched): a Hugging Face folder (config.json +
 * safetensors + tokenizer files), or a llama2.c version-0 checkpoint `.bin` with its tokenizer
 * `.bin` (tokenizer.bin, else tok*.bin). Anything else is a ModelError that says what was found
 * and what is needed.
 */
import { ModelError, type LoadedModel, type Tokenizer } from '../decoder.js';
import type { ModelFiles } from '../files.js';
import { Llama2cTokenizer } from '../tokenizers/llama2c.js';
import { MissingTokenizer } from '../tokenizers/missing.js';
import { checkedModel, loadHfFiles } from './hf.js';
import { loadLlama2c } from './llama2c.js';

/** Which model `names` (a folder's file names) hold, before any file is read: a Hugging Face
 * folder (config.json), or one llama2.c checkpoint with its candidate tokenizers; otherwise a
 * ModelError saying what was found and what is needed. */
export type FoundModel = { kind: 'hf' } | { kind: 'llama2c'; checkpoint: string; tokenizers: string[] };

export function findModel(root: string, names: readonly string[]): FoundModel {
  if (names.includes('config.json')) return { kind: 'hf' };
  const tokenizers = names.filter((n) => /^tok.*\.bin$/.test(n));
  const checkpoints = names.filter((n) => n.endsWith('.bin') && !tokenizers.includes(n) && !n.startsWith('pytorch_model'));
  if (checkpoints.length === 0) {
    if (names.some((n) => n.endsWith('.safetensors'))) throw new ModelError(`${root}: safetensors weights without a config.json; a Hugging Face model folder needs its config.json beside the weights`);
    if (names.some((n) => n.startsWith('pytorch_model'))) throw new ModelError(`${root}: PyTorch pickle weights cannot be loaded; save the model with safetensors (model.save_pretrained(dir, safe_serialization=True))`);
    throw new ModelError(`${root}: no model found among ${names.length} file${names.length === 1 ? '' : 's'} (${names.slice(0, 6).join(', ')}${names.length > 6 ? ', …' : ''}); expected a Hugging Face folder (config.json + model.safetensors + tokenizer.json) or a llama2.c .bin checkpoint`);
  }
  if (checkpoints.length > 1) throw new ModelError(`${root}: several checkpoints (${checkpoints.join(', ')}); drop a folder holding one`);
  return { kind: 'llama2c', checkpoint: checkpoints[0]!, tokenizers };
}

/** Loads the model among `names` (the files `files` holds). */
export function loadModelFiles(files: ModelFiles, names: readonly string[]): LoadedModel {
  const found = files.exists('config.json') ? ({ kind: 'hf' } as const) : findModel(files.root, names);
  if (found.kind === 'hf') return loadHfFiles(files);
  const { checkpoint, tokenizers } = found;
  const decoder = loadLlama2c(files.path(checkpoint), files.open(checkpoint));
  const vocab = decoder.spec.vocabSize;
  const tokenizerName = ['tokenizer.bin', `tok${vocab}.bin`].find((n) => names.includes(n)) ?? (tokenizers.length === 1 ? tokenizers[0] : undefined);
  if (!tokenizerName && tokenizers.length > 1) throw new ModelError(`${files.root}: several tokenizers (${tokenizers.join(', ')}); keep the one that fits (tok${vocab}.bin)`);
  const tokenizer: Tokenizer = tokenizerName
    ? Llama2cTokenizer.fromBytes(files.path(tokenizerName), readAll(files, tokenizerName))
    : new MissingTokenizer(vocab, null, `${files.path(checkpoint)}: no tokenizer beside it (looked for tokenizer.bin, tok*.bin)`);
  return checkedModel({ decoder, tokenizer });
}

function readAll(files: ModelFiles, name: string): Uint8Array {
  const source = files.open(name);
  try {
    const bytes = new Uint8Array(source.size);
    source.read(bytes, 0);
    return bytes;
  } finally {
    source.close();
  }
}
