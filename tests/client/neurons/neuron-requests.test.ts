/**
 * The neuron view's request flow against a fake socket: a selection asks for its details once
 * per model and neuron, answers for a neuron no longer selected are kept but not shown, errors
 * and timeouts are said, and when the corpus index becomes ready the shown neuron is fetched
 * again (its older details stay on screen meanwhile); a reconnect trusts nothing cached and
 * drops answers to requests sent before it.
 */
import { describe, expect, it } from 'vitest';
import type { IndexStatus, NeuronDetails } from '../../../shared/neuron-index.js';
import type { ModelInfo } from '../../../shared/protocol.js';
import { createAppStore } from '../../../client/state/app-store.js';
import type { Backend } from '../../../client/state/backend.js';
import { setupNeuronDetails } from '../../../client/neurons/state/neuron-requests.js';
import { createNeuronStore } from '../../../client/neurons/state/neuron-store.js';

type Callback = (error: Error | null, response?: unknown) => void;

/** Records emits; a test answers them by hand. */
function fakeSocket() {
  const sent: { event: string; args: unknown[]; answer: (response: unknown) => void; fail: () => void }[] = [];
  const handlers = new Map<string, ((...args: unknown[]) => void)[]>();
  const socket = {
    connected: true,
    timeout: () => ({
      emit: (event: string, ...rest: unknown[]) => {
        const callback = rest.pop() as Callback;
        sent.push({ event, args: rest, answer: (response) => callback(null, response), fail: () => callback(new Error('operation has timed out')) });
      },
    }),
    on: (event: string, handler: (...args: unknown[]) => void) => handlers.set(event, [...(handlers.get(event) ?? []), handler]),
    off: (event: string, handler: (...args: unknown[]) => void) => handlers.set(event, (handlers.get(event) ?? []).filter((h) => h !== handler)),
    fire: (event: string, ...args: unknown[]) => (handlers.get(event) ?? []).forEach((h) => h(...args)),
  };
  return { socket, sentOf: (event: string) => sent.filter((s) => s.event === event) };
}

const model: ModelInfo = { name: 'tiny', architecture: 'gpt2', nLayers: 2, neuronsPerLayer: 8, nHeads: 2, dModel: 4, vocabSize: 10, contextLength: 16, neuronHook: 'blocks.{l}.mlp.hook_post' };

function details(layer: number, index: number, indexed: boolean): NeuronDetails {
  return {
    layer,
    index,
    hook: `blocks.${layer}.mlp.hook_post`,
    promoted: [{ token: { id: 1, text: ' a' }, value: 0.5 }],
    suppressed: [{ token: { id: 2, text: ' b' }, value: -0.5 }],
    indexed: indexed
      ? { stats: { count: 10, min: -0.1, max: 2, mean: 0.3, frequency: 0.4 }, histogram: { edges: [0, 1], counts: [10] }, topExamples: [], quantileExamples: [] }
      : null,
    explanation: null,
  };
}

const status = (state: IndexStatus['state']): IndexStatus => ({ state, corpus: 'c', done: 0, total: 100, tokensPerSecond: 0, etaSeconds: null });

function setup() {
  const app = createAppStore();
  app.setState({ model });
  const store = createNeuronStore();
  const fake = fakeSocket();
  const api = setupNeuronDetails(store, app, fake.socket as unknown as Backend);
  return { app, store, api, socket: fake.socket, sent: fake.sentOf };
}

describe('neuron details requests', () => {
  it('asks for the selected neuron and shows the answer', () => {
    const { app, store, sent } = setup();
    expect(sent('index:status')).toHaveLength(1);
    app.setState({ selection: { layer: 1, neuron: 3 } });
    expect(store.getState().status).toBe('loading');
    const [request] = sent('neuron:details');
    expect(request!.args[0]).toEqual({ layer: 1, index: 3 });
    request!.answer({ ok: true, value: details(1, 3, true) });
    expect(store.getState()).toMatchObject({ status: 'ready', neuron: { layer: 1, neuron: 3 } });
    expect(store.getState().details?.index).toBe(3);
  });

  it('keeps a late answer for a neuron no longer selected out of view, and serves it from the cache later', () => {
    const { app, store, sent } = setup();
    app.setState({ selection: { layer: 0, neuron: 1 } });
    app.setState({ selection: { layer: 0, neuron: 2 } });
    const [first, second] = sent('neuron:details');
    first!.answer({ ok: true, value: details(0, 1, true) });
    expect(store.getState()).toMatchObject({ status: 'loading', details: null, neuron: { neuron: 2 } });
    second!.answer({ ok: true, value: details(0, 2, true) });
    expect(store.getState().details?.index).toBe(2);
    app.setState({ selection: { layer: 0, neuron: 1 } });
    expect(sent('neuron:details')).toHaveLength(2); // served from the cache
    expect(store.getState()).toMatchObject({ status: 'ready', details: { index: 1 } });
  });

  it('going back to a neuron whose answer is still on its way shows loading, not the other neuron', () => {
    const { app, store, sent } = setup();
    app.setState({ selection: { layer: 0, neuron: 1 } });
    app.setState({ selection: { layer: 0, neuron: 2 } });
    sent('neuron:details')[1]!.answer({ ok: true, value: details(0, 2, true) });
    app.setState({ selection: { layer: 0, neuron: 1 } });
    expect(store.getState()).toMatchObject({ status: 'loading', details: null });
    expect(sent('neuron:details')).toHaveLength(2); // the first request's answer is awaited
    sent('neuron:details')[0]!.answer({ ok: true, value: details(0, 1, true) });
    expect(store.getState()).toMatchObject({ status: 'ready', details: { index: 1 } });
  });

  it('says when the server refuses', () => {
    const { app, store, sent } = setup();
    app.setState({ selection: { layer: 0, neuron: 5 } });
    sent('neuron:details')[0]!.answer({ ok: false, error: { code: 'bad_request', message: 'index out of range' } });
    expect(store.getState()).toMatchObject({ status: 'error', details: null, error: 'bad_request: index out of range' });
  });

  it('reports a timeout and asks again on retry', () => {
    const { app, store, api, sent } = setup();
    app.setState({ selection: { layer: 0, neuron: 5 } });
    sent('neuron:details')[0]!.fail();
    expect(store.getState().status).toBe('error');
    expect(store.getState().error).toBe('no answer from the server within 20 s');
    api.retry();
    expect(sent('neuron:details')).toHaveLength(2);
    expect(store.getState().status).toBe('loading');
    sent('neuron:details')[1]!.answer({ ok: true, value: details(0, 5, false) });
    expect(store.getState().status).toBe('ready');
  });

  it('refuses an answer about another neuron', () => {
    const { app, store, sent } = setup();
    app.setState({ selection: { layer: 1, neuron: 1 } });
    sent('neuron:details')[0]!.answer({ ok: true, value: details(1, 2, true) });
    expect(store.getState().status).toBe('error');
    expect(store.getState().error).toBe('the server answered for blocks.1 neuron 2');
  });

  it('fetches the shown neuron again when the index becomes ready, keeping its logit effects on screen', () => {
    const { app, store, socket, sent } = setup();
    sent('index:status')[0]!.answer({ ok: true, value: status('building') });
    app.setState({ selection: { layer: 0, neuron: 4 } });
    sent('neuron:details')[0]!.answer({ ok: true, value: details(0, 4, false) });
    expect(store.getState().details?.indexed).toBeNull();
    socket.fire('index:progress', { ...status('building'), done: 50 });
    expect(store.getState().index?.done).toBe(50);
    expect(sent('neuron:details')).toHaveLength(1);
    socket.fire('index:progress', { ...status('ready'), done: 100 });
    expect(sent('neuron:details')).toHaveLength(2);
    expect(store.getState()).toMatchObject({ status: 'ready', details: { indexed: null } });
    sent('neuron:details')[1]!.answer({ ok: true, value: details(0, 4, true) });
    expect(store.getState().details?.indexed?.stats.max).toBe(2);
  });

  it('builds the index on request and says why it could not', () => {
    const { store, api, sent } = setup();
    void api.buildIndex();
    sent('index:build')[0]!.answer({ ok: true, value: status('building') });
    expect(store.getState().index?.state).toBe('building');
    void api.cancelIndex();
    sent('index:cancel')[0]!.answer({ ok: false, error: { code: 'busy', message: 'not now' } });
    expect(store.getState().indexError).toBe('busy: not now');
  });

  it('forgets a model’s neurons when another model loads', () => {
    const { app, store, sent } = setup();
    app.setState({ selection: { layer: 0, neuron: 1 } });
    sent('neuron:details')[0]!.answer({ ok: true, value: details(0, 1, true) });
    app.setState({ model: { ...model, name: 'other' }, selection: { layer: 0, neuron: 1 } });
    expect(sent('neuron:details')).toHaveLength(2);
    expect(sent('index:status')).toHaveLength(2);
    expect(store.getState()).toMatchObject({ status: 'loading', index: null });
  });

  it('after a reconnect trusts nothing cached and drops answers to requests sent before it', () => {
    const { app, store, socket, sent } = setup();
    app.setState({ selection: { layer: 0, neuron: 1 } });
    sent('neuron:details')[0]!.answer({ ok: true, value: details(0, 1, true) });
    app.setState({ selection: { layer: 0, neuron: 2 } }); // its answer will never come: the server restarts
    socket.fire('connect');
    expect(sent('index:status')).toHaveLength(2);
    expect(sent('neuron:details')).toHaveLength(3); // neuron 2 asked again at once
    expect(store.getState()).toMatchObject({ status: 'loading', neuron: { neuron: 2 } });
    sent('neuron:details')[1]!.answer({ ok: true, value: details(0, 2, true) }); // the old request's answer
    expect(store.getState().status).toBe('loading');
    sent('neuron:details')[2]!.answer({ ok: true, value: details(0, 2, false) });
    expect(store.getState()).toMatchObject({ status: 'ready', details: { index: 2, indexed: null } });
    app.setState({ selection: { layer: 0, neuron: 1 } });
    expect(sent('neuron:details')).toHaveLength(4); // neuron 1's cached details were from before
  });

  it('keeps the shown details through a reconnect while it asks again, quietly', () => {
    const { app, store, socket, sent } = setup();
    app.setState({ selection: { layer: 1, neuron: 7 } });
    sent('neuron:details')[0]!.answer({ ok: true, value: details(1, 7, true) });
    socket.fire('connect');
    expect(sent('neuron:details')).toHaveLength(2);
    expect(store.getState()).toMatchObject({ status: 'ready', details: { index: 7 } });
  });

  it('an index request timing out after a reconnect does not overwrite what the server said since', () => {
    const { store, api, socket, sent } = setup();
    void api.buildIndex();
    socket.fire('connect');
    sent('index:status')[1]!.answer({ ok: true, value: status('ready') });
    sent('index:build')[0]!.fail(); // the request lost with the old connection
    expect(store.getState()).toMatchObject({ index: { state: 'ready' }, indexError: null });
  });

  it('a failed quiet refresh keeps the details on screen and says it failed', () => {
    const { app, store, socket, sent } = setup();
    sent('index:status')[0]!.answer({ ok: true, value: status('building') });
    app.setState({ selection: { layer: 0, neuron: 4 } });
    sent('neuron:details')[0]!.answer({ ok: true, value: details(0, 4, false) });
    socket.fire('index:progress', status('ready'));
    sent('neuron:details')[1]!.fail();
    expect(store.getState()).toMatchObject({ status: 'ready', details: { index: 4 }, error: 'no answer from the server within 20 s' });
  });

  it('never shows a newly selected neuron with the previous one\'s details', () => {
    const { app, store, sent } = setup();
    app.setState({ selection: { layer: 0, neuron: 1 } });
    sent('neuron:details')[0]!.answer({ ok: true, value: details(0, 1, true) });
    const seen: string[] = [];
    store.subscribe((state) => seen.push(`${state.neuron?.neuron}:${state.status}:${state.details?.index ?? '-'}`));
    app.setState({ selection: { layer: 0, neuron: 2 } });
    sent('neuron:details')[1]!.answer({ ok: true, value: details(0, 2, true) });
    app.setState({ selection: { layer: 0, neuron: 1 } }); // from the cache
    expect(seen).toEqual(['2:loading:-', '2:ready:2', '1:ready:1']);
  });

  it('stops listening when disposed', () => {
    const { app, api, socket, sent } = setup();
    api.dispose();
    socket.fire('connect');
    app.setState({ selection: { layer: 0, neuron: 1 } });
    expect(sent('index:status')).toHaveLength(1);
    expect(sent('neuron:details')).toHaveLength(0);
  });

  it('clears the view when the selection is cleared', () => {
    const { app, store, sent } = setup();
    app.setState({ selection: { layer: 0, neuron: 1 } });
    sent('neuron:details')[0]!.answer({ ok: true, value: details(0, 1, true) });
    app.setState({ selection: null });
    expect(store.getState()).toMatchObject({ neuron: null, status: 'idle', details: null });
  });
});
