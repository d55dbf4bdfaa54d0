/**
 * Socket handlers for neuron explanations: a neuron's details (answered from the store, no
 * model run), the corpus index's status, and building/cancelling it. A build runs as one
 * low-priority scheduler job under its own client id, one batch per step, so users' runs wait
 * for at most one batch; its progress goes to every client as 'index:progress', at most 4 per
 * second plus every change of state. Building and cancelling change what everyone sees, so
 * they need the operator role (access.ts).
 */
import type { Server } from 'socket.io';
import type { IndexStatus, NeuronRequest } from '../../shared/neuron-index.js';
import type { ClientToServerEvents, InterServerEvents, ServerToClientEvents, SocketData } from '../../shared/protocol.js';
import type { NeuronIndex } from '../neurons/service.js';
import type { ModelHost } from '../../shared/service/model-host.js';
import type { Scheduler } from '../../shared/service/scheduler.js';
import type { HandlerKit } from '../../shared/service/handlers.js';
import { checkObject, PayloadError } from '../../shared/service/validate.js';

/** The scheduler client id of index builds (socket ids never look like this). */
export const INDEX_CLIENT = 'neuron-index';
const PROGRESS_INTERVAL_MS = 250;

/** Runs `neurons`' builds through the scheduler and broadcasts its status (throttled). */
export function connectNeuronIndex(
  io: Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>, scheduler: Scheduler, neurons: NeuronIndex,
  newRunId: (kind: string) => string,
): { jobId: () => string | null } {
  let jobId: string | null = null;
  neurons.submit = (steps) => {
    const id = newRunId('index');
    jobId = id;
    scheduler.submit({
      id, clientId: INDEX_CLIENT, priority: 'low', kind: 'index', cancelled: false,
      step: async () => {
        const more = await steps.step();
        if (!more && jobId === id) jobId = null;
        return more;
      },
      onCancel: () => {},
    });
  };
  let lastSent = 0;
  let lastState: IndexStatus['state'] | null = null;
  let trailing: NodeJS.Timeout | null = null;
  const send = () => {
    if (trailing) clearTimeout(trailing);
    trailing = null;
    lastSent = performance.now();
    const status = neurons.status();
    lastState = status.state;
    io.emit('index:progress', status);
  };
  neurons.onStatus((status) => {
    if (status.state !== lastState || performance.now() - lastSent >= PROGRESS_INTERVAL_MS) send();
    else trailing ??= setTimeout(send, PROGRESS_INTERVAL_MS - (performance.now() - lastSent));
  });
  return { jobId: () => jobId };
}

export function registerNeuronHandlers({ on, scheduler, toError, requireOperator }: HandlerKit, host: ModelHost, neurons: NeuronIndex, jobId: () => string | null): void {
  const { nLayers, dMlp } = host.model.decoder.spec;
  const noPayload = (event: string, payload: unknown) => {
    if (payload !== undefined) throw new PayloadError(`${event}: takes no payload`);
  };

  on('neuron:details', true, (payload, ack) => {
    const request = checkObject<NeuronRequest>('neuron:details', payload, {
      layer: { kind: 'integer', min: 0, max: nLayers - 1 },
      index: { kind: 'integer', min: 0, max: dMlp - 1 },
    });
    neurons.detailsAsync(request.layer, request.index).then(
      (details) => ack!({ ok: true, value: details }),
      (error: unknown) => ack!({ ok: false, error: toError(error) }),
    );
  });

  on('index:status', true, (payload, ack) => {
    noPayload('index:status', payload);
    ack!({ ok: true, value: neurons.status() });
  });

  const answer = (promise: Promise<IndexStatus>, ack: Parameters<Parameters<HandlerKit['on']>[2]>[1]) => {
    promise.then((status) => ack!({ ok: true, value: status }), (error: unknown) => ack!({ ok: false, error: toError(error) }));
  };

  on('index:build', true, (payload, ack) => {
    noPayload('index:build', payload);
    requireOperator('index:build');
    answer(neurons.startBuild(), ack);
  });

  on('index:cancel', true, (payload, ack) => {
    noPayload('index:cancel', payload);
    requireOperator('index:cancel');
    const id = jobId();
    if (id) scheduler.cancel(id, INDEX_CLIENT);
    answer(neurons.cancel(), ack);
  });
}
