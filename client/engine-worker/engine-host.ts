/**
 * The in-browser engine serving one model on the worker's PortSocket: the same handlers as the
 * server (shared/service/handlers.ts and analysis-handlers.ts) behind the same fair scheduler,
 * so Run, Generate, Explain and Trace behave as they do over socket.io. Neuron and feature details
 * and the corpus index's status come from the prebuilt index when the app ships one (neuron-index.ts);
 * what only the server has (building the index, presentation rooms) is answered in words.
 */
import type { LoadedModel } from '../../shared/engine/decoder.js';
import { ModelRunner } from '../../shared/engine/runner.js';
import { AnalysisContext } from '../../shared/analysis/context.js';
import { registerHandlers, type ServiceSocket } from '../../shared/service/handlers.js';
import { registerAnalysisHandlers } from '../../shared/service/analysis-handlers.js';
import { NO_TRANSCODERS_IN_BROWSER, registerFeatureHandlers } from '../../shared/service/feature-handlers.js';
import type { HostedTranscoders } from '../../shared/transcoders/live.js';
import { ModelHost } from '../../shared/service/model-host.js';
import { Scheduler } from '../../shared/service/scheduler.js';
import type { WebRuntime } from './web-runtime.js';
import { BrowserNeuronIndex, INDEX_BUILD_ELSEWHERE, registerNeuronIndexHandlers, staticFeatureDetails } from './neuron-index.js';

/** Events only a server answers, with the reason the page shows. */
const serverOnly: Record<string, string> = {
  'room:open': 'presentation rooms need the server (npm start): the in-browser engine serves this page only',
  'index:build': INDEX_BUILD_ELSEWHERE,
  'index:cancel': INDEX_BUILD_ELSEWHERE,
};

export interface EngineSocket extends ServiceSocket {
  on(event: string, handler: (...args: any[]) => unknown): unknown;
}

/** Compiles the model's forward graph: the host the handlers serve. */
export async function hostModel(
  name: string, model: LoadedModel, transcoders: HostedTranscoders | null, runtime: WebRuntime, onNotice: (message: string) => void,
  notices: () => readonly string[] = () => [],
): Promise<ModelHost> {
  const runner = await ModelRunner.create(model.decoder, { device: runtime.device, onNotice });
  const host = new ModelHost(name, model, runner, transcoders);
  host.runtime = {
    describe: () => `in this browser: ${runtime.describe()}`,
    // The runtime's own (WebGPU fallback, one thread) and the start's, each once.
    get notice() {
      const all = [...new Set([runtime.notice, ...notices()].filter((n): n is string => !!n))];
      return all.length > 0 ? all.join('; ') : null;
    },
  };
  return host;
}

/** Registers every handler of `host` on `socket`; `index`: the prebuilt corpus index, opening. */
export function registerEngineHandlers(socket: EngineSocket, host: ModelHost, index: Promise<BrowserNeuronIndex>): void {
  const { model, runner } = host;
  const scheduler = new Scheduler({});
  const kit = registerHandlers(socket, host, scheduler, 'operator');
  registerAnalysisHandlers(kit, host, new AnalysisContext(model, runner));
  registerFeatureHandlers(kit, host, { noTranscoders: NO_TRANSCODERS_IN_BROWSER, details: staticFeatureDetails(index) });
  registerNeuronIndexHandlers(kit, model, index);
  for (const [event, reason] of Object.entries(serverOnly)) {
    kit.on(event, false, (_payload, ack) => {
      const error = { code: 'bad_request' as const, message: `${event}: ${reason}` };
      if (ack) ack({ ok: false, error });
      else socket.emit('error', error);
    });
  }
  socket.on('disconnect', () => scheduler.removeClient(socket.id));
}
