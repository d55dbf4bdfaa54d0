/**
 * Command-line interface to the engine (for people and for acceptance checks):
 *   info | logits | generate | hooks | effects | graph | index | neuron | explanations | transcoders
 *   — see `npm run -s cli -- help`.
 * Errors a user can fix print one clear line on stderr and exit 1, without a stack trace.
 */
import { parseArgs } from 'node:util';
import { ModelError, type LoadedModel, type Tensor } from '../shared/engine/decoder.js';
import { allHookNames } from '../shared/engine/hooks.js';
import { describeModel, loadModel } from './engine/load.js';
import { devices, ModelRunner, type Device } from '../shared/engine/runner.js';
import { generate } from '../shared/engine/generate.js';
import { AnalysisContext } from '../shared/analysis/context.js';
import { computeEffects } from '../shared/analysis/effects.js';
import { resolveQuestion, type Question } from '../shared/analysis/question.js';
import { attributionGraph } from '../shared/analysis/graph.js';
import { applyPrune, pruneGraph } from '../shared/graph/prune.js';
import { exportGraph } from '../shared/graph/io.js';
import { writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { explanationsCommand, indexCommand, neuronCommand, threadsArg, UsageError } from './cli-neurons.js';
import { transcodersCommand } from './transcoders/cli-command.js';
import { featureGraphCommand } from './transcoders/graph-command.js';

const usage = `Circuits XR engine CLI

  info      --model PATH [--tokenizer PATH]
  logits    --model PATH [--tokenizer PATH] (--prompt TEXT | --tokens 1,2,3) [--positions all|last] --json
  generate  --model PATH [--tokenizer PATH] --prompt TEXT --max-tokens N [--temperature 0] [--top-k K] [--seed S]
  hooks     --model PATH [--tokenizer PATH] (--prompt TEXT | --tokens 1,2,3) --hook NAME [--hook NAME...] --json
  effects   --model PATH [--tokenizer PATH] --prompt TEXT --target TOKEN --distractor TOKEN --json
  graph     --model PATH [--tokenizer PATH] --prompt TEXT --target TOKEN --distractor TOKEN
            [--node-threshold 0.8] [--edge-threshold 0.98] [--max-nodes N] [--unpruned] --out FILE
            [--transcoders DIR]   over transcoder features (the replacement model) instead of neurons
  index     --model PATH [--tokenizer PATH] [--corpus PATH] [--tokens N] [--index-dir DIR]
            [--batch-contexts N] [--checkpoint-every BATCHES] [--checkpoint-seconds S]
            [--transcoders DIR | --no-transcoders]   features indexed too (default: the model's own transcoders/)
  neuron    --model PATH [--tokenizer PATH] --layer L --index I [--corpus PATH] [--tokens N] [--index-dir DIR] --json
  explanations --model PATH --import FILE_OR_DIR [--index-dir DIR] [--transcoders DIR | --no-transcoders]
  transcoders --model PATH --transcoders DIR (--prompt TEXT | --tokens 1,2,3)   per-layer FVU and L0, JSON

PATH is a model directory (Hugging Face layout) or a llama2.c .bin file.
Every command takes --device cpu|cuda|webgpu (default cpu) and --threads N (ONNX Runtime's
threads per operator; default all cores).
index builds the neuron index (top examples, statistics, logit effects) over --corpus (a folder
of .txt files or a .jsonl file; default the bundled Brown Corpus + nlp-corpus), at most --tokens
tokens (default 1,000,000), in --index-dir (default .cache/neuron-index/); it checkpoints after
its first batch, then every --checkpoint-seconds (default 30) or --checkpoint-every batches
(default 64), and an interrupted build resumes from its last checkpoint. neuron reads the index
for --tokens N when given; without --tokens it uses the newest ready index of this model over
the same corpus (so it finds one that npm start built with any --index-tokens). explanations imports OpenAI's neuron-explanation JSONL (a file or explanations/ tree) or a
CSV with the columns layer,neuron,explanation,score.`;

const options = {
  model: { type: 'string' },
  tokenizer: { type: 'string' },
  prompt: { type: 'string' },
  tokens: { type: 'string' },
  positions: { type: 'string' },
  json: { type: 'boolean' },
  'max-tokens': { type: 'string' },
  temperature: { type: 'string' },
  'top-k': { type: 'string' },
  seed: { type: 'string' },
  hook: { type: 'string', multiple: true },
  device: { type: 'string' },
  target: { type: 'string' },
  distractor: { type: 'string' },
  'node-threshold': { type: 'string' },
  'edge-threshold': { type: 'string' },
  'max-nodes': { type: 'string' },
  unpruned: { type: 'boolean' },
  out: { type: 'string' },
  corpus: { type: 'string' },
  'index-dir': { type: 'string' },
  layer: { type: 'string' },
  index: { type: 'string' },
  import: { type: 'string' },
  'batch-contexts': { type: 'string' },
  'checkpoint-every': { type: 'string' },
  'checkpoint-seconds': { type: 'string' },
  threads: { type: 'string' },
  transcoders: { type: 'string' },
  'no-transcoders': { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

type Args = ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>['values'];

function numberArg(args: Args, name: 'max-tokens' | 'temperature' | 'top-k' | 'seed' | 'max-nodes', fallback: number, integer: boolean): number {
  const raw = args[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || (integer && !Number.isInteger(value))) {
    throw new UsageError(`--${name} must be a ${integer ? 'non-negative integer' : 'non-negative number'}, got "${raw}".`);
  }
  return value;
}

async function open(args: Args): Promise<{ model: LoadedModel; runner: ModelRunner }> {
  if (!args.model) throw new UsageError('--model PATH is required.');
  const device = (args.device ?? 'cpu') as Device;
  if (!devices.includes(device)) throw new UsageError(`--device must be one of ${devices.join(', ')}, got "${args.device}".`);
  const threads = threadsArg(args);
  const model = await loadModel(args.model, { tokenizerPath: args.tokenizer });
  // Every other graph of this model (backward, logit effects) gets the same device and threads.
  const runner = await ModelRunner.create(model.decoder, { device, threads, onNotice: (m) => console.error(m) });
  return { model, runner };
}

/** Prompt tokens: `--tokens` ids exactly as given, or the tokenizer's encoding of `--prompt`. */
function promptTokens(args: Args, model: LoadedModel): number[] {
  if (args.tokens !== undefined) {
    const parts = args.tokens.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
    if (parts.length === 0) throw new UsageError('--tokens is empty: give comma-separated token ids, e.g. --tokens 1,2,3.');
    return parts.map((s) => {
      const id = Number(s);
      if (!Number.isInteger(id) || id < 0 || id >= model.decoder.spec.vocabSize) {
        throw new UsageError(`--tokens: "${s}" is not a token id (0..${model.decoder.spec.vocabSize - 1}).`);
      }
      return id;
    });
  }
  if (args.prompt === undefined) throw new UsageError('Give --prompt TEXT or --tokens 1,2,3.');
  const ids = model.tokenizer.encode(args.prompt);
  if (ids.length === 0) throw new UsageError('The prompt encodes to no tokens; give a non-empty --prompt.');
  return ids;
}

function checkContext(tokens: number[], model: LoadedModel): void {
  const { contextLength } = model.decoder.spec;
  if (tokens.length > contextLength) {
    throw new UsageError(`The prompt is ${tokens.length} tokens, longer than the model's context window of ${contextLength}.`);
  }
}

function fractionArg(args: Args, name: 'node-threshold' | 'edge-threshold', fallback: number): number {
  const raw = args[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!(value > 0 && value <= 1)) throw new UsageError(`--${name} must be a number in (0, 1], got "${raw}".`);
  return value;
}

function questionArgs(args: Args): Question {
  if (args.prompt === undefined) throw new UsageError('--prompt TEXT is required.');
  if (args.target === undefined) throw new UsageError('--target TOKEN is required (e.g. --target " tree").');
  if (args.distractor === undefined) throw new UsageError('--distractor TOKEN is required (e.g. --distractor " sky").');
  return { prompt: args.prompt, target: args.target, distractor: args.distractor };
}

/** Drops the leading batch dimension of a single-prompt result. */
function unbatched(t: Tensor): { shape: number[]; values: number[] } {
  return { shape: t.shape.slice(1), values: Array.from(t.data) };
}

async function main(argv: string[]): Promise<void> {
  const { values: args, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  const command = positionals[0];
  if (!command || command === 'help' || args.help) {
    console.log(usage);
    return;
  }
  switch (command) {
    case 'info': {
      const { model, runner } = await open(args);
      console.log(JSON.stringify({ ...describeModel(model), device: runner.device, hooks: allHookNames(model.decoder.spec) }, null, 2));
      break;
    }
    case 'logits': {
      const { model, runner } = await open(args);
      const tokens = promptTokens(args, model);
      checkContext(tokens, model);
      const positions = args.positions ?? 'all';
      if (positions !== 'all' && positions !== 'last') throw new UsageError(`--positions must be all or last, got "${positions}".`);
      const { logits } = await runner.run([tokens], { positions });
      const V = logits.shape[2]!;
      const rows: number[][] = [];
      for (let t = 0; t < logits.shape[1]!; t++) rows.push(Array.from(logits.data.subarray(t * V, (t + 1) * V)));
      process.stdout.write(`${JSON.stringify({ tokens, logits: rows })}\n`);
      break;
    }
    case 'generate': {
      const { model, runner } = await open(args);
      if (args.prompt === undefined) throw new UsageError('--prompt TEXT is required (it may be empty: --prompt "").');
      const prompt = model.tokenizer.encode(args.prompt);
      if (prompt.length === 0) throw new UsageError('The prompt encodes to no tokens and this tokenizer adds no BOS; give a non-empty --prompt.');
      checkContext(prompt, model);
      const maxTokens = numberArg(args, 'max-tokens', 32, true);
      const { tokens } = await generate(runner, prompt, {
        maxTokens: Math.min(maxTokens, model.decoder.spec.contextLength - prompt.length),
        temperature: numberArg(args, 'temperature', 0, false),
        topK: numberArg(args, 'top-k', 0, true),
        seed: numberArg(args, 'seed', 0, true),
        stopToken: model.tokenizer.eosId,
      });
      process.stdout.write(`${model.tokenizer.decode([...prompt, ...tokens])}\n`);
      break;
    }
    case 'hooks': {
      const { model, runner } = await open(args);
      const hooks = args.hook ?? [];
      if (hooks.length === 0) throw new UsageError('Give at least one --hook NAME (the info command lists them).');
      const tokens = promptTokens(args, model);
      checkContext(tokens, model);
      const { cache } = await runner.run([tokens], { hooks });
      const out: Record<string, { shape: number[]; values: number[] }> = {};
      for (const name of hooks) out[name] = unbatched(cache[name]!);
      process.stdout.write(`${JSON.stringify({ tokens, hooks: out })}\n`);
      break;
    }
    case 'effects': {
      const { model, runner } = await open(args);
      const context = new AnalysisContext(model, runner);
      const effects = await computeEffects(context, resolveQuestion(model.tokenizer, model.decoder, questionArgs(args)));
      for (const warning of effects.warnings) console.error(`note: ${warning}`);
      const total = [...effects.total].sort((a, b) => Math.abs(b.value) - Math.abs(a.value)).slice(0, 200);
      process.stdout.write(`${JSON.stringify({ ...effects, total })}\n`);
      break;
    }
    case 'graph': {
      if (!args.out) throw new UsageError('--out FILE is required.');
      const nodeThreshold = fractionArg(args, 'node-threshold', 0.8);
      const edgeThreshold = fractionArg(args, 'edge-threshold', 0.98);
      const maxNodes = numberArg(args, 'max-nodes', 200, true);
      const { model, runner } = await open(args);
      const context = new AnalysisContext(model, runner);
      const question = resolveQuestion(model.tokenizer, model.decoder, questionArgs(args));
      for (const warning of question.warnings) console.error(`note: ${warning}`);
      if (args.transcoders !== undefined) {
        await featureGraphCommand(context, question, {
          model: args.model!, transcoders: args.transcoders, prompt: args.prompt!, out: args.out, unpruned: args.unpruned ?? false, nodeThreshold, edgeThreshold,
        });
        break;
      }
      const started = performance.now();
      const graph = await attributionGraph(context, question, {
        scan: basename(args.model!), prompt: args.prompt!, maxNodes, nodeThreshold, edgeThreshold,
        onProgress: (done, total) => process.stderr.write(`\rexpanding neurons ${done}/${total}`),
      });
      const result = args.unpruned ? graph : applyPrune(graph, pruneGraph(graph, { nodeThreshold, edgeThreshold }));
      writeFileSync(args.out, exportGraph(result));
      console.error(`\n${result.nodes.length} nodes, ${result.links.length} links written to ${args.out} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      break;
    }
    case 'index':
      await indexCommand(args);
      break;
    case 'neuron':
      await neuronCommand(args);
      break;
    case 'explanations':
      await explanationsCommand(args);
      break;
    case 'transcoders':
      await transcodersCommand(args);
      break;
    default:
      throw new UsageError(`Unknown command "${command}".\n\n${usage}`);
  }
}

/**
 * Resolves once everything written to `stream` so far has been handed to the OS. A pipe to a
 * slower reader (`| jq .`) holds the rest in Node's buffer: exiting before this cuts the output.
 */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed || !stream.writable) resolve();
    else stream.write('', () => resolve()); // called in order, after every earlier write
  });
}

/** Exits once stdout and stderr are flushed (loaded sessions would otherwise keep the process). */
async function exit(code: number): Promise<never> {
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(code);
}

// A reader that goes away (`| head`) is not an error of ours: stop quietly.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

main(process.argv.slice(2)).then(
  () => exit(typeof process.exitCode === 'number' ? process.exitCode : 0),
  (error: unknown) => {
    const known = error instanceof ModelError || error instanceof UsageError
      || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    console.error(`error: ${(error as Error).message}`);
    if (!known && process.env.DEBUG) console.error((error as Error).stack);
    return exit(1);
  },
);
