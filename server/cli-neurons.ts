/**
 * The CLI's neuron-index commands (server/cli.ts dispatches to them):
 *   index         builds (or resumes) the corpus index, with a progress bar on stderr; with
 *                 transcoders (--transcoders DIR, default the model's own transcoders/ folder,
 *                 --no-transcoders for none) their features are indexed in the same pass
 *   neuron        one neuron's details as JSON (logit effects always; corpus data once indexed)
 *   explanations  imports natural-language explanations (OpenAI's JSONL, or CSV; features'
 *                 Neuronpedia-style JSON or CSV, checked against the transcoders as for index)
 * Bad input fails with one clear line (ModelError / UsageError), as the other commands do.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ModelError, type LoadedModel } from '../shared/engine/decoder.js';
import { loadModel } from './engine/load.js';
import { devices, type Device } from '../shared/engine/runner.js';
import type { IndexStatus } from '../shared/neuron-index.js';
import { ExplanationStore, readExplanations } from './neurons/explanations.js';
import { indexPaths } from './neurons/indexer.js';
import { modelKey } from './neurons/keys.js';
import { defaultIndexDir, NeuronIndex, type NeuronIndexOptions } from './neurons/service.js';
import { NeuronStore } from './neurons/store.js';
import { featureIndexUnsupported } from './transcoders/feature-index.js';
import { bundledTranscoders, HostedTranscoders, loadHostedTranscoders } from './transcoders/live.js';
import { loadTranscoderSet } from './transcoders/load.js';

export class UsageError extends Error {}

export interface NeuronArgs {
  model?: string;
  tokenizer?: string;
  corpus?: string;
  tokens?: string;
  'index-dir'?: string;
  layer?: string;
  index?: string;
  import?: string;
  device?: string;
  'batch-contexts'?: string;
  'checkpoint-every'?: string;
  'checkpoint-seconds'?: string;
  threads?: string;
  transcoders?: string;
  'no-transcoders'?: boolean;
}

/** `--threads N`: ONNX Runtime's threads per operator (undefined: its own choice). */
export function threadsArg(args: { threads?: string }): number | undefined {
  if (args.threads === undefined) return undefined;
  const value = Number(args.threads);
  if (!Number.isInteger(value) || value < 1) throw new UsageError(`--threads must be a positive integer, got "${args.threads}".`);
  return value;
}

function secondsArg(args: NeuronArgs, name: 'checkpoint-seconds'): number | undefined {
  const raw = args[name];
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!(Number.isFinite(value) && value > 0)) throw new UsageError(`--${name} must be a positive number of seconds, got "${raw}".`);
  return value;
}

function integerArg(args: NeuronArgs, name: 'tokens' | 'layer' | 'index' | 'batch-contexts' | 'checkpoint-every', min: number): number | undefined {
  const raw = args[name];
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new UsageError(`--${name} must be an integer of at least ${min}, got "${raw}".`);
  return value;
}

async function openModel(args: NeuronArgs): Promise<LoadedModel> {
  if (!args.model) throw new UsageError('--model PATH is required.');
  return loadModel(args.model, { tokenizerPath: args.tokenizer });
}

/** The transcoder folder: --transcoders DIR, else the model's own transcoders/ folder when it has
 * one (as npm start), none with --no-transcoders. */
function transcodersDir(args: NeuronArgs): string | null {
  if (args['no-transcoders'] && args.transcoders !== undefined) throw new UsageError('--transcoders DIR and --no-transcoders contradict each other; give one.');
  if (args['no-transcoders']) return null;
  return args.transcoders ?? (args.model && statSync(args.model).isDirectory() ? bundledTranscoders(args.model) : null);
}

/** The transcoders to index. A named set that does not fit the model fails in one line naming
 * file and tensor; the model's own folder, when broken, is reported and skipped (as npm start). */
async function openTranscoders(args: NeuronArgs, model: LoadedModel): Promise<HostedTranscoders | null> {
  const dir = transcodersDir(args);
  if (!dir) return null;
  try {
    return await loadHostedTranscoders(dir, model.decoder);
  } catch (error) {
    if (args.transcoders !== undefined || !(error instanceof ModelError)) throw error;
    console.error(`transcoders: not loaded, indexing neurons only: ${error.message} (--no-transcoders skips them, --transcoders DIR names others)`);
    return null;
  }
}

function indexOptions(args: NeuronArgs): NeuronIndexOptions {
  const device = (args.device ?? 'cpu') as Device;
  if (!devices.includes(device)) throw new UsageError(`--device must be one of ${devices.join(', ')}, got "${args.device}".`);
  return {
    indexDir: args['index-dir'], corpus: args.corpus, tokens: integerArg(args, 'tokens', 1),
    build: {
      device, threads: threadsArg(args), batchContexts: integerArg(args, 'batch-contexts', 1),
      checkpointEveryBatches: integerArg(args, 'checkpoint-every', 1), checkpointEverySeconds: secondsArg(args, 'checkpoint-seconds'),
    },
  };
}

const count = (n: number) => n.toLocaleString('en-US');

function duration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
    : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/** Draws progress on stderr: one line rewritten with \r on a terminal, a line every 5 s otherwise. */
function progressBar(stream: NodeJS.WriteStream = process.stderr): { draw: (status: IndexStatus, force?: boolean) => void; end: () => void } {
  let last = -Infinity;
  let drawn = false;
  const draw = (status: IndexStatus, force = false) => {
    const now = performance.now();
    if (!force && now - last < (stream.isTTY ? 100 : 5000)) return;
    last = now;
    const fraction = status.total > 0 ? status.done / status.total : 0;
    const width = 24;
    const filled = Math.round(fraction * width);
    const rate = status.tokensPerSecond > 0 ? `${count(Math.round(status.tokensPerSecond))} tokens/s` : '… tokens/s';
    const tail = status.message ?? `ETA ${duration(status.etaSeconds)}`;
    const line = `index [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(100 * fraction).toFixed(1)}% `
      + `${count(status.done)}/${count(status.total)} tokens, ${rate}, ${tail}`;
    if (stream.isTTY) stream.write(`\r${line}\x1b[K`);
    else stream.write(`${line}\n`);
    drawn = true;
  };
  return { draw, end: () => { if (drawn && stream.isTTY) stream.write('\n'); } };
}

export async function indexCommand(args: NeuronArgs): Promise<void> {
  const options = indexOptions(args);
  const model = await openModel(args);
  const transcoders = await openTranscoders(args, model);
  const index = new NeuronIndex(model, { ...options, transcoders });
  try {
    await buildIndex(index, args, model, transcoders);
  } finally {
    await index.dispose();
    await transcoders?.dispose();
  }
}

async function buildIndex(index: NeuronIndex, args: NeuronArgs, model: LoadedModel, transcoders: HostedTranscoders | null): Promise<void> {
  const started = performance.now();
  await index.locate(false);
  const steps = await index.prepareBuild();
  let resumed = 0;
  if (steps) {
    resumed = index.status().done;
    const bar = progressBar();
    let interrupted = false;
    const onInterrupt = () => {
      interrupted = true;
      process.stderr.write('\nstopping after this batch (a checkpoint keeps the work done)...\n');
      void index.cancel();
    };
    process.once('SIGINT', onInterrupt);
    bar.draw(index.status(), true);
    while (await steps.step()) bar.draw(index.status());
    bar.end();
    process.removeListener('SIGINT', onInterrupt);
    const status = index.status();
    if (status.state === 'error') throw new ModelError(status.message ?? 'the index build failed');
    if (interrupted || status.state === 'cancelled') {
      console.error(`interrupted at ${count(status.done)} of ${count(status.total)} tokens; run the same command again to resume.`);
      process.exitCode = 130; // the CLI exits with it once its output is flushed
      return;
    }
  }
  const status = index.status();
  const seconds = (performance.now() - started) / 1000;
  const { nLayers, dMlp } = model.decoder.spec;
  const store = index.storePath!;
  const lines = [
    `neuron index ${steps ? 'built' : 'already built'}: ${store}`,
    `model: ${basename(args.model!)} (${nLayers} layers × ${count(dMlp)} neurons); corpus: ${status.corpus}`,
  ];
  if (index.featureStorePath) {
    const F = transcoders!.set.layers[0]!.nFeatures;
    lines.push(`feature index: ${index.featureStorePath} (${transcoders!.set.layers.length} layers × ${count(F)} features of ${transcoders!.set.source})`);
  } else if (transcoders) {
    lines.push(`features not indexed: ${featureIndexUnsupported(transcoders.set)}`);
  }
  if (steps) {
    const run = status.total - resumed;
    lines.push(`${count(run)} tokens in ${seconds.toFixed(1)} s (${count(Math.round(run / seconds))} tokens/s overall)${resumed > 0 ? `, resumed at ${count(resumed)}` : ''}`);
  }
  console.log(lines.join('\n'));
}

export async function neuronCommand(args: NeuronArgs): Promise<void> {
  const layer = integerArg(args, 'layer', 0);
  const neuron = integerArg(args, 'index', 0);
  if (layer === undefined) throw new UsageError('--layer L is required.');
  if (neuron === undefined) throw new UsageError('--index I is required (the neuron within its layer).');
  const options = indexOptions(args);
  const model = await openModel(args);
  const { nLayers, dMlp } = model.decoder.spec;
  if (layer >= nLayers) throw new UsageError(`--layer ${layer} is out of range: the model has ${nLayers} layers (0..${nLayers - 1}).`);
  if (neuron >= dMlp) throw new UsageError(`--index ${neuron} is out of range: layers have ${dMlp} neurons (0..${dMlp - 1}).`);
  const index = new NeuronIndex(model, options);
  await index.locate(false);
  // Without --tokens, the index that exists is the one wanted, whatever budget built it (npm
  // start's --index-tokens): the newest ready one over this corpus.
  if (index.status().state !== 'ready' && args.tokens === undefined) await index.adoptNewestStore();
  // Tokenize the corpus (seconds) only when the key cache missed and a store over a corpus of
  // this name exists for this model.
  if (index.status().state !== 'ready' && storesOver(index)) await index.locate(true);
  const details = index.details(layer, neuron);
  if (details.indexed === null) {
    console.error(`note: no corpus index is built for this model and corpus yet (indexed is null); build it with: npm run -s cli -- index --model ${args.model}`);
  }
  process.stdout.write(`${JSON.stringify(details)}\n`);
  await index.dispose();
}

function storesOver(index: NeuronIndex): boolean {
  const dir = indexPaths(index.indexDir, index.modelKey!, '').dir;
  if (!existsSync(dir)) return false;
  return readdirSync(dir).filter((f) => f.endsWith('.nidx')).some((f) => {
    try {
      const store = NeuronStore.open(join(dir, f));
      store.close();
      return store.header.corpus.startsWith(`${index.corpus.name},`);
    } catch {
      return true; // unreadable: let the index look at it properly
    }
  });
}

export async function explanationsCommand(args: NeuronArgs): Promise<void> {
  if (!args.import) throw new UsageError('--import FILE_OR_DIR is required (OpenAI explanation JSONL files or a directory of them, or a CSV).');
  if (!existsSync(args.import)) throw new UsageError(`--import: path not found: ${args.import}`);
  const model = await openModel(args);
  const indexDir = args['index-dir'] ?? defaultIndexDir;
  // Feature entries are checked against the transcoders' layers and feature counts.
  const dir = transcodersDir(args);
  let nFeatures: number[] | undefined;
  try {
    nFeatures = dir ? loadTranscoderSet(dir, model.decoder.spec).layers.map((t) => t.nFeatures) : undefined;
  } catch (error) {
    if (args.transcoders !== undefined || !(error instanceof ModelError)) throw error;
    console.error(`transcoders: not loaded, feature indices checked for ≥ 0 only: ${error.message}`);
  }
  const { explanations, files } = readExplanations(args.import, { ...model.decoder.spec, nFeatures });
  const store = new ExplanationStore(indexPaths(indexDir, await modelKey(model.decoder, indexDir), '').explanations);
  const total = store.import(explanations);
  console.log(`imported ${count(explanations.length)} explanations from ${count(files)} file${files === 1 ? '' : 's'} into ${store.path} (${count(total)} neurons explained in all)`);
}
