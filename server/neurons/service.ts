/**
 * One model's neuron index as the server and the CLI use it: finds the store for (model,
 * corpus) through the key caches, builds it (resuming a checkpoint) as a sequence of steps the
 * caller runs (the server through its scheduler, the CLI in a loop), answers neuron details
 * (from the store when ready, else logit effects computed on demand) and reports its status.
 * A corrupt store is moved aside and never served. Knows nothing of sockets.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ModelError, type LoadedModel } from '../../shared/engine/decoder.js';
import { hookName } from '../../shared/engine/hooks.js';
import type { IndexStatus, NeuronDetails, NeuronExplanation } from '../../shared/neuron-index.js';
import { removeStaleTemps } from './atomic-file.js';
import { checkpointContexts } from './checkpoint.js';
import { openCorpus, type CorpusDocuments } from './corpus.js';
import { buildContexts, contextLengthFor, DEFAULT_TOKEN_BUDGET, type CorpusContexts } from './contexts.js';
import { TokenTexts, toIndexedNeuron, toLogitEffects } from './details.js';
import { ExplanationStore } from './explanations.js';
import { IndexBuild, indexPaths, quarantine, type BuildOptions } from './indexer.js';
import { CorpusKeyCache, modelKey, tokenizerFingerprint, type CachedCorpus } from './keys.js';
import { BulkLogitEffects, foldedRow, logitEffectsOf, type TokenEffects } from './logit-effects.js';
import { NeuronStore, StoreCorruptError } from './store.js';

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
    if (!this.store && autoBuild) await this.startBuild();
  }

  /** The store's path for this model and corpus (null until the corpus key is known). */
  get storePath(): string | null {
    return this.model && this.corpusInfo ? indexPaths(this.indexDir, this.model, this.corpusInfo.key).store : null;
  }

  get modelKey(): string | null {
    return this.model;
  }

  /** Model key, corpus key (from the cache, or by tokenizing when `tokenize`), and the store. */
  async locate(tokenize: boolean): Promise<void> {
    const { decoder, tokenizer } = this.loaded;
    this.model ??= await modelKey(decoder, this.indexDir, pause);
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
    const paths = indexPaths(this.indexDir, this.model, this.corpusInfo.key);
    if (!this.store && existsSync(paths.store)) {
      try {
        this.store = NeuronStore.open(paths.store, { modelKey: this.model, corpusKey: this.corpusInfo.key, nLayers: decoder.spec.nLayers, dMlp: decoder.spec.dMlp });
        this.setStatus({ state: 'ready', corpus: this.corpusInfo.name, done: total, total, tokensPerSecond: 0, etaSeconds: null });
        return;
      } catch (error) {
        if (!(error instanceof StoreCorruptError)) throw error;
        quarantine(paths.store);
        this.setStatus({ state: 'absent', corpus: this.corpusInfo.name, done: 0, total, message: `${error.message}; moved aside to ${paths.store}.corrupt, to be rebuilt` });
        return;
      }
    }
    if (!this.building) this.setStatus({ corpus: this.corpusInfo.name, done: checkpointContexts(paths.checkpoint) * C, total, message: this.current.message });
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
    if (this.store || this.building) return this.status();
    // Preparing (tokenizing the corpus) takes seconds: answer now, run the steps when ready.
    this.prepareBuild().then((steps) => {
      if (steps && this.submit) this.submit(steps);
      else if (steps) void (async () => { while (await steps.step()); })();
    }, () => {}); // a failure is in the status
    return this.status();
  }

  /** Prepares a build (tokenizing the corpus if needed); null when the index is ready. */
  async prepareBuild(): Promise<BuildSteps | null> {
    if (this.store) return null;
    if (this.building) throw new Error('neuron index: a build is already running');
    this.building = true;
    this.cancelRequested = false;
    this.setStatus({ state: 'building', tokensPerSecond: 0, etaSeconds: null, message: 'tokenizing the corpus' });
    try {
      await this.locate(true);
      if (this.store) {
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
        if (this.store) {
          this.idle();
          return null;
        }
      }
      this.build = await IndexBuild.prepare(decoder, tokenizer.vocabSize, this.contexts, this.model!, this.indexDir, this.options.build);
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
    const message = left === 0 ? `logit effects and records: ${build.recordsDone} of ${build.state.neurons} neurons` : undefined;
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
        this.store = NeuronStore.open(build.paths.store);
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
        const done = build?.state.contextsDone ?? 0;
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
  private corrupt(error: StoreCorruptError): void {
    const store = this.store!;
    this.store = null;
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
    const session = this.onDemandSession;
    this.onDemandSession = null;
    if (session) await session.then((s) => s.dispose(), () => {});
  }
}
