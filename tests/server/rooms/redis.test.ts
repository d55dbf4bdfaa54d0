/**
 * Rooms across server processes: a private redis-server on a free port, two servers (each with its
 * own Redis clients and socket.io Redis Streams adapter, as two processes would have), the
 * presenter on one and followers on the other. Followers must receive the presenter's state and
 * the very frames of its run, find the room and its snapshot through Redis, be refused as on one
 * process, and control must cross processes both ways. Without redis-server this fails under CI
 * (Debian's redis-server package; .ci/run installs it) and is skipped elsewhere.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../../server/main.js';
import type { RoomJoined, RoomOpened, RunResult } from '../../../shared/protocol.js';
import { call, join, joined, queryOf, type Recorder } from './helpers.js';
import { hasRedisServer, startRedisServer, type RedisServer } from '../../helpers/redis-server.js';

const bundled = fileURLToPath(new URL('../../../assets/models/brown-gpt2/', import.meta.url));
const hasRedis = hasRedisServer();
if (!hasRedis && process.env.CI) throw new Error('redis-server is not installed (apt-get install -y redis-server); the cross-process room test needs it under CI');

type Started = Awaited<ReturnType<typeof startServer>>;
let redis: RedisServer | null = null;
let a: Started;
let b: Started;
const sockets: Recorder[] = [];
const track = (r: Recorder) => (sockets.push(r), r);

describe.skipIf(!hasRedis)('rooms across two server processes through Redis', () => {
  beforeAll(async () => {
    redis = await startRedisServer();
    const options = {
      model: bundled, port: 0, host: '127.0.0.1', device: 'cpu' as const, https: false, serveClient: false, index: false, log: () => {},
      requireToken: true, redis: redis.url,
    };
    a = await startServer({ ...options, token: 'server-a-token' });
    b = await startServer({ ...options, token: 'server-b-token' });
  });

  afterAll(async () => {
    for (const r of sockets) r.socket.disconnect();
    await a?.close();
    await b?.close();
    redis?.stop();
  });

  it('relays the presenter\'s state, frames and control between processes', async () => {
    const presenter = track(await join(a.url, { token: a.token }));
    const opened = await call<RoomOpened>(presenter.socket, 'room:open');
    if (!opened.ok) throw new Error(opened.error.message);
    const me = await joined(presenter);
    // The audience link, opened on the other process (no access token: admitted for the room).
    const audience = queryOf(opened.value.audienceQuery);
    const followers = [track(await join(b.url, audience)), track(await join(b.url, audience))];
    const welcomes = await Promise.all(followers.map(joined));
    expect(welcomes.map((w) => w.controller)).toEqual([me.memberId, me.memberId]);

    // The adapters start reading their streams shortly after start: update until it crosses.
    let version = 0;
    for (let i = 0; i < 50 && followers[0]!.of('room:state').length === 0; i++) {
      const answer = await call<{ version: number }>(presenter.socket, 'room:state', { prompt: 'The cat sat on the', position: i });
      if (answer.ok) version = answer.value.version;
      await new Promise((r) => setTimeout(r, 100));
    }
    await followers[1]!.next('room:state', (_s, v) => v === version, 5000);
    await followers[0]!.next('room:state', (_s, v) => v === version, 5000);

    const run = await call<RunResult>(presenter.socket, 'run:prompt', { prompt: 'The cat sat on the' });
    if (!run.ok) throw new Error(run.error.message);
    const { runId, tokens } = run.value;
    const bytes = (r: Recorder) => r.of('run:frame').filter(([id]) => id === runId).map(([, f]) => Buffer.from(f as ArrayBuffer).toString('base64'));
    expect(bytes(presenter)).toHaveLength(tokens.length);
    for (const f of followers) {
      const [, result] = await f.next('room:result', (event, value) => event === 'run:prompt' && (value as RunResult).runId === runId);
      expect((result as RunResult).tokens).toEqual(tokens);
      expect(bytes(f)).toEqual(bytes(presenter));
    }

    // A late joiner on the other process gets the snapshot from Redis at once.
    const late = track(await join(b.url, audience));
    const snapshot: RoomJoined = await joined(late);
    expect(snapshot.version).toBe(version);
    expect(snapshot.state).toMatchObject({ prompt: 'The cat sat on the', position: version - 1 });
    // And, asked for, the last run's very frames and result, kept in Redis by process A.
    late.socket.emit('room:replay');
    const [, replayed] = await late.next('room:result', (event, value) => event === 'run:prompt' && (value as RunResult).runId === runId, 5000);
    expect((replayed as RunResult).tokens).toEqual(tokens);
    expect(bytes(late)).toEqual(bytes(presenter));
    // The owner sees members on both processes.
    const members = await call<{ members: { id: string }[] }>(presenter.socket, 'room:members');
    if (!members.ok) throw new Error(members.error.message);
    expect(members.value.members.map((m) => m.id).sort()).toEqual([me.memberId, ...welcomes.map((w) => w.memberId), snapshot.memberId].sort());

    // Roles hold across processes: a follower on B cannot drive.
    expect(await call(followers[0]!.socket, 'run:prompt', { prompt: 'hello' })).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    expect(await call(followers[0]!.socket, 'room:state', { prompt: 'hijack' })).toMatchObject({ ok: false, error: { code: 'forbidden' } });

    // Control handed to a member on the other process, who then drives the room from there.
    const target = welcomes[0]!.memberId;
    expect(await call(presenter.socket, 'room:hand', target)).toEqual({ ok: true, value: { controller: target } });
    await presenter.next('room:control', (id) => id === target);
    const theirs = await call<RunResult>(followers[0]!.socket, 'run:prompt', { prompt: 'A dog' });
    if (!theirs.ok) throw new Error(theirs.error.message);
    await presenter.next('room:result', (_e, v) => (v as RunResult).runId === theirs.value.runId, 10_000);
    const count = (r: Recorder) => r.of('run:frame').filter(([id]) => id === theirs.value.runId).length;
    expect(count(presenter)).toBe(theirs.value.tokens.length);
    await followers[1]!.next('room:result', (_e, v) => (v as RunResult).runId === theirs.value.runId, 10_000);
    expect(count(followers[1]!)).toBe(theirs.value.tokens.length);
    // And taken back by the owner.
    expect(await call(presenter.socket, 'room:take')).toEqual({ ok: true, value: { controller: me.memberId } });
    await followers[0]!.next('room:control', (id) => id === me.memberId, 5000);
    expect(await call(followers[0]!.socket, 'room:state', { prompt: 'again' })).toMatchObject({ ok: false, error: { code: 'forbidden' } });

    // The pointer crosses too (volatile, rate-limited).
    presenter.socket.emit('room:pointer', { origin: [0, 1, 0], direction: [0, 0, -1], hit: null });
    await followers[1]!.next('room:pointer', undefined, 5000);
  });
});
