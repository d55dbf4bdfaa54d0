/**
 * A client that stops reading (its TCP socket paused, as a stalled headset on Wi-Fi would) while
 * a long generation streams 64 KB frames: the server's queue for it stays bounded, every token
 * still arrives in order, frames are skipped rather than piled up, and the newest frame (the
 * last token's) arrives before the end. Likewise for hundreds of runs sent by a client that is
 * not reading: the server holds back only the newest run's frames, and the client ends with all
 * of them. Real socket.io over websocket, a real ONNX model (random weights shaped for large
 * frames: 2 layers × 32,768 neurons).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Socket as NetSocket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import type { Tokenizer } from '../../../shared/engine/decoder.js';
import { gpt2Spec, randomDecoder } from '../../../shared/engine/random-decoder.js';
import { ModelRunner } from '../../../shared/engine/runner.js';
import { ModelHost } from '../../../shared/service/model-host.js';
import { attachSocketServer, limits } from '../../../server/transport/socket-server.js';
import { decodeFrame } from '../../../shared/frame-codec.js';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../shared/protocol.js';

const numberTokenizer: Tokenizer = {
  encode: (text) => text.trim().split(/\s+/).map((w) => Number(w) || 1), decode: (ids) => ids.join(' '),
  tokenString: (id) => ` ${id}`, vocabSize: 256, bosId: null, eosId: null,
};

let runner: ModelRunner;
let io: ReturnType<typeof attachSocketServer>['io'];
let scheduler: ReturnType<typeof attachSocketServer>['scheduler'];
let url: string;

beforeAll(async () => {
  const decoder = randomDecoder({ ...gpt2Spec({ nLayers: 2, dModel: 64, nHeads: 4, vocabSize: 256, contextLength: 1024 }), dMlp: 32768 });
  runner = await ModelRunner.create(decoder);
  const host = new ModelHost('wide-random', { decoder, tokenizer: numberTokenizer }, runner);
  const http = createServer();
  // No per-client job cap here: the run test must show that back-pressure alone bounds the queue.
  ({ io, scheduler } = attachSocketServer(http, host, undefined, { maxPendingJobs: 10_000 }));
  // A client that is not reading cannot answer pings; on a busy machine these tests outlast
  // engine.io's 45 s ping timeout, which would end them with a disconnect instead of a verdict.
  const engine = io.engine as unknown as { opts: { pingInterval: number; pingTimeout: number } };
  engine.opts.pingInterval = 300_000;
  engine.opts.pingTimeout = 300_000;
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', () => resolve()));
  url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => io.close(() => resolve()));
  await runner.dispose();
});

describe('a client that cannot keep up', () => {
  it('gets every token and the newest frames, with a bounded queue on the server', async () => {
    const socket: Socket<ServerToClientEvents, ClientToServerEvents> = connect(url, { transports: ['websocket'], forceNew: true });
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const [serverSocket] = await io.fetchSockets();
    const conn = (io.sockets.sockets.get(serverSocket!.id)!).conn as unknown as { writeBuffer: { data?: unknown }[] };
    /** Bytes of frames waiting in the server's queue for this client (tokens are small and all kept). */
    const queuedFrameBytes = () => conn.writeBuffer.reduce((sum, packet) => sum + (packet.data instanceof ArrayBuffer || ArrayBuffer.isView(packet.data) ? (packet.data as ArrayBuffer).byteLength : 0), 0);

    // Watch the server's queue for this client and when it finishes (the client cannot tell: it is not reading).
    let mostQueued = 0;
    let serverDone = false;
    const real = io.sockets.sockets.get(serverSocket!.id)!;
    const emit = real.emit.bind(real);
    real.emit = ((event: string, ...args: unknown[]) => {
      mostQueued = Math.max(mostQueued, queuedFrameBytes());
      if (event === 'generate:done') serverDone = true;
      return emit(event as never, ...(args as never[]));
    }) as typeof real.emit;

    const tokens: { id: number; frame: boolean }[] = [];
    const lateFrames: number[] = [];
    let prompt = 0;
    socket.on('run:frame', (_, frame) => {
      const { position } = decodeFrame(new Uint8Array(frame));
      if (position < 8 && tokens.length === 0) prompt++;
      else lateFrames.push(position);
    });
    socket.on('generate:token', (_, token, __, frame) => tokens.push({ id: token.id, frame: frame !== null }));
    const finished = new Promise<string>((resolve) => socket.on('generate:done', (_, reason) => resolve(reason)));

    // Stop reading, then ask for 1000 tokens: 64 MB of frames, far beyond the kernel's buffers.
    const tcp = (socket.io.engine.transport as unknown as { ws: { _socket: NetSocket } }).ws._socket;
    tcp.pause();
    const started = socket.emitWithAck('generate:start', { prompt: '1 2 3 4 5 6 7 8', maxTokens: 1000, temperature: 0 });
    const deadline = Date.now() + 120_000;
    while (!serverDone && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(serverDone, 'the server finished generating while the client was not reading').toBe(true);
    tcp.resume();
    expect((await started).ok).toBe(true);
    expect(await finished).toBe('length');

    expect(prompt).toBe(8);
    expect(tokens).toHaveLength(1000);
    const skipped = tokens.filter((t) => !t.frame).length;
    expect(skipped, 'frames were skipped rather than queued').toBeGreaterThan(0);
    const frameBytes = 2 * 32768 + 2 * 4 * 1024 * 4 + 64; // neurons, attention rows at most, header
    expect(mostQueued, 'frames queued for this client stay bounded').toBeGreaterThan(0);
    expect(mostQueued, 'frames queued for this client stay bounded').toBeLessThanOrEqual((limits.backlogPackets + 1) * frameBytes);
    // The last token's frame was held back and sent before the end: the client ends on the newest state.
    expect(tokens[999]!.frame || lateFrames.includes(8 + 999)).toBe(true);
    socket.disconnect();
  }, 180_000);

  it('holds back the frames of runs sent while not reading: bounded queue, and every frame of the newest run at the end', async () => {
    const socket: Socket<ServerToClientEvents, ClientToServerEvents> = connect(url, { transports: ['websocket'], forceNew: true });
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const real = io.sockets.sockets.get(socket.id!)!; // socket.io 4 gives both ends the same id
    const conn = real.conn as unknown as { writeBuffer: { data?: unknown }[] };
    const queuedFrameBytes = () => conn.writeBuffer.reduce((sum, packet) => sum + (packet.data instanceof ArrayBuffer || ArrayBuffer.isView(packet.data) ? (packet.data as ArrayBuffer).byteLength : 0), 0);
    let mostQueued = 0;
    const emit = real.emit.bind(real);
    real.emit = ((event: string, ...args: unknown[]) => {
      const result = emit(event as never, ...(args as never[]));
      mostQueued = Math.max(mostQueued, queuedFrameBytes());
      return result;
    }) as typeof real.emit;

    /** Per run: position → the token id its frame names. */
    const frames = new Map<string, Map<number, number>>();
    socket.on('run:frame', (runId, frame) => {
      if (!frames.has(runId)) frames.set(runId, new Map());
      const decoded = decodeFrame(new Uint8Array(frame));
      frames.get(runId)!.set(decoded.position, decoded.tokenId);
    });

    const tcp = (socket.io.engine.transport as unknown as { ws: { _socket: NetSocket } }).ws._socket;
    tcp.pause();
    const rssBefore = process.memoryUsage().rss;
    const runs = 400;
    // 16 frames of 64 KB: 1 MB a run; each run's first token differs, so frames cannot be mixed up.
    const prompt = (k: number) => [String((k % 200) + 1), ...Array.from({ length: 15 }, (_, i) => String(i + 2))].join(' ');
    const acks = Array.from({ length: runs }, (_, k) => socket.emitWithAck('run:prompt', { prompt: prompt(k) }));
    // Wait until the server has run them all (the client cannot tell: it is not reading).
    await new Promise((resolve) => setTimeout(resolve, 500));
    const deadline = Date.now() + 150_000;
    while (scheduler.pendingJobs(real.id) > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(scheduler.pendingJobs(real.id), 'the server ran every request while the client was not reading').toBe(0);
    const rssGrowth = process.memoryUsage().rss - rssBefore;
    tcp.resume();
    const responses = await Promise.all(acks);

    const frameBytes = 2 * 32768 + 2 * 4 * 16 * 4 + 64;
    // Unbounded, 400 MB of frames would wait for this client; held back, at most the backlog plus one run.
    expect(mostQueued).toBeGreaterThan(0);
    expect(mostQueued, 'frames queued for this client stay bounded').toBeLessThanOrEqual((limits.backlogPackets + 16 + 1) * frameBytes);
    expect(rssGrowth, `RSS grew by ${(rssGrowth / 2 ** 20).toFixed(0)} MB`).toBeLessThan(150 * 2 ** 20);
    expect(responses.every((r) => r.ok)).toBe(true);
    const last = responses.at(-1)!;
    if (!last.ok) return;
    // Every frame of the newest run, each naming the token the server says it ran at that position.
    const newest = frames.get(last.value.runId) ?? new Map<number, number>();
    expect([...newest.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 16 }, (_, t) => t));
    expect(last.value.tokens[0]!.id).toBe(((runs - 1) % 200) + 1);
    last.value.tokens.forEach((token, t) => expect(newest.get(t)).toBe(token.id));
    const delivered = [...frames.values()].reduce((sum, positions) => sum + positions.size, 0);
    expect(delivered, 'frames of superseded runs were dropped, not queued').toBeLessThan((runs * 16) / 4);
    socket.disconnect();
  }, 240_000);
});
