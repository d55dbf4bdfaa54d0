/**
 * One model's neuron index as the server and the CLI use it: finds the store for (model,
 * corpus) through the key caches, builds it (resuming a checkpoint) as a sequence of steps the
 * caller runs (the server through its scheduler, the CLI in a loop), answers neuron details
 * (from the store when ready, else logit effects computed on demand) and reports its status.
 * With transcoders (options.transcoders) the same build also indexes their features into a
 * store of their own beside the neuron store, keyed by the set (transcoders/feature-index.ts);
 * the index is ready when both are, and a build covers whichever is missing. A corrupt store is
 * moved aside and never served. Knows nothing of sockets.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ModelError, type LoadedModel } from '../../shared/engine/decoder.js';
import { hookName } from '../../shared/engine/hooks.js';
import type { IndexStatus, NeuronDetails, NeuronExplanation } from '../../shared/neuron-index.js';
import type { FeatureDetails } from '../../shared/protocol.js';
import { featureIndexUnsupported, featureUnits, storedFeatureDetails, transcodersKey, type IndexTranscoders } from '../transcoders/feature-index.js';
import { removeStaleTemps } from './atomic-file.js';
import { checkpointContexts } from './checkpoint.js';
import { openCorpus, type CorpusDocuments } from './corpus.js';
import { buildContexts, contextLengthFor, DEFAULT_TOKEN_BUDGET, type CorpusContexts } from './contexts.js';
import { TokenTexts, toIndexedNeuron, toLogitEffects } from './details.js';
import { ExplanationStore } from './explanations.js';
import { IndexBuild, indexPaths, neuronUnits, quarantine, type BuildOptions, type IndexedUnits } from './indexer.js';
import { CorpusKeyCache, modelKey, tokenizerFingerprint, type CachedCorpus } from './keys.js';
import { BulkLogitEffects, foldedRow, logitEffectsOf, type TokenEffects } from './logit-effects.js';
import { NeuronStore, StoreCorruptError, type StoreHeader } from './store.js';

const root = new URL('../../', import.meta.url).pathname;
export const defaultIndexDir = join(root, '.cache/neuron-index');

export interface NeuronIndexOptions {
  /** Where stores live (default `<repo>/.cache/neuron-index/`). */
  indexDir?: string;
  /** A folder of .txt files or a .jsonl file; default the bundled npm corpora. */
  corpus?: string;
  /** Token budget (default 1,000,000, or the whole corpus when smaller). */
  tokens?: number;
  build?: BuildOptions;
  /** Transcoders whose features the index covers too (null/absent: neurons only). */
  transcoders?: IndexTranscoders | null;
}

/** A build as steps: run `step` until it resolves false. */
export interface BuildSteps {
  step(): Promise<boolean>;
}

const pause = () => new Promise<void>((resolve) => setImmediate(resolve));

export class NeuronIndex {
  readonly indexDir: string;
  readonly corpus: CorpusDocuments;
  private readonly budget: number;
  private readonly texts: TokenTexts;
  private model: string | null = null;
  private tokenizerPrint: string | null = null;
  private corpusInfo: CachedCorpus | null = null;
  private corpusStamp = '';
  private contexts: CorpusContexts | null = null;
  private store: NeuronStore | null = null;
  /** The loaded transcoders' feature store, and their key (null until located, or without them). */
  private featureStore: NeuronStore | null = null;
  private featureKey: string | null = null;
  private explanations: ExplanationStore | null = null;
  private build: IndexBuild | null = null;
  private building = false;
  private stepping = false;
  private cancelRequested = false;
  private stopping: Promise<void> | null = null;
  private autoBuild = false;
  private current: IndexStatus;
  private readonly listeners = new Set<(status: IndexStatus) => void>();
  private readonly onDemand = new Map<number, TokenEffects>();
  /** Logit effects for single neurons on ONNX Runtime, made on first use (see detailsAsync). */
  private onDemandSession: Promise<BulkLogitEffects> | null = null;
  private rate = { since: 0, from: 0 };
  private idleWaiters: (() => void)[] = [];
  /** Runs a build's steps (the server's scheduler); without it `startBuild` runs them itself. */
  submit: ((steps: BuildSteps) => void) | null = null;

  constructor(readonly loaded: LoadedModel, readonly options: NeuronIndexOptions = {}) {
    this.indexDir = options.indexDir ?? defaultIndexDir;
    this.corpus = openCorpus(options.corpus);
    this.budget = options.tokens ?? DEFAULT_TOKEN_BUDGET;
    if (!(Number.isInteger(this.budget) && this.budget > 0)) throw new ModelError(`The token budget must be a positive integer, got ${options.tokens}.`);
    this.texts = new TokenTexts(loaded.tokenizer);
    this.current = { state: 'absent', corpus: this.corpus.name, done: 0, total: 0, tokensPerSecond: 0, etaSeconds: null };
  }

  status(): IndexStatus {
    return { ...this.current };
  }

  onStatus(listener: (status: IndexStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private setStatus(patch: Partial<IndexStatus>): void {
    this.current = { ...this.current, message: undefined, ...patch };
    for (const listener of this.listeners) listener(this.status());
  }

  /** Resolves the model key, finds a ready store when one exists; builds when `autoBuild`. */
  async start(autoBuild: boolean): Promise<void> {
    this.autoBuild = autoBuild;
    await this.locate(autoBuild);
    if (!this.complete && autoBuild) await this.startBuild();
  }

  /** The store's path for this model and corpus (null until the corpus key is known). */
  get storePath(): string | null {
    return this.paths()?.store ?? null;
  }

  /** The feature store's path (null without transcoders, or until the keys are known). */
  get featureStorePath(): string | null {
    return this.paths()?.features ?? null;
  }

  private paths(): ReturnType<typeof indexPaths> | null {
    return this.model && this.corpusInfo ? indexPaths(this.indexDir, this.model, this.corpusInfo.key, this.featureKey ?? undefined) : null;
  }

  /** Whether the index covers the loaded transcoders' features (a set whose layers differ in
   * size is explained on demand only). */
  get indexesFeatures(): boolean {
    const t = this.options.transcoders;
    return !!t && featureIndexUnsupported(t.set) === null;
  }

  /** Every store this index should have is open. */
  private get complete(): boolean {
    return this.store !== null && (!this.indexesFeatures || this.featureStore !== null);
  }

  /** The checkpoint of a build of what is missing (a build with features has its own). */
  private checkpointPath(paths: ReturnType<typeof indexPaths>): string {
    return this.indexesFeatures ? paths.featureCheckpoint! : paths.checkpoint;
  }

  get modelKey(): string | null {
    return this.model;
  }

  /** Model key, corpus key (from the cache, or by tokenizing when `tokenize`), and the store. */
  async locate(tokenize: boolean): Promise<void> {
    const { decoder, tokenizer } = this.loaded;
    this.model ??= await modelKey(decoder, this.indexDir, pause);
    if (this.indexesFeatures) this.featureKey ??= await transcodersKey(this.options.transcoders!.set, this.indexDir, pause);
    if (!this.explanations) {
      const { dir, explanations } = indexPaths(this.indexDir, this.model, '');
      removeStaleTemps(dir);
      this.explanations = new ExplanationStore(explanations);
    }
    const C = contextLengthFor(decoder.spec);
    const cache = new CorpusKeyCache(this.indexDir);
    this.tokenizerPrint ??= tokenizerFingerprint(tokenizer);
    this.corpusStamp = CorpusKeyCache.stamp(this.corpus.files, this.tokenizerPrint, C, this.budget);
    this.corpusInfo ??= cache.get(this.corpusStamp) ?? null;
    if (!this.corpusInfo && tokenize) {
      this.contexts = await buildContexts(this.corpus, tokenizer, decoder.spec, { budget: this.budget, pause });
      this.rememberCorpus(this.contexts);
    }
    if (!this.corpusInfo) return;
    const total = this.corpusInfo.count * C;
    const paths = this.paths()!;
    const keys = { modelKey: this.model, corpusKey: this.corpusInfo.key };
    let movedAside = false;
    const open = (path: string, expected: Partial<StoreHeader>): NeuronStore | null => {
      if (!existsSync(path)) return null;
      try {
        return NeuronStore.open(path, expected);
      } catch (error) {
        if (!(error instanceof StoreCorruptError)) throw error;
        quarantine(path);
        movedAside = true;
        this.setStatus({ state: 'absent', corpus: this.corpusInfo!.name, done: 0, total, message: `${error.message}; moved aside to ${path}.corrupt, to be rebuilt` });
        return null;
      }
    };
    this.store ??= open(paths.store, { ...keys, nLayers: decoder.spec.nLayers, dMlp: decoder.spec.dMlp });
    if (this.indexesFeatures) {
      const { set } = this.options.transcoders!;
      this.featureStore ??= open(paths.features!, { ...keys, transcodersKey: this.featureKey!, nLayers: set.layers.length, dMlp: set.layers[0]!.nFeatures });
    }
    if (this.complete) {
      this.setStatus({ state: 'ready', corpus: this.corpusInfo.name, done: total, total, tokensPerSecond: 0, etaSeconds: null });
      return;
    }
    if (movedAside) return;
    const message = this.store ? 'the neurons are indexed; the features of the loaded transcoders are not yet' : this.current.message;
    if (!this.building) this.setStatus({ corpus: this.corpusInfo.name, done: checkpointContexts(this.checkpointPath(paths)) * C, total, message });
  }

  /**
   * Serves the newest ready store of this model over a corpus of the same name, whatever token
   * budget built it: how the CLI's `neuron` (given no --tokens) finds the index that `npm start`
   * built with its own --index-tokens. Stores that do not open cleanly are passed over (not moved:
   * they are another budget's business). True when one is served.
   */
  async adoptNewestStore(): Promise<boolean> {
    if (this.store) return true;
    const { decoder } = this.loaded;
    this.model ??= await modelKey(decoder, this.indexDir, pause);
    const { dir } = indexPaths(this.indexDir, this.model, '');
    if (!existsSync(dir)) return false;
    const stores = readdirSync(dir).filter((f) => f.endsWith('.nidx')).map((f) => join(dir, f))
      .map((path) => ({ path, mtime: statSync(path).mtimeMs })).sort((a, b) => b.mtime - a.mtime);
    for (const { path } of stores) {
      let store: NeuronStore;
      try {
        store = NeuronStore.open(path, { modelKey: this.model, nLayers: decoder.spec.nLayers, dMlp: decoder.spec.dMlp });
      } catch {
        continue;
      }
      const { header } = store;
      if (!header.corpus.startsWith(`${this.corpus.name}, `)) {
        store.close();
        continue;
      }
      this.store = store;
      this.corpusInfo = { key: header.corpusKey, count: header.contexts, name: header.corpus };
      const total = header.contexts * header.contextLength;
      this.setStatus({ state: 'ready', corpus: header.corpus, done: total, total, tokensPerSecond: 0, etaSeconds: null });
      return true;
    }
    return false;
  }

  /** The corpus key of these contexts, for this process and in the key cache. */
  private rememberCorpus(contexts: CorpusContexts): void {
    this.corpusInfo = { key: contexts.key, count: contexts.count, name: contexts.name };
    new CorpusKeyCache(this.indexDir).set(this.corpusStamp, this.corpusInfo);
  }

  /** No build runs any more (finished, failed or stopped). */
  private idle(): void {
    this.building = false;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** Starts (or resumes) a build unless the index is ready or building; returns the status. */
  async startBuild(): Promise<IndexStatus> {
    // A build asked to stop may still be preparing or in its last step: let it stop first.
    while (this.building && this.cancelRequested) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    if (this.complete || this.building) return this.status();
    // Preparing (tokenizing the corpus) takes seconds: answer now, run the steps when ready.
    this.prepareBuild().then((steps) => {
      if (steps && this.submit) this.submit(steps);
      else if (steps) void (async () => { while (await steps.step()); })();
    }, () => {}); // a failure is in the status
    return this.status();
  }

  /** Prepares a build (tokenizing the corpus if needed); null when the index is ready. */
  async prepareBuild(): Promise<BuildSteps | null> {
    if (this.complete) return null;
    if (this.building) throw new Error('neuron index: a build is already running');
    this.building = true;
    this.cancelRequested = false;
    this.setStatus({ state: 'building', tokensPerSecond: 0, etaSeconds: null, message: 'tokenizing the corpus' });
    try {
      await this.locate(true);
      if (this.complete) {
        this.idle();
        return null;
      }
      const { decoder, tokenizer } = this.loaded;
      this.contexts ??= await buildContexts(this.corpus, tokenizer, decoder.spec, { budget: this.budget, pause });
      if (this.contexts.key !== this.corpusInfo!.key) {
        // The cached key is stale (the corpus or the tokenizer changed in a way its stamp missed):
        // the tokens just read are the truth, and their store may exist already.
        this.rememberCorpus(this.contexts);
        await this.locate(false);
        if (this.complete) {
          this.idle();
          return null;
        }
      }
      // Whatever is missing: the neurons, the features, or both in one pass over the corpus.
      const paths = this.paths()!;
      const parts: IndexedUnits[] = [];
      if (!this.store) parts.push(neuronUnits(decoder, paths.store));
      if (this.indexesFeatures && !this.featureStore) parts.push(featureUnits(decoder, this.options.transcoders!, this.featureKey!, paths.features!));
      this.build = await IndexBuild.prepare(decoder, tokenizer.vocabSize, this.contexts, this.model!, parts, this.checkpointPath(paths), this.options.build);
    } catch (error) {
      this.idle();
      this.setStatus({ state: 'error', message: (error as Error).message });
      throw error;
    }
    this.rate = { since: performance.now(), from: this.build.done };
    if (this.cancelRequested) await this.stop();
    else this.progress();
    return { step: () => this.step() };
  }

  private progress(): void {
    const build = this.build!;
    const seconds = (performance.now() - this.rate.since) / 1000;
    const tokensPerSecond = seconds > 0.5 ? (build.done - this.rate.from) / seconds : 0;
    const left = build.total - build.done;
    const message = left === 0 ? `logit effects and records: ${build.recordsDone} of ${build.units} ${build.nouns}` : undefined;
    this.setStatus({
      state: 'building', corpus: build.contexts.name, done: build.done, total: build.total, tokensPerSecond,
      etaSeconds: left === 0 ? null : tokensPerSecond > 0 ? left / tokensPerSecond : null, message,
    });
  }

  private async step(): Promise<boolean> {
    const build = this.build;
    if (!build || this.cancelRequested) return false;
    this.stepping = true;
    try {
      const more = await build.step();
      if (!more) {
        this.build = null;
        this.idle();
        const paths = this.paths()!;
        this.store ??= NeuronStore.open(paths.store);
        if (this.indexesFeatures) this.featureStore ??= NeuronStore.open(paths.features!);
        this.setStatus({ state: 'ready', done: build.total, total: build.total, tokensPerSecond: 0, etaSeconds: null });
        return false;
      }
      if (!this.cancelRequested) this.progress();
    } catch (error) {
      this.build = null;
      this.idle();
      await build.dispose().catch(() => {});
      this.setStatus({ state: 'error', tokensPerSecond: 0, etaSeconds: null, message: `the index build failed: ${(error as Error).message}` });
      return false;
    } finally {
      this.stepping = false;
    }
    if (this.cancelRequested) {
      await this.stop();
      return false;
    }
    return true;
  }

  /** Stops a build: what it did is checkpointed and the next build resumes from it. */
  async cancel(): Promise<IndexStatus> {
    if (!this.building) return this.status();
    this.cancelRequested = true;
    if (this.build && !this.stepping) await this.stop();
    else this.setStatus({ state: 'cancelled', tokensPerSecond: 0, etaSeconds: null, message: 'cancelled; a new build resumes where this one stopped' });
    return this.status();
  }

  private stop(): Promise<void> {
    this.stopping ??= (async () => {
      const build = this.build;
      this.build = null;
      let message = 'cancelled; a new build resumes where this one stopped';
      try {
        const done = build?.contextsDone ?? 0;
        if (build && done > 0 && done < build.contexts.count) await build.checkpoint(); // the corpus's end was checkpointed already
      } catch (error) {
        message = `cancelled, but its checkpoint could not be written (${(error as Error).message}); a new build resumes from the last good checkpoint`;
      } finally {
        await build?.dispose().catch(() => {});
        this.idle();
      }
      this.setStatus({ state: 'cancelled', done: build?.done ?? this.current.done, tokensPerSecond: 0, etaSeconds: null, message });
    })().finally(() => { this.stopping = null; });
    return this.stopping;
  }

  /** Everything known of one neuron; `indexed` is null until the index is ready. */
  details(layer: number, index: number): NeuronDetails {
    this.checkNeuron(layer, index);
    let effects: TokenEffects | null = null;
    let indexed: NeuronDetails['indexed'] = null;
    if (this.store) {
      try {
        const record = this.store.read(layer, index);
        indexed = toIndexedNeuron(record, this.texts);
        effects = record;
      } catch (error) {
        if (!(error instanceof StoreCorruptError)) throw error;
        this.corrupt(error);
      }
    }
    effects ??= this.effectsOnDemand(layer, index);
    return {
      layer, index, hook: hookName.mlpPost(layer),
      promoted: toLogitEffects(effects.promoted, this.texts), suppressed: toLogitEffects(effects.suppressed, this.texts),
      indexed, explanation: this.explanations?.get(layer, index) ?? null,
    };
  }

  /** Feature `index` of `layer` of the loaded transcoders from the feature store, or null when
   * the store is not ready (the caller scans on demand). */
  featureDetails(layer: number, index: number): FeatureDetails | null {
    const store = this.featureStore;
    if (!store || layer < 0 || layer >= store.header.nLayers || index < 0 || index >= store.header.dMlp) return null;
    try {
      return storedFeatureDetails(store.read(layer, index), layer, index, this.texts, store.header.corpus);
    } catch (error) {
      if (!(error instanceof StoreCorruptError)) throw error;
      this.corrupt(error, 'features');
      return null;
    }
  }

  /** A transcoder feature's imported explanation (explanations.json's `features`), or null. */
  async featureExplanation(layer: number, index: number): Promise<NeuronExplanation | null> {
    await this.locate(false);
    return this.explanations?.getFeature(layer, index) ?? null;
  }

  /** `details`, with logit effects that are not in the store or the cache computed on ONNX
   * Runtime's threads, so the event loop (everyone's streams) never waits on a d × V product:
   * about 80 ms in plain loops for GPT-2 small. The server answers with this. */
  async detailsAsync(layer: number, index: number): Promise<NeuronDetails> {
    this.checkNeuron(layer, index);
    const { decoder, tokenizer } = this.loaded;
    const g = layer * decoder.spec.dMlp + index;
    if (!this.store && !this.onDemand.has(g)) {
      this.onDemandSession ??= BulkLogitEffects.create(decoder, tokenizer.vocabSize, undefined, { unembedAsInput: true });
      try {
        const [effects] = await (await this.onDemandSession).compute(foldedRow(decoder, layer, index), 1, decoder.spec.dModel);
        this.remember(g, effects!);
      } catch (error) {
        this.onDemandSession = null; // the next request tries afresh
        throw error;
      }
    }
    return this.details(layer, index);
  }

  private checkNeuron(layer: number, index: number): void {
    const { nLayers, dMlp } = this.loaded.decoder.spec;
    if (!(Number.isInteger(layer) && layer >= 0 && layer < nLayers)) throw new ModelError(`layer must be an integer in 0..${nLayers - 1}, got ${layer}`);
    if (!(Number.isInteger(index) && index >= 0 && index < dMlp)) throw new ModelError(`neuron index must be an integer in 0..${dMlp - 1}, got ${index}`);
  }

  private effectsOnDemand(layer: number, index: number): TokenEffects {
    const g = layer * this.loaded.decoder.spec.dMlp + index;
    return this.onDemand.get(g) ?? this.remember(g, logitEffectsOf(this.loaded.decoder, this.loaded.tokenizer.vocabSize, layer, index));
  }

  private remember(g: number, effects: TokenEffects): TokenEffects {
    if (this.onDemand.size >= 4096) this.onDemand.delete(this.onDemand.keys().next().value!);
    this.onDemand.set(g, effects);
    return effects;
  }

  /** A store that failed a read: closed, moved aside, rebuilt when building automatically. */
  private corrupt(error: StoreCorruptError, which: 'neurons' | 'features' = 'neurons'): void {
    const store = (which === 'neurons' ? this.store : this.featureStore)!;
    if (which === 'neurons') this.store = null;
    else this.featureStore = null;
    store.close();
    quarantine(store.path);
    this.setStatus({ state: 'absent', done: 0, message: `${error.message}; moved aside to ${store.path}.corrupt, to be rebuilt` });
    if (this.autoBuild) void this.startBuild().catch(() => {});
  }

  /** Stops a build (checkpointing it, after the step that is running) and closes the store. */
  async dispose(): Promise<void> {
    if (this.building) await this.cancel();
    if (this.building) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    if (this.stopping) await this.stopping;
    this.store?.close();
    this.store = null;
    this.featureStore?.close();
    this.featureStore = null;
    const session = this.onDemandSession;
    this.onDemandSession = null;
    if (session) await session.then((s) => s.dispose(), () => {});
  }
}
