/**
 * The CLI's `transcoders` command (server/cli.ts dispatches to it): loads a transcoder set for
 * the model (`--transcoders DIR`), runs a prompt, and prints per-layer FVU and L0 as JSON.
 * Bad input fails with one clear line, as the other commands do.
 */
import { ModelError } from '../../shared/engine/decoder.js';
import { loadModel } from '../engine/load.js';
import { devices, ModelRunner, type Device } from '../../shared/engine/runner.js';
import { UsageError } from '../cli-neurons.js';
import { TranscoderRunner } from '../../shared/transcoders/forward.js';
import { loadTranscoderSet } from './load.js';
import { measureTranscoders } from './measure.js';

export interface TranscoderArgs {
  model?: string;
  tokenizer?: string;
  transcoders?: string;
  prompt?: string;
  tokens?: string;
  device?: string;
}

export async function transcodersCommand(args: TranscoderArgs): Promise<void> {
  if (!args.model) throw new UsageError('--model PATH is required.');
  if (!args.transcoders) throw new UsageError('--transcoders DIR is required (a circuit-tracer transcoder set).');
  const device = (args.device ?? 'cpu') as Device;
  if (!devices.includes(device)) throw new UsageError(`--device must be one of ${devices.join(', ')}, got "${args.device}".`);
  const model = await loadModel(args.model, { tokenizerPath: args.tokenizer });
  const set = loadTranscoderSet(args.transcoders, model.decoder.spec);
  let tokens: number[];
  if (args.tokens !== undefined) {
    tokens = args.tokens.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map(Number);
    const bad = tokens.find((id) => !Number.isInteger(id) || id < 0 || id >= model.decoder.spec.vocabSize);
    if (tokens.length === 0 || bad !== undefined) throw new UsageError(`--tokens must be comma-separated token ids (0..${model.decoder.spec.vocabSize - 1}).`);
  } else if (args.prompt !== undefined) {
    tokens = model.tokenizer.encode(args.prompt);
  } else {
    throw new UsageError('Give --prompt TEXT or --tokens 1,2,3.');
  }
  if (tokens.length === 0) throw new UsageError('The prompt encodes to no tokens; give a non-empty --prompt.');
  if (tokens.length > model.decoder.spec.contextLength) throw new ModelError(`The prompt is ${tokens.length} tokens, longer than the model's context window of ${model.decoder.spec.contextLength}.`);
  const runner = await ModelRunner.create(model.decoder, { device, onNotice: (m) => console.error(m) });
  const transcoders = await TranscoderRunner.create(set);
  try {
    const layers = await measureTranscoders(model.decoder, runner, transcoders, tokens);
    process.stdout.write(`${JSON.stringify({
      tokens, transcoders: set.source, modelName: set.modelName, activation: set.activation, inputHook: set.inputHook, layers,
    })}\n`);
  } finally {
    await transcoders.dispose();
    await runner.dispose();
  }
}
