/**
 * Replacing the page's engine at run time (a dropped model): createConnection over a real
 * WorkerBackend ↔ PortSocket pair (Node's MessageChannel), then connection.replaceBackend with a
 * second pair. The old engine is closed (its pending request answered in words, its 'disconnect'
 * not heard by the page), the run and model are forgotten, model:info is asked of the new engine,
 * and listeners registered on connection.backend before the swap hear the new engine.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { WorkerBackend } from '../../client/state/worker-backend.js';
import { PortSocket } from '../../client/engine-worker/port-socket.js';
import type { MessageEndpoint } from '../../client/engine-worker/port-messages.js';
import { createConnection } from '../../client/state/connection.js';
import { createAppStore } from '../../client/state/app-store.js';
import { ActivationStore } from '../../client/state/activation-store.js';
import type { ErrorEvent, ModelInfo } from '../../shared/protocol.js';

type Reply = { ok: true; value: unknown } | { ok: false; error: ErrorEvent };

const open: MessagePort[] = [];
afterEach(() => {
  for (const port of open.splice(0)) port.close();
});

function info(name: string, nLayers: number): ModelInfo {
  return { name, architecture: 'GPT2LMHeadModel', nLayers, neuronsPerLayer: 8, nHeads: 2, dModel: 4, vocabSize: 16, contextLength: 8, neuronHook: 'blocks.{l}.mlp.hook_post' };
}

/** An engine on one side of a channel answering model:info with `model`; the page's backend on the other. */
function engine(model: ModelInfo) {
  const channel = new MessageChannel();
  open.push(channel.port1, channel.port2);
  let terminated = false;
  const page = new WorkerBackend(channel.port1 as unknown as MessageEndpoint, { terminate: () => { terminated = true; channel.port1.close(); } });
  const worker = new PortSocket(channel.port2 as unknown as MessageEndpoint, `engine-${model.name}`);
  const asked: string[] = [];
  worker.on('model:info', (ack: (r: Reply) => void) => { asked.push('model:info'); ack({ ok: true, value: model }); });
  return { page, worker, asked, terminated: () => terminated };
}

const until = async (check: () => boolean, ms = 2000) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

describe('connection.replaceBackend', () => {
  it('closes the old engine, forgets the run and model, and asks the new engine for its model', async () => {
    const app = createAppStore();
    const first = engine(info('bundled', 2));
    const connection = createConnection(app, new ActivationStore(), first.page);
    first.worker.open();
    await until(() => app.getState().model?.name === 'bundled');

    // A service's listener, registered on the page's backend before the swap.
    const errors: string[] = [];
    connection.backend.on('error', (error) => errors.push(error.message));
    // A request the old engine never answers: it is answered in words when the engine goes.
    first.worker.on('tokenize', () => {});
    const pending = new Promise<Reply>((resolve) => connection.backend.emit('tokenize', 'the cat', resolve as never));
    app.setState({ tokens: [{ id: 1, text: 'the' }], framesReady: 1, runId: 'r1' });

    const second = engine(info('dropped', 3));
    expect(connection.replaceBackend).toBeTypeOf('function');
    connection.replaceBackend!(second.page);
    expect(first.terminated()).toBe(true);
    expect(await pending).toEqual({ ok: false, error: { code: 'internal', message: 'the in-browser engine was closed' } });
    expect(app.getState()).toMatchObject({ model: null, serverState: 'loading', connection: 'connecting', tokens: [], framesReady: 0, runId: null, error: null });

    second.worker.open();
    await until(() => app.getState().model?.name === 'dropped');
    expect(app.getState()).toMatchObject({ connection: 'connected', serverState: 'ready' });
    expect(second.asked).toEqual(['model:info']);
    // The connection's state was not touched by the old engine's going (no 'disconnect' heard).
    expect(app.getState().error).toBeNull();

    // The service's listener now hears the new engine; emits go to it.
    second.worker.emit('error', { code: 'internal', message: 'from the dropped engine' });
    await until(() => errors.length > 0);
    expect(errors).toEqual(['from the dropped engine']);
    const reply = await new Promise<Reply>((resolve) => connection.backend.emit('model:info', resolve as never));
    expect(reply).toMatchObject({ ok: true, value: { name: 'dropped' } });
  });
});
