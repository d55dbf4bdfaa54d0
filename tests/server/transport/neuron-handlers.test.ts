/**
 * Neuron explanations through the real server over socket.io: details before an index exists
 * (logit effects, `indexed: null`), a build started, cancelled and resumed on request with
 * 'index:progress' broadcasts, details from the finished store (fast), and malformed payloads
 * answered with errors while another client is served.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import { startServer } from '../../../server/main.js';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../shared/protocol.js';
import type { IndexStatus } from '../../../shared/neuron-index.js';
import { bundledModel, smallCorpus, tempDir } from '../neurons/fixtures.js';

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;
let server: Awaited<ReturnType<typeof startServer>>;
const clients: Client[] = [];

async function client(): Promise<Client> {
  // The operator (holds the access token): index:build and index:cancel need that role.
  const socket: Client = connect(server.url, { transports: ['websocket'], forceNew: true, auth: { token: server.token } });
  clients.push(socket);
  await new Promise<void>((resolve, reject) => { socket.once('connect', () => resolve()); socket.once('connect_error', reject); });
  return socket;
}

beforeAll(async () => {
  const dir = tempDir('socket-index');
  server = await startServer({
    model: bundledModel, port: 0, host: '127.0.0.1', device: 'cpu', https: false, serveClient: false, log: () => {},
    index: false, indexDir: dir, corpus: smallCorpus(dir).path, indexTokens: 2000, indexBuild: { batchContexts: 2 },
  });
});

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await server?.close();
});

describe('neuron explanations over socket.io', () => {
  it('serves details before and after a build that is cancelled, resumed and broadcast as progress', async () => {
    const socket = await client();
    const watcher = await client();
    const progress: IndexStatus[] = [];
    watcher.on('index:progress', (status) => progress.push(status));

    const before = await socket.emitWithAck('neuron:details', { layer: 1, index: 3 });
    expect(before.ok).toBe(true);
    if (!before.ok) return;
    expect(before.value.hook).toBe('blocks.1.mlp.hook_post');
    expect(before.value.indexed).toBeNull();
    expect(before.value.promoted).toHaveLength(10);
    expect(before.value.promoted[0]!.value).toBeGreaterThanOrEqual(before.value.promoted[9]!.value);
    expect(before.value.suppressed[0]!.value).toBeLessThan(0);
    const status = await socket.emitWithAck('index:status');
    expect(status.ok && status.value.state).toBe('absent');

    // Build and cancel at once: the build stops, and the next build starts afresh or resumes.
    const [started, cancelled] = await Promise.all([socket.emitWithAck('index:build'), socket.emitWithAck('index:cancel')]);
    expect(started.ok && started.value.state).toBe('building');
    expect(cancelled.ok && cancelled.value.state).toBe('cancelled');
    const ready = new Promise<void>((resolve) => watcher.on('index:progress', (s) => { if (s.state === 'ready') resolve(); }));
    const resumed = await socket.emitWithAck('index:build');
    expect(resumed.ok && resumed.value.state).toBe('building');
    // Users still get their turn while the index builds.
    expect((await socket.emitWithAck('run:prompt', { prompt: 'The jury said' })).ok).toBe(true);
    await ready;

    const states = progress.map((s) => s.state);
    expect(states).toContain('cancelled');
    expect(states[states.length - 1]).toBe('ready');
    const last = progress[progress.length - 1]!;
    expect(last.done).toBe(last.total);
    expect(last.total).toBe(31 * 64);
    const building = progress.slice(states.lastIndexOf('cancelled') + 1).filter((s) => s.state === 'building');
    for (let k = 1; k < building.length; k++) expect(building[k]!.done).toBeGreaterThanOrEqual(building[k - 1]!.done);
    expect(building.every((s) => s.total === 0 || s.total === last.total)).toBe(true);
    expect((await socket.emitWithAck('index:build')).ok).toBe(true); // ready: nothing to do
    expect(progress[progress.length - 1]!.state).toBe('ready');

    const after = await socket.emitWithAck('neuron:details', { layer: 1, index: 3 });
    expect(after.ok).toBe(true);
    if (!after.ok) return;
    const indexed = after.value.indexed!;
    expect(indexed.stats.count).toBe(31 * 64);
    expect(indexed.topExamples).toHaveLength(20);
    expect(indexed.histogram.counts.reduce((a, b) => a + b, 0)).toBe(indexed.stats.count);
    const top = indexed.topExamples[0]!;
    expect(top.value).toBe(indexed.stats.max);
    expect(top.tokens[top.focus]!.id).toBeGreaterThanOrEqual(0);
    expect(after.value.promoted.map((e) => e.token.id)).toEqual(before.value.promoted.map((e) => e.token.id));

    const times: number[] = [];
    for (let k = 0; k < 21; k++) {
      const t0 = performance.now();
      expect((await socket.emitWithAck('neuron:details', { layer: k % 4, index: (k * 101) % 1024 })).ok).toBe(true);
      times.push(performance.now() - t0);
    }
    expect(times.sort((a, b) => a - b)[10]!, 'median round trip of neuron:details').toBeLessThan(50);
  });

  it('answers malformed neuron:details and index payloads with errors while another client is served', async () => {
    const bad = await client();
    const good = await client();
    const errors: string[] = [];
    bad.on('error', (e) => errors.push(`${e.code}: ${e.message}`));
    const raw = bad as unknown as {
      emit: (...args: unknown[]) => void;
      emitWithAck: (...args: unknown[]) => Promise<{ ok: boolean; error?: { code: string; message: string } }>;
    };
    const payloads = [
      [{ layer: 4, index: 0 }, /"layer" must be at most 3/], [{ layer: 0, index: 1024 }, /"index" must be at most 1023/],
      [{ layer: -1, index: 0 }, /at least 0/], [{ layer: 0.5, index: 0 }, /must be an integer/], [{ layer: '0', index: 0 }, /finite number/],
      [{ layer: 0 }, /"index" is required/], [{ layer: 0, index: 0, extra: 1 }, /unknown field "extra"/], [null, /expected an object/],
      ['layer 0', /expected an object/],
    ] as const;
    const answers = await Promise.all([
      ...payloads.map(([payload]) => raw.emitWithAck('neuron:details', payload)),
      raw.emitWithAck('index:status', { now: true }), raw.emitWithAck('index:build', 1), raw.emitWithAck('index:cancel', 'x'),
    ]);
    const served = await good.emitWithAck('neuron:details', { layer: 3, index: 1023 });
    expect(served.ok).toBe(true);
    answers.forEach((answer, k) => {
      expect(answer.ok, `payload ${k}`).toBe(false);
      expect(answer.error!.code).toBe('bad_request');
      if (k < payloads.length) expect(answer.error!.message).toMatch(payloads[k]![1]);
      else expect(answer.error!.message).toMatch(/takes no payload/);
    });
    raw.emit('neuron:details', { layer: 0, index: 0 }); // no acknowledgement
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(errors).toEqual([expect.stringMatching(/^bad_request: neuron:details: an acknowledgement callback is required/)]);
  });
});
