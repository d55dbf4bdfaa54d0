/**
 * Sharing benchmark (issue 10): how much one client's analysis slows another client down, and
 * what it costs in memory. The server runs in a child process (so its RSS is its own); client
 * B times 16-token generations alone, then while client A runs (a) a 2000-node trace of a
 * 128-token prompt and (b) an Explain of a 128-token prompt; the server's RSS is sampled
 * throughout (peak) and read again after each job (after); client C's model:info round trips
 * bound how long the event loop stalls. On the bundled model and on
 * GPT-2-small shapes with random weights. A job that outlasts its window is cancelled (the
 * note says how far it got), so the table stays minutes long on a slow machine.
 *
 *   npm run bench -- sharing     (this section only; SHARING_MODELS=bundled for one model,
 *                                 SHARING_WINDOW_S=60 for a shorter window per job)
 */
import { readFileSync } from 'node:fs';
import { io as connect, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, ServerToClientEvents } from '../shared/protocol.js';
import { median, row, type BenchRow } from './report.js';
import { bundledServerCode, gpt2SmallServerCode, startServerChild } from './servers.js';

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;

const startChild = (model: 'bundled' | 'gpt2-small') =>
  startServerChild(model === 'bundled' ? bundledServerCode() : gpt2SmallServerCode(), model);

const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

async function client(url: string): Promise<Client> {
  const socket: Client = connect(url, { transports: ['websocket'], forceNew: true });
  await new Promise<void>((resolve, reject) => { socket.once('connect', () => resolve()); socket.once('connect_error', reject); });
  return socket;
}

/** Seconds for one 16-token generation, from the request to generate:done. */
async function generation(socket: Client, prompt: string): Promise<number> {
  const t0 = performance.now();
  const done = new Promise<void>((resolve) => socket.once('generate:done', () => resolve()));
  const started = await socket.emitWithAck('generate:start', { prompt, maxTokens: 16, temperature: 0 });
  if (!started.ok) throw new Error(started.error.message);
  await done;
  return (performance.now() - t0) / 1000;
}

function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN;
}

interface LoadResult {
  latencies: number[];
  /** Longest model:info round trip (answered on the event loop, outside the scheduler). */
  infoMaxMs: number;
  peak: number;
  after: number;
  seconds: number;
  finished: boolean;
  progress: string;
}

/** B generates back to back while A's job runs (at most `windowS` seconds, then A is cancelled). */
async function underLoad(url: string, pid: number, bPrompt: string, windowS: number,
  start: (a: Client) => { done: Promise<boolean>; cancel: () => void; progress: () => string }): Promise<LoadResult> {
  const a = await client(url);
  const b = await client(url);
  const c = await client(url);
  let infoMaxMs = 0;
  let pinging = true;
  const ping = (async () => {
    while (pinging) {
      const t = performance.now();
      await c.emitWithAck('model:info');
      infoMaxMs = Math.max(infoMaxMs, performance.now() - t);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  let peak = rssMiB(pid);
  const sampler = setInterval(() => { peak = Math.max(peak, rssMiB(pid)); }, 50);
  const t0 = performance.now();
  const job = start(a);
  let finished = false;
  let over = false;
  void job.done.then((ok) => { finished = ok; over = true; });
  const timer = setTimeout(() => { if (!over) job.cancel(); }, windowS * 1000);
  const latencies: number[] = [];
  while (!over) latencies.push(await generation(b, bPrompt));
  const seconds = (performance.now() - t0) / 1000;
  clearTimeout(timer);
  const progress = job.progress();
  pinging = false;
  await ping;
  c.disconnect();
  a.disconnect();
  await new Promise((resolve) => setTimeout(resolve, 3000)); // let the server settle and free
  clearInterval(sampler);
  const after = rssMiB(pid);
  b.disconnect();
  return { latencies, infoMaxMs, peak: Math.max(peak, after), after, seconds, finished, progress };
}

async function benchModel(model: 'bundled' | 'gpt2-small', windowS: number): Promise<BenchRow[]> {
  const { child, url } = await startChild(model);
  const pid = child.pid!;
  const group = `sharing (${model === 'bundled' ? 'bundled brown-gpt2' : 'GPT-2-small shapes, random'})`;
  const prompt128 = model === 'bundled'
    ? (() => {
      // 115 words make 128 tokens of the bundled tokenizer (the row names the count the server saw).
      const words = 'the jury said that the city had been ready for the vote and the people were glad'.split(' ');
      return Array.from({ length: 115 }, (_, i) => words[i % words.length]).join(' ');
    })()
    : Array.from({ length: 128 }, (_, i) => String(100 + ((i * 7919) % 40000))).join(' ');
  const bPrompt = model === 'bundled' ? 'The jury said' : '11 12 13 14';
  const question = { prompt: prompt128, target: model === 'bundled' ? ' had' : ' 5000', distractor: model === 'bundled' ? ' was' : ' 6000' };
  try {
    const warm = await client(url);
    const tokens = (await warm.emitWithAck('tokenize', prompt128));
    const T = tokens.ok ? tokens.value.length : 0;
    // Warm-up: the backward graphs compile on first use (a one-off), and the generation path.
    await warm.emitWithAck('analysis:effects', { ...question, prompt: bPrompt });
    await warm.emitWithAck('analysis:graph', { ...question, prompt: bPrompt, maxNodes: 4 });
    await generation(warm, bPrompt);
    warm.disconnect();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const idle = rssMiB(pid);

    const b = await client(url);
    const alone: number[] = [];
    for (let i = 0; i < 12; i++) alone.push(await generation(b, bPrompt));
    b.disconnect();

    const trace = await underLoad(url, pid, bPrompt, windowS, (a) => {
      let runId = '';
      let last = '0/0';
      a.on('analysis:progress', (id, done, total) => { runId = id; last = `${done}/${total}`; });
      const done = new Promise<boolean>((resolve) => a.emit('analysis:graph', { ...question, maxNodes: 2000 }, (r) => resolve(r.ok)));
      return { done, cancel: () => a.emit('run:cancel', runId), progress: () => last };
    });
    const explain = await underLoad(url, pid, bPrompt, windowS, (a) => {
      let runId = '';
      let last = '0/0';
      a.on('analysis:progress', (id, done, total) => { runId = id; last = `${done}/${total}`; });
      const done = new Promise<boolean>((resolve) => a.emit('analysis:effects', question, (r) => resolve(r.ok)));
      return { done, cancel: () => a.emit('run:cancel', runId), progress: () => last };
    });
    // The trace alone, to its end (pruning and export in the worker thread included); on
    // GPT-2-small shapes a 2000-node trace of 128 tokens takes too long for a benchmark run.
    const soloRows: BenchRow[] = [];
    if (model === 'bundled') {
      let alonePeak = rssMiB(pid);
      const sampler = setInterval(() => { alonePeak = Math.max(alonePeak, rssMiB(pid)); }, 50);
      const solo = await client(url);
      const t0 = performance.now();
      const soloTimeout = setTimeout(() => solo.disconnect(), 6 * windowS * 1000);
      const soloResult = await new Promise<{ ok: boolean; full?: { links: number }; sent?: { links: number; pruned: boolean } }>((resolve) => {
        solo.emit('analysis:graph', { ...question, maxNodes: 2000 }, (r) => resolve(r.ok ? { ok: true, full: r.value.full, sent: r.value.sent } : { ok: false }));
        solo.once('disconnect', () => resolve({ ok: false }));
      });
      clearTimeout(soloTimeout);
      const soloSeconds = (performance.now() - t0) / 1000;
      solo.disconnect();
      await new Promise((resolve) => setTimeout(resolve, 3000));
      clearInterval(sampler);
      const soloAfter = rssMiB(pid);
      soloRows.push(
        row(group, `A's 2000-node trace on ${T} tokens alone, to the ack`, soloSeconds, 's', soloResult.ok
          ? `whole graph ${soloResult.full!.links} links held on the server; ${soloResult.sent!.links} sent${soloResult.sent!.pruned ? ' (pruned in a worker)' : ''}`
          : `did not finish within ${6 * windowS} s (cancelled)`),
        row(group, 'server RSS peak during the trace alone (extra over idle)', alonePeak - idle, 'MiB', `after: ${(soloAfter - idle).toFixed(0)} MiB extra`),
      );
    }
    const p50 = median(alone);
    const p95 = percentile(alone, 0.95);
    const target = model === 'bundled' ? 'target p95 ≤ 1 s' : `target p95 ≤ 3× alone (${(3 * p95).toFixed(2)} s)`;
    const jobNote = (r: LoadResult, what: string) => r.finished
      ? `${what} finished in ${r.seconds.toFixed(0)} s; ${r.latencies.length} generations`
      : `${what} cancelled after a ${windowS} s window${r.progress ? ` at ${r.progress} units` : ''}; ${r.latencies.length} generations`;
    return [
      row(group, 'B 16-token generation alone, p50', p50, 's'),
      row(group, 'B 16-token generation alone, p95', p95, 's'),
      row(group, `B p50 while A traces 2000 nodes on ${T} tokens`, median(trace.latencies), 's'),
      row(group, `B p95 while A traces 2000 nodes on ${T} tokens`, percentile(trace.latencies, 0.95), 's', `${target}; ${jobNote(trace, 'trace')}`),
      row(group, `longest model:info round trip while A traces`, trace.infoMaxMs, 'ms', 'event-loop stall bound'),
      row(group, `B p50 while A explains ${T} tokens`, median(explain.latencies), 's'),
      row(group, `B p95 while A explains ${T} tokens`, percentile(explain.latencies, 0.95), 's', `${target}; ${jobNote(explain, 'Explain')}`),
      row(group, `longest model:info round trip while A explains`, explain.infoMaxMs, 'ms', 'event-loop stall bound'),
      ...soloRows,
      row(group, 'server RSS idle (models and backward graphs loaded)', idle, 'MiB'),
      row(group, 'server RSS peak during the trace (extra over idle)', trace.peak - idle, 'MiB', `peak ${trace.peak.toFixed(0)} MiB`),
      row(group, 'server RSS after the trace (extra over idle)', trace.after - idle, 'MiB'),
      row(group, 'server RSS peak during the Explain (extra over idle)', explain.peak - idle, 'MiB', `peak ${explain.peak.toFixed(0)} MiB${model === 'gpt2-small' ? '; target ≤ 300 MiB' : ''}`),
      row(group, 'server RSS after the Explain (extra over idle)', explain.after - idle, 'MiB'),
    ];
  } finally {
    child.kill();
  }
}

export async function benchSharing(): Promise<BenchRow[]> {
  const windowS = Number(process.env.SHARING_WINDOW_S ?? 120);
  // SHARING_MODELS=bundled (or gpt2-small) runs one of the two.
  const models = (process.env.SHARING_MODELS ?? 'bundled,gpt2-small').split(',') as ('bundled' | 'gpt2-small')[];
  const rows: BenchRow[] = [];
  for (const model of models) rows.push(...(await benchModel(model, windowS)));
  return rows;
}
