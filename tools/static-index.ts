/**
 * The prebuilt neuron index of the static build: finds the bundled model's ready stores in the
 * server's index folder with the keys the server checks (server/neurons/service.ts `locate`: the
 * model key, the corpus key cached by corpus files + tokenizer fingerprint + context length +
 * token budget, and the transcoder set's key for the features), opens each to check it, and
 * copies it with the model's explanations into models/<name>/index/ beside a manifest
 * (shared/neurons/static-index.ts) that the in-browser engine reads. A store that is missing,
 * of another model, tokenizer, corpus or transcoder set, or corrupt is never copied; the build
 * says why and the static app shows logit effects only.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { loadModel } from '../server/engine/load.js';
import { contextLengthFor, DEFAULT_TOKEN_BUDGET } from '../server/neurons/contexts.js';
import { openCorpus } from '../server/neurons/corpus.js';
import { indexPaths } from '../server/neurons/indexer.js';
import { CorpusKeyCache, modelKey, tokenizerFingerprint } from '../server/neurons/keys.js';
import { defaultIndexDir } from '../server/neurons/service.js';
import { NeuronStore } from '../server/neurons/store.js';
import { featureIndexUnsupported, transcodersKey } from '../server/transcoders/feature-index.js';
import { loadTranscoderSet } from '../server/transcoders/load.js';
import { STATIC_INDEX_MANIFEST, STATIC_INDEX_VERSION, type StaticIndexManifest, type StaticIndexStore } from '../shared/neurons/static-index.js';
import type { StoreHeader } from '../shared/neurons/store-reader.js';

export interface StaticIndexOptions {
  /** The model folder (its transcoders/ too). */
  model: string;
  /** models/<name>/ in the output. */
  modelOut: string;
  /** The server's index folder (default .cache/neuron-index). */
  indexDir?: string;
  /** The corpus the index was built over (default the bundled corpora, as npm start). */
  corpus?: string;
  /** Its token budget (npm start --index-tokens); default the server's, then each store's own. */
  tokens?: number;
  log: (message: string) => void;
}

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MB`;

/** Copies the model's prebuilt index into modelOut/index/; its manifest, or null (said in words). */
export async function copyStaticIndex(options: StaticIndexOptions): Promise<StaticIndexManifest | null> {
  const indexDir = options.indexDir ?? defaultIndexDir;
  const name = basename(options.model);
  const withoutIt = 'the static app will show logit effects only';
  const shown = (path: string) => relative(process.cwd(), path) || '.';
  const howTo = `build one with \`npm run cli -- index --model ${shown(options.model)}${indexDir === defaultIndexDir ? '' : ` --index-dir ${shown(indexDir)}`}\` or npm start`;
  const out = join(options.modelOut, 'index');
  rmSync(out, { recursive: true, force: true });
  if (!existsSync(indexDir)) {
    options.log(`no neuron index for ${name} in ${shown(indexDir)}: ${howTo}; ${withoutIt}`);
    return null;
  }
  const model = await loadModel(options.model);
  const { decoder, tokenizer } = model;
  const { nLayers, dMlp } = decoder.spec;
  const key = await modelKey(decoder, indexDir);
  const fingerprint = tokenizerFingerprint(tokenizer);
  const corpus = openCorpus(options.corpus);
  const C = contextLengthFor(decoder.spec);
  const { dir } = indexPaths(indexDir, key, '');
  const stores = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.nidx')).map((f) => join(dir, f)).sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs) : [];
  if (stores.length === 0) {
    options.log(`no neuron index for ${name} in ${shown(indexDir)}: ${howTo}; ${withoutIt}`);
    return null;
  }

  // The token budgets to try: the one asked for, else the server's default and then each store's own.
  const budgets = options.tokens ? [options.tokens] : [DEFAULT_TOKEN_BUDGET];
  if (!options.tokens) {
    for (const path of stores) {
      try {
        const store = NeuronStore.open(path);
        budgets.push(store.header.tokens);
        store.close();
      } catch { /* a corrupt store: the server moves it aside */ }
    }
  }
  const cache = new CorpusKeyCache(indexDir);
  let neurons: { path: string; header: StoreHeader; corpusKey: string; corpus: string } | null = null;
  const refused: string[] = [];
  for (const budget of new Set(budgets)) {
    const cached = cache.get(CorpusKeyCache.stamp(corpus.files, fingerprint, C, budget));
    if (!cached) continue;
    const path = indexPaths(indexDir, key, cached.key).store;
    if (!existsSync(path)) continue;
    try {
      const store = NeuronStore.open(path, { modelKey: key, corpusKey: cached.key, nLayers, dMlp });
      neurons = { path, header: store.header, corpusKey: cached.key, corpus: cached.name };
      store.close();
      break;
    } catch (error) {
      refused.push((error as Error).message);
    }
  }
  if (!neurons) {
    const why = refused.length > 0 ? refused.join('; ') : `${stores.length} store(s) of this model, none built over ${corpus.name} with this tokenizer${options.tokens ? ` and ${options.tokens} tokens` : ' and a token budget found in them (pass --index-tokens N as given to npm start)'}`;
    options.log(`no usable neuron index for ${name} in ${shown(indexDir)} (${why}): ${howTo}; ${withoutIt}`);
    return null;
  }

  // The features of the model's own transcoders, when the server indexed them with the same corpus.
  let features: { path: string; header: StoreHeader; transcodersKey: string } | null = null;
  let featureNote = '';
  const transcoders = join(options.model, 'transcoders');
  if (existsSync(join(transcoders, 'config.yaml'))) {
    const set = loadTranscoderSet(transcoders, decoder.spec);
    const unsupported = featureIndexUnsupported(set);
    if (unsupported) {
      featureNote = `; features not indexed: ${unsupported}`;
    } else {
      const tKey = await transcodersKey(set, indexDir);
      const path = indexPaths(indexDir, key, neurons.corpusKey, tKey).features!;
      try {
        if (!existsSync(path)) throw new Error(`no feature store ${path} (npm start or \`cli index\` builds it with the transcoders)`);
        const store = NeuronStore.open(path, { modelKey: key, corpusKey: neurons.corpusKey, transcodersKey: tKey, nLayers: set.layers.length, dMlp: set.layers[0]!.nFeatures });
        features = { path, header: store.header, transcodersKey: tKey };
        store.close();
      } catch (error) {
        featureNote = `; features not included: ${(error as Error).message}`;
      }
    }
  }

  mkdirSync(out, { recursive: true });
  const copy = (path: string, file: string): StaticIndexStore => {
    copyFileSync(path, join(out, file));
    const store = NeuronStore.open(join(out, file));
    const layout = { file, bytes: store.bytes, headBytes: store.headBytes, header: store.header };
    store.close();
    return layout;
  };
  const explanations = indexPaths(indexDir, key, '').explanations;
  const manifest: StaticIndexManifest = {
    version: STATIC_INDEX_VERSION, model: name, modelKey: key, tokenizerFingerprint: fingerprint,
    corpus: neurons.corpus, corpusKey: neurons.corpusKey, tokens: neurons.header.tokens,
    neurons: copy(neurons.path, 'neurons.nidx'),
    features: features ? { ...copy(features.path, 'features.fidx'), transcodersKey: features.transcodersKey } : null,
    explanations: existsSync(explanations) ? 'explanations.json' : null,
  };
  if (manifest.explanations) copyFileSync(explanations, join(out, manifest.explanations));
  writeFileSync(join(out, STATIC_INDEX_MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  const bytes = readdirSync(out).reduce((sum, f) => sum + statSync(join(out, f)).size, 0);
  options.log(`neuron index included: ${neurons.corpus} (${nLayers} layers × ${dMlp} neurons${features ? `, ${features.header.nLayers} × ${features.header.dMlp} features` : ''}${manifest.explanations ? ', explanations' : ''}), ${mb(bytes)} from ${neurons.path}${featureNote}`);
  return manifest;
}
