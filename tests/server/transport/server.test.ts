/**
 * The live path through the real server: socket.io over websocket, real model, binary frames
 * decoded and compared neuron by neuron with the engine's own hooks; streaming generation;
 * malformed payloads answered with errors while other clients are served; fair queueing.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import { startServer } from '../../../server/main.js';
import { hookName } from '../../../shared/engine/hooks.js';
import { decodeFrame } from '../../../shared/frame-codec.js';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../shared/protocol.js';
import { importGraph } from '../../../shared/graph/io.js';
import { float32View } from '../../../shared/binary.js';

const bundled = fileURLToPath(new URL('../../../assets/models/brown-gpt2/', import.meta.url));
const fixtures = fileURLToPath(new URL('../../../../shared/fixtures/stories260K/', import.meta.url));
// The bundled model when it is there (it always is on a clean checkout), else stories260K.
const modelOptions = existsSync(`${bundled}model.safetensors`)
  ? { model: bundled }
  : { model: `${fixtures}stories260K.bin`, tokenizer: `${fixtures}tok512.bin` };

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;
let server: Awaited<ReturnType<typeof startServer>>;
const clients: Client[] = [];

async function client(): Promise<Client> {
  const socket: Client = connect(server.url, { transports: ['websocket'], forceNew: true });
  clients.push(socket);
  await new Promise<void>((resolve, reject) => { socket.once('connect', () => resolve()); socket.once('connect_error', reject); });
  return socket;
}

beforeAll(async () => {
  server = await startServer({ ...modelOptions, port: 0, host: '127.0.0.1', device: 'cpu', https: false, serveClient: false, index: false, log: () => {} });
});

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await server?.close();
});

describe('socket.io server', () => {
  it('streams one frame per prompt position that matches the engine\'s hook_post within the quantisation step', async () => {
    const socket = await client();
    const frames: ArrayBuffer[] = [];
    socket.on('run:frame', (_runId, frame) => frames.push(frame));
    const prompt = 'The little girl went to the park and saw';
    const response = await socket.emitWithAck('run:prompt', { prompt, topK: 5 });
    expect(response.ok).toBe(true);
    if (!response.ok) return;
    const { tokens, predictions } = response.value;
    expect(predictions).toHaveLength(5);
    expect(predictions[0]!.prob).toBeGreaterThanOrEqual(predictions[4]!.prob);
    expect(frames).toHaveLength(tokens.length);

    const { host } = server;
    const spec = host.model.decoder.spec;
    const ids = tokens.map((t) => t.id);
    const { cache } = await host.runner.run([ids], { hooks: host.frameHooks });
    frames.forEach((buffer, t) => {
      const frame = decodeFrame(buffer);
      expect(frame.position).toBe(t);
      expect(frame.tokenId).toBe(ids[t]);
      expect(frame.nLayers).toBe(spec.nLayers);
      expect(frame.neuronsPerLayer).toBe(spec.dMlp);
      for (let l = 0; l < spec.nLayers; l++) {
        const post = cache[hookName.mlpPost(l)]!.data;
        const scale = frame.scales[l]!;
        for (let i = 0; i < spec.dMlp; i++) {
          const decoded = frame.neurons[l * spec.dMlp + i]! * scale;
          expect(Math.abs(decoded - post[t * spec.dMlp + i]!)).toBeLessThanOrEqual(scale / 2 + 1e-6);
        }
      }
      expect(frame.attention).toHaveLength(spec.nLayers * spec.nHeads * (t + 1));
    });
  });

  it('generates 10 tokens as 10 (token, frame) pairs in order', async () => {
    const socket = await client();
    const received: { id: number; position: number }[] = [];
    const done = new Promise<string>((resolve) => socket.on('generate:done', (_id, reason) => resolve(reason)));
    socket.on('generate:token', (_runId, token, predictions, frame) => {
      expect(predictions.length).toBeGreaterThan(0);
      const decoded = decodeFrame(frame!);
      expect(decoded.tokenId).toBe(token.id);
      received.push({ id: token.id, position: decoded.position });
    });
    const response = await socket.emitWithAck('generate:start', { prompt: 'Once upon a time', maxTokens: 10, temperature: 0 });
    expect(response.ok).toBe(true);
    if (!response.ok) return;
    const eos = server.host.model.tokenizer.eosId;
    const reason = await done;
    const promptLength = response.value.tokens.length;
    received.forEach((r, k) => expect(r.position).toBe(promptLength + k));
    if (reason === 'length') expect(received).toHaveLength(10);
    else expect(received.length < 10 && reason === 'eos' && eos !== null).toBe(true);
  });

  it('answers 20 kinds of malformed payloads with errors while another client is served', async () => {
    const bad = await client();
    const good = await client();
    const errors: string[] = [];
    bad.on('error', (e) => errors.push(`${e.code}: ${e.message}`));
    const raw = bad as unknown as { emit: (...args: unknown[]) => void; emitWithAck: (...args: unknown[]) => Promise<{ ok: boolean; error?: { code: string; message: string } }> };
    const withAck = [
      ['run:prompt', undefined], ['run:prompt', null], ['run:prompt', 'just a string'], ['run:prompt', {}],
      ['run:prompt', { prompt: 42 }], ['run:prompt', { prompt: '' }], ['run:prompt', { prompt: 'x'.repeat(9000) }],
      ['run:prompt', { prompt: 'hi', topK: 0 }], ['run:prompt', { prompt: 'hi', topK: 1.5 }], ['run:prompt', { prompt: 'hi', extra: true }],
      ['generate:start', { prompt: 'hi' }], ['generate:start', { prompt: 'hi', maxTokens: -3 }],
      ['generate:start', { prompt: 'hi', maxTokens: Number.NaN }], ['generate:start', { prompt: 'hi', maxTokens: 5, temperature: 'hot' }],
      ['generate:start', { prompt: 'hi', maxTokens: 100000 }], ['vocab:lookup', [1, -2]], ['vocab:lookup', 'abc'],
      ['model:info', { unexpected: 1 }],
    ] as const;
    const responses = await Promise.all(withAck.map(([event, payload]) => raw.emitWithAck(event, payload)));
    responses.forEach((r, k) => {
      expect(r.ok, `${withAck[k]![0]} ${JSON.stringify(withAck[k]![1])}`).toBe(false);
      expect(r.error!.message.length).toBeGreaterThan(10);
    });
    // Without an acknowledgement, and an unknown run id: error events.
    raw.emit('run:prompt', { prompt: 'no ack' });
    raw.emit('run:cancel', 'no-such-run');
    const response = await good.emitWithAck('run:prompt', { prompt: 'Still working', topK: 3 });
    expect(response.ok).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/bad_request: run:prompt: an acknowledgement callback is required/);
    expect(errors[1]).toMatch(/no running job/);
    expect(withAck.length + errors.length).toBe(20);
  });

  it('serves a short run while another client\'s long generation is still streaming', async () => {
    const a = await client();
    const b = await client();
    const order: string[] = [];
    a.on('generate:token', () => order.push('a-token'));
    const aDone = new Promise<void>((resolve) => a.on('generate:done', () => { order.push('a-done'); resolve(); }));
    const started = await a.emitWithAck('generate:start', { prompt: 'The', maxTokens: 60, temperature: 0.8 });
    expect(started.ok).toBe(true);
    const response = await b.emitWithAck('run:prompt', { prompt: 'A short question' });
    order.push('b-done');
    expect(response.ok).toBe(true);
    await aDone;
    const aTokens = order.filter((e) => e === 'a-token').length;
    expect(order.indexOf('b-done')).toBeLessThan(order.indexOf('a-done'));
    // B was served after only a few of A's steps: round robin, not first come first served.
    expect(order.slice(0, order.indexOf('b-done')).filter((e) => e === 'a-token').length).toBeLessThan(Math.min(10, aTokens));
  });

  it('cancels a generation on request and on disconnect', async () => {
    const socket = await client();
    const reasons: string[] = [];
    const done = new Promise<void>((resolve) => socket.on('generate:done', (_id, reason) => { reasons.push(reason); resolve(); }));
    const started = await socket.emitWithAck('generate:start', { prompt: 'Once', maxTokens: 500, temperature: 0.5 });
    expect(started.ok).toBe(true);
    if (!started.ok) return;
    socket.emit('run:cancel', started.value.runId);
    await done;
    expect(reasons).toEqual(['cancelled']);
    const other = await client();
    const next = await other.emitWithAck('generate:start', { prompt: 'Once', maxTokens: 500, temperature: 0.5 });
    expect(next.ok).toBe(true);
    other.disconnect();
    // The server keeps serving: a fresh client's run completes promptly after the disconnect.
    const fresh = await client();
    expect((await fresh.emitWithAck('run:prompt', { prompt: 'After disconnect' })).ok).toBe(true);
  });

  it('answers analysis requests: tokenize, effects on Δ, and the attribution graph with progress', async () => {
    const socket = await client();
    const split = await socket.emitWithAck('tokenize', ' garden');
    expect(split.ok).toBe(true);
    const question = { prompt: 'The little girl went to the', target: ' park', distractor: ' house' };
    const effects = await socket.emitWithAck('analysis:effects', question);
    expect(effects.ok).toBe(true);
    if (!effects.ok) return;
    const { spec } = server.host.model.decoder;
    expect(effects.value.neuronDirect.byteLength).toBe(4 * spec.nLayers * spec.dMlp);
    expect(effects.value.tokenEffects).toHaveLength(effects.value.tokens.length);
    const direct = float32View(effects.value.neuronDirect);
    const listed = effects.value.direct.filter((e) => e.kind === 'neuron');
    expect(listed.length).toBeGreaterThan(0);
    for (const e of listed) expect(direct[e.layer * spec.dMlp + e.index]).toBeCloseTo(e.value, 5);

    const progress: number[] = [];
    socket.on('analysis:progress', (_id, done) => progress.push(done));
    const graph = await socket.emitWithAck('analysis:graph', { ...question, maxNodes: 40 });
    expect(graph.ok).toBe(true);
    if (!graph.ok) return;
    const parsed = importGraph(graph.value.graph);
    expect(parsed.nodes.filter((n) => n.feature_type === 'logit')).toHaveLength(1);
    expect(parsed.nodes.filter((n) => n.feature_type === 'mlp neuron')).toHaveLength(40);
    expect(progress.length).toBeGreaterThan(0);

    const bad = await socket.emitWithAck('analysis:effects', { ...question, target: '' });
    expect(bad.ok).toBe(false);
  });
});
