/**
 * Analysis on a shared server (real server on a free port, real socket.io clients, the
 * bundled model): a cancel is acknowledged at once and stops the job at its next step, in
 * exploration and in assembly (no VJP starts and no progress arrives after the ack); another
 * client's generation and run complete while a big trace or an Explain is running (proved by
 * the order of events); a trace over the link budget is sent pruned while the whole graph's
 * edges of any node come back on demand, complete.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import { startServer } from '../../../server/main.js';
import { BackwardRunner } from '../../../shared/engine/backward-runner.js';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../shared/protocol.js';
import { importGraph } from '../../../shared/graph/io.js';
import { LINK_BUDGET } from '../../../shared/service/analysis-handlers.js';

const bundled = fileURLToPath(new URL('../../../assets/models/brown-gpt2/', import.meta.url));
type Client = Socket<ServerToClientEvents, ClientToServerEvents>;
let server: Awaited<ReturnType<typeof startServer>>;
const clients: Client[] = [];

async function client(): Promise<Client> {
  const socket: Client = connect(server.url, { transports: ['websocket'], forceNew: true });
  clients.push(socket);
  await new Promise<void>((resolve, reject) => { socket.once('connect', () => resolve()); socket.once('connect_error', reject); });
  return socket;
}

/** About 100 tokens of the bundled model's tokenizer. */
const longPrompt = Array.from({ length: 9 }, (_, i) => `The jury said the city ${i % 2 ? 'had' : 'was'} ready for the vote.`).join(' ');
const question = { prompt: longPrompt, target: ' had', distractor: ' was' };

/**
 * Sends an analysis, cancels it from the first progress event `when` accepts, and checks that
 * it is answered 'cancelled' and that nothing more ran: several scheduler turns later (runs of
 * this client queue behind nothing) no VJP started after the ack and no progress came.
 */
async function cancelFromProgress(
  socket: Client, event: 'analysis:graph' | 'analysis:effects', request: typeof question & { maxNodes?: number }, when: (done: number) => boolean,
): Promise<{ log: string[] }> {
  const vjps = vi.spyOn(BackwardRunner.prototype, 'run');
  const log: string[] = [];
  let vjpsAtAck = -1;
  const response = await new Promise<{ ok: boolean; error?: { code: string } }>((resolve) => {
    socket.on('analysis:progress', (runId, done) => {
      log.push(`progress ${done}`);
      if (when(done) && !log.includes('cancel')) {
        log.push('cancel');
        socket.emit('run:cancel', runId);
      }
    });
    const ack = (r: unknown) => {
      vjpsAtAck = vjps.mock.calls.length;
      log.push('ack');
      resolve(r as never);
    };
    if (event === 'analysis:graph') socket.emit(event, request, ack);
    else socket.emit(event, request, ack);
  });
  expect(response.ok).toBe(false);
  expect(response.error!.code).toBe('cancelled');
  for (let i = 0; i < 3; i++) expect((await socket.emitWithAck('run:prompt', { prompt: 'The jury' })).ok).toBe(true);
  expect(vjps.mock.calls.length).toBe(vjpsAtAck);
  expect(log[log.length - 1]).toBe('ack');
  vjps.mockRestore();
  return { log };
}

beforeAll(async () => {
  server = await startServer({ model: bundled, port: 0, host: '127.0.0.1', device: 'cpu', https: false, serveClient: false, index: false, log: () => {} });
  const T = server.host.model.tokenizer.encode(longPrompt).length;
  expect(T).toBeGreaterThan(80);
  expect(T).toBeLessThanOrEqual(server.host.model.decoder.spec.contextLength);
});

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await server?.close();
  vi.restoreAllMocks();
});

describe('analysis on a shared server', () => {
  for (const phase of ['exploration', 'assembly'] as const) {
    it(`a cancel in ${phase} is acknowledged at once and stops the job at its next step`, async () => {
      const maxNodes = 150;
      const socket = await client();
      // Progress units: 1 forward, maxNodes + 1 exploration, then assembly.
      const inPhase = (done: number) => (phase === 'exploration' ? done > 1 && done < maxNodes + 2 : done > maxNodes + 2);
      const { log } = await cancelFromProgress(socket, 'analysis:graph', { ...question, maxNodes }, inPhase);
      // The ack follows the cancel at once: at most the progress of the step in flight when the
      // cancel arrived comes in between.
      const between = log.slice(log.indexOf('cancel') + 1, log.indexOf('ack'));
      expect(between.length).toBeLessThanOrEqual(1);
    });
  }

  it('an Explain reports progress to its end, and a cancel sent from its progress stops it at the next step', async () => {
    const socket = await client();
    const progress: [string, number, number][] = [];
    const onProgress = (runId: string, done: number, total: number) => progress.push([runId, done, total]);
    socket.on('analysis:progress', onProgress);
    const whole = await socket.emitWithAck('analysis:effects', question);
    expect(whole.ok).toBe(true);
    expect(progress.length).toBeGreaterThan(3);
    expect(new Set(progress.map(([id]) => id)).size).toBe(1);
    const [, lastDone, lastTotal] = progress[progress.length - 1]!;
    expect(lastDone).toBe(lastTotal);
    for (let i = 1; i < progress.length; i++) expect(progress[i]![1]).toBeGreaterThan(progress[i - 1]![1]);
    socket.off('analysis:progress', onProgress);

    const { log } = await cancelFromProgress(socket, 'analysis:effects', question, () => true);
    // Explain's first steps are short, so a few may finish while the cancel travels (client and
    // server share this process's event loop); the job still stops long before its end.
    const doneAtAck = Math.max(...log.filter((e) => e.startsWith('progress')).map((e) => Number(e.split(' ')[1])));
    expect(doneAtAck).toBeLessThan(lastTotal / 2);
  });

  it('another client\'s generation and run complete while a big trace runs (events interleave)', async () => {
    const a = await client();
    const b = await client();
    const log: string[] = [];
    a.on('analysis:progress', (_id, done) => log.push(`A progress ${done}`));
    const trace = new Promise<void>((resolve) => {
      a.emit('analysis:graph', { ...question, maxNodes: 150 }, (response) => {
        log.push(`A ack ${response.ok}`);
        resolve();
      });
    });
    await new Promise<void>((resolve) => a.once('analysis:progress', () => resolve()));
    b.on('generate:token', () => log.push('B token'));
    const generated = new Promise<void>((resolve) => b.once('generate:done', () => { log.push('B done'); resolve(); }));
    expect((await b.emitWithAck('generate:start', { prompt: 'The jury said', maxTokens: 16, temperature: 0 })).ok).toBe(true);
    await generated;
    const run = await b.emitWithAck('run:prompt', { prompt: 'The city was' });
    log.push('B run');
    expect(run.ok).toBe(true);
    await trace;
    const at = (entry: string) => log.indexOf(entry);
    // B started after A's trace had begun (A's first progress comes first in the log) and its
    // generation and run both finished before the trace did: B's work went in between A's steps
    // instead of waiting for the whole trace. (Whether A also gets a step between two of B's
    // tokens depends on how fast they are on a loaded machine, so that is not asserted.)
    expect(log[0]).toMatch(/^A progress/);
    expect(at('B done')).toBeLessThan(at('A ack true'));
    expect(at('B run')).toBeLessThan(at('A ack true'));
    expect(log.filter((e) => e === 'B token')).toHaveLength(16);
  });

  it('another client\'s generation completes while an Explain of a long prompt runs', async () => {
    const a = await client();
    const b = await client();
    const log: string[] = [];
    const explain = new Promise<void>((resolve) => {
      a.emit('analysis:effects', question, (response) => { log.push(`A ack ${response.ok}`); resolve(); });
    });
    const generated = new Promise<void>((resolve) => b.once('generate:done', () => { log.push('B done'); resolve(); }));
    expect((await b.emitWithAck('generate:start', { prompt: 'The jury said', maxTokens: 16, temperature: 0 })).ok).toBe(true);
    await Promise.all([generated, explain]);
    expect(log).toEqual(['B done', 'A ack true']);
  });

  it('sends a trace over the link budget pruned, and returns any node\'s whole edges on demand (complete)', async () => {
    const socket = await client();
    const progress: [number, number][] = [];
    socket.on('analysis:progress', (_id, done, total) => progress.push([done, total]));
    const response = await socket.emitWithAck('analysis:graph', { ...question, maxNodes: 150 });
    expect(response.ok).toBe(true);
    if (!response.ok) return;
    // Progress counts to the end (pruning and export included), never backwards.
    const [lastDone, lastTotal] = progress[progress.length - 1]!;
    expect(lastDone).toBe(lastTotal);
    for (let i = 1; i < progress.length; i++) expect(progress[i]![0]).toBeGreaterThan(progress[i - 1]![0]);
    expect(progress.some(([done, total]) => done > 150 + 2 && done < total)).toBe(true); // assembly reported too
    const { full, sent, runId } = response.value;
    expect(full.links).toBeGreaterThan(LINK_BUDGET);
    expect(sent.pruned).toBe(true);
    expect(sent.links).toBeLessThanOrEqual(LINK_BUDGET);
    const graph = importGraph(response.value.graph);
    expect(graph.links).toHaveLength(sent.links);
    expect(graph.nodes).toHaveLength(sent.nodes);
    // Every node the pruned graph shows has its whole incoming edges on the server: they sum,
    // with the node's constant, to its actual value; the sent links are among them, same weights.
    const targets = graph.nodes.filter((n) => n.actual !== undefined).slice(0, 12);
    expect(targets.length).toBeGreaterThan(1);
    for (const node of targets) {
      const edges = await socket.emitWithAck('analysis:graph-node', { runId, nodeId: node.node_id });
      expect(edges.ok).toBe(true);
      if (!edges.ok) return;
      const sum = edges.value.incoming.reduce((acc, e) => acc + e.weight, 0);
      expect(Math.abs(sum + node.constant! - node.actual!)).toBeLessThan(1e-4 * Math.max(1, Math.abs(node.actual!)));
      const whole = new Map(edges.value.incoming.map((e) => [e.source, e.weight]));
      for (const link of graph.links.filter((l) => l.target === node.node_id)) expect(whole.get(link.source)).toBe(link.weight);
    }
    const logit = graph.nodes.find((n) => n.feature_type === 'logit')!;
    const emb = graph.nodes.find((n) => n.feature_type === 'embedding')!;
    const out = await socket.emitWithAck('analysis:graph-node', { runId, nodeId: emb.node_id });
    expect(out.ok && out.value.outgoing.length).toBeGreaterThan(0);
    expect(out.ok && out.value.outgoing.some((e) => e.target === logit.node_id)).toBe(true);
    const stale = await socket.emitWithAck('analysis:graph-node', { runId: 'graph-0', nodeId: logit.node_id });
    expect(stale.ok).toBe(false);
    if (!stale.ok) expect(stale.error.message).toMatch(/no graph graph-0/);
    const missing = await socket.emitWithAck('analysis:graph-node', { runId, nodeId: 'nope' });
    expect(!missing.ok && missing.error.message).toMatch(/has no node "nope"/);
  });
});
