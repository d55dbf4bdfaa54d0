/**
 * The in-browser engine serving one model on the worker's PortSocket: the same handlers as the
 * server (shared/service/handlers.ts and analysis-handlers.ts) behind the same fair scheduler,
 * so Run, Generate, Explain and Trace behave as they do over socket.io. A neuron's details are its
 * logit effects from the weights (as the server's before its index exists), with no corpus data.
 * What only the server has (the corpus index, presentation rooms) is answered in words.
 */
import { hookName } from '../../shared/engine/hooks.js';
import type { NeuronDetails, NeuronRequest } from '../../shared/neuron-index.js';
import { logitEffectsOf } from '../../shared/neuron-logit-effects.js';
import { checkObject } from '../../shared/service/validate.js';
import type { LoadedModel } from '../../shared/engine/decoder.js';
import { ModelRunner } from '../../shared/engine/runner.js';
import { AnalysisContext } from '../../shared/analysis/context.js';
import { registerHandlers, type ServiceSocket } from '../../shared/service/handlers.js';
import { registerAnalysisHandlers } from '../../shared/service/analysis-handlers.js';
import { ModelHost } from '../../shared/service/model-host.js';
import { Scheduler } from '../../shared/service/scheduler.js';
import type { IndexStatus } from '../../shared/neuron-index.js';
import type { WebRuntime } from './web-runtime.js';

/** What the neuron panel hears about the corpus index here. */
export const NO_INDEX: IndexStatus = {
  state: 'absent', corpus: '', done: 0, total: 0, tokensPerSecond: 0, etaSeconds: null,
  message: 'the corpus index is built by npm start; the in-browser engine has none',
};

/** Events only a server answers, with the reason the page shows. */
const serverOnly: Record<string, string> = {
  'room:open': 'presentation rooms need the server (npm start): the in-browser engine serves this page only',
  'index:build': 'the corpus index is built by npm start; the in-browser engine has none',
  'index:cancel': 'the corpus index is built by npm start; the in-browser engine has none',
};

export interface EngineSocket extends ServiceSocket {
  on(event: string, handler: (...args: any[]) => unknown): unknown;
}

/** Compiles the model's graphs and registers every handler; resolves once it can answer. */
export async function serveModel(socket: EngineSocket, name: string, model: LoadedModel, runtime: WebRuntime, onNotice: (message: string) => void): Promise<ModelHost> {
  const runner = await ModelRunner.create(model.decoder, { device: runtime.device, onNotice });
  const host = new ModelHost(name, model, runner, null);
  host.runtime = { describe: () => `in this browser: ${runtime.describe()}`, get notice() { return runtime.notice; } };
  const scheduler = new Scheduler({});
  const kit = registerHandlers(socket, host, scheduler, 'operator');
  registerAnalysisHandlers(kit, host, new AnalysisContext(model, runner));
  kit.on('neuron:details', true, (payload, ack) => {
    const { nLayers, dMlp } = model.decoder.spec;
    const { layer, index } = checkObject<NeuronRequest>('neuron:details', payload, {
      layer: { kind: 'integer', min: 0, max: nLayers - 1 },
      index: { kind: 'integer', min: 0, max: dMlp - 1 },
    });
    const effects = logitEffectsOf(model.decoder, model.tokenizer.vocabSize, layer, index);
    const named = (list: { token: number; value: number }[]) => list.map((e) => ({ token: { id: e.token, text: model.tokenizer.tokenString(e.token) }, value: e.value }));
    const details: NeuronDetails = { layer, index, hook: hookName.mlpPost(layer), promoted: named(effects.promoted), suppressed: named(effects.suppressed), indexed: null, explanation: null };
    ack!({ ok: true, value: details });
  });
  socket.on('index:status', (ack: (response: unknown) => void) => ack({ ok: true, value: NO_INDEX }));
  for (const [event, reason] of Object.entries(serverOnly)) {
    kit.on(event, false, (_payload, ack) => {
      const error = { code: 'bad_request' as const, message: `${event}: ${reason}` };
      if (ack) ack({ ok: false, error });
      else socket.emit('error', error);
    });
  }
  socket.on('disconnect', () => scheduler.removeClient(socket.id));
  return host;
}
