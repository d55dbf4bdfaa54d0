/**
 * Presentation rooms benchmark (issue 12), on loopback with the bundled model, the server(s) in
 * child processes so the followers' socket.io clients (here) do not share their event loop:
 * - fan-out: 1 presenter and N followers (20 on one process; 200 over two processes with Redis
 *   when redis-server is installed); the presenter generates 32 tokens; per follower, tokens (each
 *   with its activation frame) per second delivered, the delay from the presenter receiving a
 *   token to each follower receiving it (p50/p95), and bytes per follower per token;
 * - the presenter's own latency (run:prompt round trip) with and without the followers (ratio);
 * - pointer updates: the presenter sends 30 Hz for 3 s; the rate each follower receives;
 * - bytes per follower per token on GPT-2-small shapes (random weights, as bench/sharing.ts's
 *   gpt2-small server): a few followers (BENCH_ROOM_GPT2_FOLLOWERS, default 4) and an 8-token
 *   generation. BENCH_ROOMS=gpt2-small runs only this part.
 *
 *   npm run bench -- rooms     (this section only)
 */
import type { ChildProcess } from 'node:child_process';
import { io as connect, type Socket } from 'socket.io-client';
import type { ClientToServerEvents, RoomOpened, ServerToClientEvents } from '../shared/protocol.js';
import { median, row, type BenchRow } from './report.js';
import { hasRedisServer, startRedisServer } from '../tests/helpers/redis-server.js';
import { bundledServerCode, gpt2SmallServerCode, startServerChild } from './servers.js';

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;
const TOKEN = 'bench-rooms-token';

const serverCode = (redis: string | null) =>
  bundledServerCode(`token: ${JSON.stringify(TOKEN)}, maxRoomMembers: 1000, maxConnectionsPerAddress: 1000${redis ? `, redis: ${JSON.stringify(redis)}` : ''}`);

/** A server with GPT-2-small shapes and random weights (12 layers × 3072 neurons, 50257 tokens). */
const gpt2ServerCode = gpt2SmallServerCode(`{ token: ${JSON.stringify(TOKEN)}, bindHost: '127.0.0.1', maxConnectionsPerAddress: 1000, rooms: { maxMembers: 1000 } }`);

const startChild = (redis: string | null, code = serverCode(redis)) => startServerChild(code, redis ? 'rooms, redis' : 'rooms');

async function client(url: string, auth: Record<string, string>): Promise<Client> {
  const socket: Client = connect(url, { transports: ['websocket'], forceNew: true, reconnection: false, auth });
  await new Promise<void>((resolve, reject) => { socket.once('connect', () => resolve()); socket.once('connect_error', reject); });
  return socket;
}

function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN;
}

const byteSize = (args: unknown[]) => args.reduce<number>((n, a) => n + (a instanceof ArrayBuffer ? a.byteLength : ArrayBuffer.isView(a) ? a.byteLength : Buffer.byteLength(JSON.stringify(a) ?? '')), 0);

async function promptLatency(presenter: Client, runs = 5): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = await presenter.emitWithAck('run:prompt', { prompt: ` the cat sat on the mat number ${i}` });
    if (!r.ok) throw new Error(r.error.message);
    times.push(performance.now() - t0);
  }
  return median(times);
}

/** One scenario: a presenter on urls[0], `n` followers spread over `urls`. */
async function scenario(label: string, urls: string[], n: number): Promise<BenchRow[]> {
  const presenter = await client(urls[0]!, { token: TOKEN });
  const sockets: Client[] = [presenter];
  try {
    const opened = await presenter.emitWithAck('room:open');
    if (!opened.ok) throw new Error(opened.error.message);
    const room = (opened.value as RoomOpened).room;
    await new Promise((r) => setTimeout(r, 300));
    const alone = await promptLatency(presenter);

    const followers: Client[] = [];
    for (let i = 0; i < n; i++) followers.push(await client(urls[i % urls.length]!, { room }));
    sockets.push(...followers);
    // Redis adapters start reading shortly after a server starts: wait until a state update crosses.
    const reached = followers.map(() => false);
    followers.forEach((f, i) => f.on('room:state', () => { reached[i] = true; }));
    for (let i = 0; i < 100 && !reached.every(Boolean); i++) {
      await presenter.emitWithAck('room:state', { position: i });
      await new Promise((r) => setTimeout(r, 100));
    }
    const withFollowers = await promptLatency(presenter);

    // Fan-out of a 32-token generation.
    const presenterAt = new Map<number, number>();
    const received = followers.map(() => [] as { index: number; at: number; bytes: number }[]);
    let seen = 0;
    presenter.on('generate:token', () => presenterAt.set(seen++, performance.now()));
    followers.forEach((f, i) => {
      let k = 0;
      f.on('generate:token', (...args: unknown[]) => received[i]!.push({ index: k++, at: performance.now(), bytes: byteSize(args) }));
    });
    const done = Promise.all(followers.map((f) => new Promise<void>((resolve) => f.once('generate:done', () => resolve()))));
    const started = await presenter.emitWithAck('generate:start', { prompt: ' once upon a time there was', maxTokens: 32, temperature: 0 });
    if (!started.ok) throw new Error(started.error.message);
    await Promise.race([done, new Promise((r) => setTimeout(r, 120_000))]);
    const delays: number[] = [];
    const rates: number[] = [];
    const bytes: number[] = [];
    for (const list of received) {
      for (const r of list) {
        const p = presenterAt.get(r.index);
        if (p !== undefined) delays.push(r.at - p);
        bytes.push(r.bytes);
      }
      if (list.length > 1) rates.push((list.length - 1) / ((list[list.length - 1]!.at - list[0]!.at) / 1000));
    }
    const tokens = received.reduce((s, l) => s + l.length, 0);

    // Pointer and camera, each at 30 Hz for 3 s.
    const pointers = followers.map(() => 0);
    const cameras = followers.map(() => 0);
    followers.forEach((f, i) => f.on('room:pointer', () => { pointers[i]!++; }));
    followers.forEach((f, i) => f.on('room:camera', () => { cameras[i]!++; }));
    const t0 = performance.now();
    for (let k = 0; performance.now() - t0 < 3000; k++) {
      presenter.emit('room:pointer', { origin: [0, 1.6, 0], direction: [0, 0, -1], hit: [k, 0, -2] });
      presenter.emit('room:camera', { position: [k * 0.01, 1.6, 2], target: [0, 1.5, -4] });
      await new Promise((r) => setTimeout(r, 1000 / 30));
    }
    await new Promise((r) => setTimeout(r, 300));
    const seconds = (performance.now() - t0 - 300) / 1000;
    const perFollower = pointers.map((c) => c / seconds);
    const cameraPerFollower = cameras.map((c) => c / seconds);

    return [
      row('rooms', `${label}: tokens with frames delivered per follower`, median(rates), 'tokens/s', `${n} followers, 32-token generation; all followers together ${(median(rates) * n).toFixed(0)}/s; ${tokens} of ${32 * n} delivered`),
      row('rooms', `${label}: presenter → follower delay p50`, percentile(delays, 0.5), 'ms', 'presenter receives a token → each follower receives it (below 0: the room is sent it first)'),
      row('rooms', `${label}: presenter → follower delay p95`, percentile(delays, 0.95), 'ms'),
      row('rooms', `${label}: bytes per follower per token`, median(bytes), 'B', 'token, predictions and activation frame (bundled model)'),
      row('rooms', `${label}: presenter run:prompt with/without followers`, withFollowers / alone, '×', `${withFollowers.toFixed(0)} ms vs ${alone.toFixed(0)} ms alone (median of 5)`),
      row('rooms', `${label}: pointer updates received per follower`, median(perFollower), '/s', `sent at 30 Hz; server limit 30/s (burst 10); min ${Math.min(...perFollower).toFixed(1)}/s`),
      row('rooms', `${label}: camera updates received per follower`, median(cameraPerFollower), '/s', `sent at 30 Hz with the pointer; min ${Math.min(...cameraPerFollower).toFixed(1)}/s`),
    ];
  } finally {
    for (const s of sockets) s.disconnect();
  }
}

/** Bytes each follower receives per generated token (token event: id, text, predictions and the
 * activation frame) with GPT-2-small shapes. */
async function gpt2Bytes(n: number, tokens = 8): Promise<BenchRow[]> {
  const server = await startChild(null, gpt2ServerCode);
  const sockets: Client[] = [];
  try {
    const presenter = await client(server.url, { token: TOKEN });
    sockets.push(presenter);
    const opened = await presenter.emitWithAck('room:open');
    if (!opened.ok) throw new Error(opened.error.message);
    const room = (opened.value as RoomOpened).room;
    const followers: Client[] = [];
    for (let i = 0; i < n; i++) followers.push(await client(server.url, { room }));
    sockets.push(...followers);
    await new Promise((r) => setTimeout(r, 300));
    const bytes = followers.map(() => [] as number[]);
    const frames = followers.map(() => 0);
    followers.forEach((f, i) => {
      f.on('generate:token', (...args: unknown[]) => bytes[i]!.push(byteSize(args)));
      f.on('run:frame', () => { frames[i]!++; });
    });
    const done = Promise.all(followers.map((f) => new Promise<void>((resolve) => f.once('generate:done', () => resolve()))));
    const t0 = performance.now();
    const started = await presenter.emitWithAck('generate:start', { prompt: 'a b c d e f g h', maxTokens: tokens, temperature: 0 });
    if (!started.ok) throw new Error(started.error.message);
    await Promise.race([done, new Promise((r) => setTimeout(r, 300_000))]);
    const seconds = (performance.now() - t0) / 1000;
    const all = bytes.flat();
    const got = all.length;
    return [
      row('rooms', 'GPT-2-small shapes: bytes per follower per token', median(all), 'B',
        `random weights, 12 layers × 3072 neurons; ${n} followers, ${tokens}-token generation; ${got} of ${tokens * n} tokens delivered in ${seconds.toFixed(1)} s; max ${Math.max(...all)} B; prompt frames ${median(frames)} per follower`),
    ];
  } finally {
    for (const s of sockets) s.disconnect();
    server.child.kill();
  }
}

export async function benchRooms(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const gpt2Followers = Number(process.env.BENCH_ROOM_GPT2_FOLLOWERS ?? 4);
  if (process.env.BENCH_ROOMS === 'gpt2-small') return gpt2Bytes(gpt2Followers);
  rows.push(...(await gpt2Bytes(gpt2Followers)));
  const one = await startChild(null);
  try {
    rows.push(...(await scenario('1 process', [one.url], 20)));
  } finally {
    one.child.kill();
  }
  if (!hasRedisServer()) {
    rows.push(row('rooms', '2 processes with Redis', NaN, '', 'skipped: redis-server is not installed (apt-get install redis-server)'));
    return rows;
  }
  const redis = await startRedisServer();
  const children: ChildProcess[] = [];
  try {
    const a = await startChild(redis.url);
    children.push(a.child);
    const b = await startChild(redis.url);
    children.push(b.child);
    rows.push(...(await scenario('2 processes + Redis', [a.url, b.url], Number(process.env.BENCH_ROOM_FOLLOWERS ?? 200))));
  } finally {
    for (const c of children) c.kill();
    redis.stop();
  }
  return rows;
}
