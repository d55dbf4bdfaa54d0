/**
 * The page ↔ engine-worker transport, both real sides over Node's real MessageChannel: the
 * page's WorkerBackend (client/state/worker-backend.ts) and the worker's PortSocket
 * (client/engine-worker/port-socket.ts).
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { WorkerBackend } from '../../client/state/worker-backend.js';
import { PortSocket } from '../../client/engine-worker/port-socket.js';
import type { MessageEndpoint } from '../../client/engine-worker/port-messages.js';
import type { ErrorEvent } from '../../shared/protocol.js';

type Reply = { ok: true; value: unknown } | { ok: false; error: ErrorEvent };

const open: MessagePort[] = [];
afterEach(() => {
  for (const port of open.splice(0)) port.close();
});

function pair(): { page: WorkerBackend; worker: PortSocket; pagePort: MessagePort } {
  const channel = new MessageChannel();
  open.push(channel.port1, channel.port2);
  const page = new WorkerBackend(channel.port1 as unknown as MessageEndpoint, { terminate: () => channel.port1.close() });
  const worker = new PortSocket(channel.port2 as unknown as MessageEndpoint, 'engine-1');
  return { page, worker, pagePort: channel.port1 };
}

const next = <T>(register: (resolve: (value: T) => void) => void, ms = 2000) => new Promise<T>((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error('nothing arrived')), ms);
  register((value) => { clearTimeout(timer); resolve(value); });
});

describe('worker transport', () => {
  it("connects on the engine's hello and answers an emit's acknowledgement", async () => {
    const { page, worker } = pair();
    worker.on('model:info', (ack: (r: Reply) => void) => ack({ ok: true, value: { name: 'tiny', nLayers: 2 } }));
    const connected = next<void>((resolve) => page.on('connect', resolve));
    expect(page.connected).toBe(false);
    worker.open();
    await connected;
    expect(page.connected).toBe(true);
    expect(page.id).toBe('engine-1');
    const reply = await next<Reply>((resolve) => page.emit('model:info', resolve as never));
    expect(reply).toEqual({ ok: true, value: { name: 'tiny', nLayers: 2 } });
  });

  it('holds emits sent before open() and delivers them after, with their payloads', async () => {
    const { page, worker } = pair();
    const seen: unknown[] = [];
    const answered = next<Reply>((resolve) => page.emit('tokenize', 'the cat', resolve as never));
    await new Promise((resolve) => setTimeout(resolve, 50));
    worker.on('tokenize', (text: string, ack: (r: Reply) => void) => {
      seen.push(text);
      ack({ ok: true, value: text.split(' ') });
    });
    expect(seen).toEqual([]);
    worker.open();
    expect(await answered).toEqual({ ok: true, value: ['the', 'cat'] });
    expect(seen).toEqual(['the cat']);
  });

  it('transfers ArrayBuffers both ways instead of copying them', async () => {
    const { page, worker } = pair();
    worker.open();
    const frame = new Float32Array([1.5, -2, 3.25]).buffer;
    const arrived = next<[string, ArrayBuffer]>((resolve) => page.on('run:frame', (runId, buffer) => resolve([runId, buffer])));
    worker.emit('run:frame', 'run-7', frame);
    expect(frame.byteLength).toBe(0); // detached: it moved to the page
    const [runId, buffer] = await arrived;
    expect(runId).toBe('run-7');
    expect([...new Float32Array(buffer)]).toEqual([1.5, -2, 3.25]);

    // Page → worker: a buffer inside the payload object moves too.
    const upload = new Uint8Array([9, 8, 7]).buffer;
    const received = next<ArrayBuffer>((resolve) => worker.on('feature:details', (request: { bytes: ArrayBuffer }, ack: (r: Reply) => void) => {
      resolve(request.bytes);
      ack({ ok: true, value: null });
    }));
    page.emit('feature:details', { layer: 0, index: 1, bytes: upload } as never, () => {});
    expect(upload.byteLength).toBe(0);
    expect([...new Uint8Array(await received)]).toEqual([9, 8, 7]);
  });

  it('streams events with several arguments, heard by catch-all listeners first', async () => {
    const { page, worker } = pair();
    worker.open();
    const order: string[] = [];
    page.prependAny((event: string) => order.push(`any:${event}`));
    const token = next<unknown[]>((resolve) => page.on('generate:token', (...args) => { order.push('own'); resolve(args); }));
    worker.emit('generate:token', 'gen-1', { id: 5, text: ' cat' } as never, [{ id: 5, text: ' cat', p: 0.5 }] as never, null, []);
    expect(await token).toEqual(['gen-1', { id: 5, text: ' cat' }, [{ id: 5, text: ' cat', p: 0.5 }], null, []]);
    expect(order).toEqual(['any:generate:token', 'own']);
  });

  it('answers an event the engine does not know with an error in words (ack, or an error event)', async () => {
    const { page, worker } = pair();
    worker.open();
    const reply = await next<Reply>((resolve) => page.emit('room:open', resolve as never));
    expect(reply.ok).toBe(false);
    expect(!reply.ok && reply.error).toMatchObject({ code: 'bad_request' });
    expect(!reply.ok && reply.error.message).toBe('room:open: the in-browser engine does not know this event');
    const error = next<ErrorEvent>((resolve) => page.on('error', resolve));
    page.emit('room:replay');
    expect((await error).message).toBe('room:replay: the in-browser engine does not know this event');
  });

  it('keeps working after a handler throws or rejects: the request is answered with the reason', async () => {
    const { page, worker } = pair();
    let calls = 0;
    worker.on('vocab:lookup', (ids: number[], ack: (r: Reply) => void) => {
      calls++;
      if (ids.length === 0) throw new Error('no ids given');
      ack({ ok: true, value: ids.map((id) => `t${id}`) });
    });
    worker.on('tokenize', async (_text: string) => { throw new Error('tokenizer not loaded'); });
    worker.open();
    const thrown = await next<Reply>((resolve) => page.emit('vocab:lookup', [], resolve as never));
    expect(thrown).toEqual({ ok: false, error: { code: 'internal', message: 'vocab:lookup: no ids given' } });
    const rejected = await next<Reply>((resolve) => page.emit('tokenize', 'x', resolve as never));
    expect(rejected).toEqual({ ok: false, error: { code: 'internal', message: 'tokenize: tokenizer not loaded' } });
    const fine = await next<Reply>((resolve) => page.emit('vocab:lookup', [1, 2], resolve as never));
    expect(fine).toEqual({ ok: true, value: ['t1', 't2'] });
    expect(calls).toBe(2);
  });

  it("does not deliver the page's emits named like socket.io's own events to their handlers", async () => {
    const { page, worker } = pair();
    let disconnected = false;
    worker.on('disconnect', () => { disconnected = true; });
    worker.open();
    const error = next<ErrorEvent>((resolve) => page.on('error', resolve));
    (page.emit as (...a: unknown[]) => void)('disconnect');
    expect((await error).message).toMatch(/does not know/);
    expect(disconnected).toBe(false);
  });

  it('gives a timed emit an Error when no answer comes, and ignores the late answer', async () => {
    const { page, worker } = pair();
    let answerLate: ((r: Reply) => void) | null = null;
    worker.on('neuron:details', (_request: unknown, ack: (r: Reply) => void) => { answerLate = ack; });
    worker.open();
    const calls: unknown[][] = [];
    const first = next<unknown[]>((resolve) => page.timeout(50).emit('neuron:details', { layer: 0, index: 1 }, (error, response) => {
      calls.push([error, response]);
      resolve([error, response]);
    }));
    const [error] = await first;
    expect((error as Error).message).toBe('operation has timed out');
    answerLate!({ ok: true, value: {} });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(calls).toHaveLength(1);
    // A timed emit answered in time gets (null, response).
    worker.off('neuron:details');
    worker.on('neuron:details', (_request: unknown, ack: (r: Reply) => void) => ack({ ok: true, value: { layer: 0 } }));
    const [late, response] = await next<unknown[]>((resolve) => page.timeout(1000).emit('neuron:details', { layer: 0, index: 1 }, (e, r) => resolve([e, r])));
    expect(late).toBeNull();
    expect(response).toEqual({ ok: true, value: { layer: 0 } });
  });

  it('answers pending requests with the reason when the engine fails, and says disconnect', async () => {
    const { page, worker } = pair();
    worker.on('model:info', () => { /* never answers */ });
    worker.open();
    await next<void>((resolve) => page.on('connect', resolve));
    const reasons: string[] = [];
    page.on('disconnect', (reason) => reasons.push(reason));
    const reply = next<Reply>((resolve) => page.emit('model:info', resolve as never));
    await new Promise((resolve) => setTimeout(resolve, 20));
    page.fail('the in-browser engine ran out of memory');
    expect(await reply).toEqual({ ok: false, error: { code: 'internal', message: 'the in-browser engine ran out of memory' } });
    expect(reasons).toEqual(['transport error']);
    expect(page.connected).toBe(false);
    const after = await next<Reply>((resolve) => page.emit('model:info', resolve as never));
    expect(after).toEqual({ ok: false, error: { code: 'internal', message: 'model:info: the in-browser engine is not running' } });
  });

  it('reports a worker that never started as connect_error in words', async () => {
    const { page } = pair();
    const error = next<Error & { data?: { code?: string } }>((resolve) => page.on('connect_error', resolve));
    page.fail('the in-browser engine failed to start (its script could not be loaded or run)');
    const e = await error;
    expect(e.message).toBe('the in-browser engine failed to start (its script could not be loaded or run)');
    expect(e.data?.code).toBe('engine_failed');
  });

  it('behaves like the server where its handlers look (socket.io members)', async () => {
    const { page, worker } = pair();
    expect(worker.disconnected).toBe(true);
    worker.open();
    expect(worker.connected && !worker.disconnected).toBe(true);
    expect(worker.conn.writeBuffer.length).toBe(0);
    expect(worker.conn.on('drain', () => {})).toBe(worker.conn);
    worker.data.features = true;
    expect(worker.data).toEqual({ features: true });
    let reason = '';
    worker.on('disconnect', (r: string) => { reason = r; });
    worker.disconnect();
    expect(reason).toBe('server namespace disconnect');
    expect(worker.disconnected).toBe(true);
    page.close();
    expect(page.active).toBe(false);
  });
});

