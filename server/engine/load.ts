/**
 * One entry point from a path on disk to a `LoadedModel` (decoder + tokenizer):
 *   - a Hugging Face directory (config.json + safetensors): the loader is chosen by
 *     `architectures` (or `model_type`); the tokenizer comes from the directory or tokenizerPath;
 *   - a llama2.c `.bin` checkpoint: its tokenizer from tokenizerPath, else `tokenizer.bin` or
 *     `tok*.bin` beside it.
 * A model without any tokenizer still loads (token ids work); encoding text then says what to pass.
 * Everything a user can get wrong is a ModelError with a message that says what and where.
 */
import '../runtime.js'; // onnxruntime-node and worker-thread pruning under the shared engine
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ModelError, type Decoder, type DecoderSpec, type LoadedModel } from '../../shared/engine/decoder.js';
import { folderFiles } from './files.js';
import { checkedModel, HF_ARCHITECTURES, loadHfFiles } from '../../shared/engine/loaders/hf.js';
import { loadLlama2c } from './loaders/llama2c.js';
import { openTokenizer, tokenizerInDirectory } from './tokenizers/open.js';
import { readLlama2cTokenizer } from './tokenizers/llama2c.js';
import { MissingTokenizer } from '../../shared/engine/tokenizers/missing.js';

export interface LoadOptions {
  /** A tokenizer file or directory to use instead of the one found beside the model. */
  tokenizerPath?: string;
}

const SUPPORTED = `${HF_ARCHITECTURES.join(', ')} (Hugging Face directories with safetensors) and llama2.c version-0 .bin checkpoints`;

export async function loadModel(path: string, options: LoadOptions = {}): Promise<LoadedModel> {
  if (!existsSync(path)) throw new ModelError(`Model path not found: ${path}`);
  if (statSync(path).isDirectory()) return loadHfDirectory(path, options);
  const name = basename(path);
  if (name === 'config.json' || name.endsWith('.safetensors') || name === 'model.safetensors.index.json') return loadHfDirectory(dirname(path), options);
  if (name.startsWith('pytorch_model')) throw new ModelError(`${path}: PyTorch pickle weights cannot be loaded; use the directory's safetensors weights (model.save_pretrained(dir, safe_serialization=True))`);
  if (name.endsWith('.bin')) return loadLlama2cFile(path, options);
  throw new ModelError(`${path}: unknown model format; supported: ${SUPPORTED}`);
}

/** A Hugging Face folder (shared/engine/loaders/hf.ts); its tokenizer may also be a llama2.c
 * tokenizer.bin beside it, or the one the user named. */
async function loadHfDirectory(dir: string, options: LoadOptions): Promise<LoadedModel> {
  return loadHfFiles(folderFiles(dir), {
    supported: SUPPORTED,
    tokenizer: (config) => (options.tokenizerPath
      ? openTokenizer(options.tokenizerPath, { modelConfig: config })
      : tokenizerInDirectory(dir, { modelConfig: config })),
  });
}

async function loadLlama2cFile(path: string, options: LoadOptions): Promise<LoadedModel> {
  const decoder = loadLlama2c(path);
  if (options.tokenizerPath) return checkedModel({ decoder, tokenizer: openTokenizer(options.tokenizerPath) });
  const beside = llama2cTokenizerBeside(path, decoder.spec.vocabSize);
  const tokenizer = beside
    ? readLlama2cTokenizer(beside)
    : new MissingTokenizer(decoder.spec.vocabSize, null, `${path}: no tokenizer found beside it (looked for tokenizer.bin, tok*.bin)`);
  return checkedModel({ decoder, tokenizer });
}

/** `tokenizer.bin` beside the checkpoint, else `tok{V}.bin`, else the only other `tok*.bin`, else null. */
function llama2cTokenizerBeside(modelPath: string, vocabSize: number): string | null {
  const dir = dirname(modelPath);
  for (const name of ['tokenizer.bin', `tok${vocabSize}.bin`]) if (existsSync(join(dir, name))) return join(dir, name);
  const candidates = readdirSync(dir).filter((f) => /^tok.*\.bin$/.test(f) && join(dir, f) !== modelPath);
  if (candidates.length > 1) throw new ModelError(`${modelPath}: several tokenizers beside it (${candidates.join(', ')}); choose one with --tokenizer PATH`);
  return candidates.length === 1 ? join(dir, candidates[0]!) : null;
}

// ----------------------------------------------------------------------------------------------
// description for the CLI's `info`

export interface ModelDescription {
  architecture: string;
  source: string;
  layers: number;
  dModel: number;
  heads: number;
  kvHeads: number;
  dHead: number;
  dMlp: number;
  vocabSize: number;
  contextLength: number;
  norm: DecoderSpec['norm'];
  mlp: DecoderSpec['mlp'];
  positional: DecoderSpec['positional'];
  tiedEmbeddings: boolean;
  /** Every weight counted once (a tied unembedding is not counted again). */
  parameters: number;
  tokenizer: { vocabSize: number; bosId: number | null; eosId: number | null };
}

export function describeModel(model: LoadedModel): ModelDescription {
  const { spec, weights, source } = model.decoder;
  const tied = isTied(model.decoder);
  let parameters = 0;
  for (const [name, t] of Object.entries(weights)) if (!(tied && name === 'unembed.W_U')) parameters += t.data.length;
  return {
    architecture: spec.architecture, source,
    layers: spec.nLayers, dModel: spec.dModel, heads: spec.nHeads, kvHeads: spec.nKvHeads, dHead: spec.dHead,
    dMlp: spec.dMlp, vocabSize: spec.vocabSize, contextLength: spec.contextLength,
    norm: spec.norm, mlp: spec.mlp, positional: spec.positional,
    tiedEmbeddings: tied, parameters,
    tokenizer: { vocabSize: model.tokenizer.vocabSize, bosId: model.tokenizer.bosId, eosId: model.tokenizer.eosId },
  };
}

/** Whether W_U [d, V] is exactly W_Eᵀ (W_E [V, d]). */
function isTied(decoder: Decoder): boolean {
  const E = decoder.weights['embed.W_E'];
  const U = decoder.weights['unembed.W_U'];
  if (!E || !U) return false;
  const { vocabSize: V, dModel: d } = decoder.spec;
  const B = 64; // tiles, so both matrices are read cache-friendly
  for (let v0 = 0; v0 < V; v0 += B) {
    for (let i0 = 0; i0 < d; i0 += B) {
      for (let v = v0; v < Math.min(V, v0 + B); v++) {
        for (let i = i0; i < Math.min(d, i0 + B); i++) if (U.data[i * V + v] !== E.data[v * d + i]) return false;
      }
    }
  }
  return true;
}
