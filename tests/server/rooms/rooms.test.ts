/**
 * Presentation rooms on the real server (bundled model, socket.io over websocket on a free port,
 * real socket.io clients): the presenter's runs and state reach followers, followers cannot drive,
 * late joiners and reconnects get the snapshot, control is handed over and taken back, pointer
 * updates are rate limited, rooms have a size limit, and the control token never reaches followers.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../../server/main.js';
import { POINTER_RATE } from '../../../server/rooms/rooms.js';
import type { RoomJoined, RoomOpened, RunResult } from '../../../shared/protocol.js';
import { call, join, joined, queryOf, type Recorder } from './helpers.js';

const bundled = fileURLToPath(new URL('../../../assets/models/brown-gpt2/', import.meta.url));
const ROOM_SIZE = 3;

let server: Awaited<ReturnType<typeof startServer>>;
const open: Recorder[] = [];
const track = (r: Recorder) => (open.push(r), r);

beforeAll(async () => {
  server = await startServer({
    model: bundled, port: 0, host: '127.0.0.1', device: 'cpu', https: false, serveClient: false, index: false, log: () => {},
    token: 'rooms-access-token', requireToken: true, maxRoomMembers: ROOM_SIZE,
  });
});

afterAll(async () => {
  for (const r of open) r.socket.disconnect();
  await server?.close();
});

/** A room opened from the app: an operator socket sends 'room:open' and becomes its presenter. */
async function presentFromApp(): Promise<{ presenter: Recorder; opened: RoomOpened; me: RoomJoined }> {
  const presenter = track(await join(server.url, { token: server.token }));
  const answer = await call<RoomOpened>(presenter.socket, 'room:open');
  if (!answer.ok) throw new Error(answer.error.message);
  return { presenter, opened: answer.value, me: await joined(presenter) };
}

async function follow(opened: RoomOpened): Promise<Recorder> {
  return track(await join(server.url, queryOf(opened.audienceQuery)));
}

describe('presentation rooms', () => {
  it('gives the presenter a link with an unguessable control token and the audience one without', async () => {
    const { opened, me } = await presentFromApp();
    const presenter = queryOf(opened.presenterQuery);
    const audience = queryOf(opened.audienceQuery);
    expect(presenter.room).toBe(opened.room);
    expect(presenter.control!.length).toBeGreaterThanOrEqual(32); // 24 random bytes, base64url
    expect(presenter.token).toBe(server.token);
    expect(Object.keys(audience)).toEqual(['room']);
    expect(opened.room.length).toBeGreaterThanOrEqual(22);
    expect(me.owner).toBe(true);
    expect(me.controller).toBe(me.memberId);
    // The CLI's links (npm start -- --present) have the same shape.
    const cli = await server.openRoom();
    expect(cli.presenterUrl).toMatch(/\?token=rooms-access-token&room=[\w-]+&control=[\w-]{32}$/);
    expect(cli.audienceUrl).toBe(`${server.url}?room=${cli.room}`);
    // A second room's tokens differ (random, not derived).
    expect(queryOf(opened.presenterQuery).control).not.toBe(queryOf(cli.presenterUrl).control);
  });

  it('broadcasts the presenter\'s run (frames once per run, then its result) and state to followers', async () => {
    const { presenter, opened } = await presentFromApp();
    const follower = await follow(opened);
    const welcome = await joined(follower);
    expect(welcome.owner).toBe(false);
    expect(welcome.state).toEqual({});

    const update = await call<{ version: number }>(presenter.socket, 'room:state', { prompt: 'The cat sat on the', position: 3, panels: ['prediction'] });
    expect(update).toEqual({ ok: true, value: { version: 1 } });
    const [state, version] = await follower.next('room:state');
    expect(state).toEqual({ prompt: 'The cat sat on the', position: 3, panels: ['prediction'] });
    expect(version).toBe(1);

    const answer = await call<RunResult>(presenter.socket, 'run:prompt', { prompt: 'The cat sat on the' });
    if (!answer.ok) throw new Error(answer.error.message);
    const { runId, tokens } = answer.value;
    const [, result] = await follower.next('room:result', (event) => event === 'run:prompt');
    expect((result as RunResult).runId).toBe(runId);
    expect((result as RunResult).tokens).toEqual(tokens);
    const mine = presenter.of('run:frame').filter(([id]) => id === runId);
    const theirs = follower.of('run:frame').filter(([id]) => id === runId);
    expect(mine).toHaveLength(tokens.length);
    // Same bytes, same run id: the model ran once and the frames were sent to both.
    expect(theirs.map(([, f]) => Buffer.from(f as ArrayBuffer).toString('base64'))).toEqual(mine.map(([, f]) => Buffer.from(f as ArrayBuffer).toString('base64')));
    // Frames arrive before the result, as for the presenter.
    const firstResult = follower.events.findIndex((e) => e[0] === 'room:result');
    const lastFrame = follower.events.map((e) => e[0] === 'run:frame' && e[1] === runId).lastIndexOf(true);
    expect(lastFrame).toBeLessThan(firstResult);
  });

  it('streams a generation to followers', async () => {
    const { presenter, opened } = await presentFromApp();
    const follower = await follow(opened);
    await joined(follower);
    const answer = await call<{ runId: string }>(presenter.socket, 'generate:start', { prompt: 'Once upon a', maxTokens: 4 });
    if (!answer.ok) throw new Error(answer.error.message);
    const { runId } = answer.value;
    await follower.next('generate:done', (id) => id === runId);
    await presenter.next('generate:done', (id) => id === runId);
    const text = (r: Recorder) => r.of('generate:token').filter(([id]) => id === runId).map(([, t]) => (t as { text: string }).text);
    expect(text(follower)).toHaveLength(4);
    expect(text(follower)).toEqual(text(presenter));
    const [, started] = await follower.next('room:result', (event) => event === 'generate:start');
    expect((started as { runId: string }).runId).toBe(runId);
  });

  it('refuses a follower\'s attempts to drive, with a forbidden error, and never sends it the control token', async () => {
    const { presenter, opened } = await presentFromApp();
    const follower = await follow(opened);
    await joined(follower);
    const control = queryOf(opened.presenterQuery).control!;
    for (const [event, payload] of [
      ['run:prompt', { prompt: 'hello' }],
      ['generate:start', { prompt: 'hello', maxTokens: 2 }],
      ['analysis:effects', { prompt: 'The cat', target: ' sat', distractor: ' ran' }],
      ['room:state', { prompt: 'hijacked' }],
      ['room:hand', follower.socket.id],
      ['room:open', undefined],
    ] as const) {
      const answer = payload === undefined ? await call(follower.socket, event) : await call(follower.socket, event, payload);
      expect(answer.ok, event).toBe(false);
      if (!answer.ok) expect(answer.error.code, `${event}: ${answer.error.message}`).toBe('forbidden');
    }
    expect(await call(follower.socket, 'room:take')).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    follower.socket.emit('room:pointer', { origin: [0, 0, 0], direction: [0, 0, 1] });
    const [refusal] = await follower.next('error');
    expect(refusal).toMatchObject({ code: 'forbidden' });
    // The state did not change, and the presenter was never told of a hijack.
    const late = await follow(opened);
    expect((await joined(late)).state.prompt).toBeUndefined();
    expect(presenter.of('room:state')).toHaveLength(0);
    // A follower presenting a wrong control token is refused outright.
    await expect(join(server.url, { room: opened.room, control: 'x'.repeat(32) })).rejects.toThrow(/wrong control token/);
    await expect(join(server.url, { room: 'n'.repeat(22) })).rejects.toThrow(/no such room/);
    // Without a room, a server that requires its token still refuses a connection without it.
    await expect(join(server.url, {})).rejects.toThrow(/access token/);
    for (const r of [follower, late]) expect(JSON.stringify(r.events)).not.toContain(control);
  });

  it('gives late joiners and reconnecting followers the current snapshot at once', async () => {
    const { presenter, opened } = await presentFromApp();
    await call(presenter.socket, 'room:state', { prompt: 'Alice and Bob', target: ' Bob', distractor: ' Alice', circuit: { pins: ['L3/N7'], pruning: 0.8 } });
    await call(presenter.socket, 'room:state', { selection: { kind: 'neuron', layer: 2, index: 17 } });
    presenter.socket.emit('room:camera', { position: [1, 2, 3], target: [0, 0, 0] });
    const late = await follow(opened);
    const snapshot = await joined(late);
    expect(snapshot.version).toBe(2);
    expect(snapshot.state).toMatchObject({ prompt: 'Alice and Bob', target: ' Bob', distractor: ' Alice', circuit: { pins: ['L3/N7'], pruning: 0.8 }, selection: { kind: 'neuron', layer: 2, index: 17 } });
    // The camera is stored asynchronously after its volatile relay.
    const cameraOfLateJoiner = async () => {
      const r = await follow(opened);
      const { state } = await joined(r);
      r.socket.disconnect();
      return state.camera;
    };
    await expect.poll(cameraOfLateJoiner, { timeout: 5000 }).toEqual({ position: [1, 2, 3], target: [0, 0, 0] });

    // Reconnecting (socket.io resends the same auth): the snapshot arrives again.
    await call(presenter.socket, 'room:state', { position: 4 });
    const before = late.of('room:joined').length;
    late.socket.disconnect();
    late.socket.connect();
    await late.next('room:joined', () => late.of('room:joined').length > before);
    const again = late.of('room:joined').at(-1)![0] as RoomJoined;
    expect(again.state.position).toBe(4);
    expect(again.version).toBe(3);
  });

  it('refuses invalid or oversized state in words', async () => {
    const { presenter } = await presentFromApp();
    expect(await call(presenter.socket, 'room:state', { colour: 'red' })).toMatchObject({ ok: false, error: { code: 'bad_request', message: expect.stringMatching(/unknown state field "colour"/) } });
    expect(await call(presenter.socket, 'room:state', { position: -1 })).toMatchObject({ ok: false, error: { code: 'bad_request' } });
    expect(await call(presenter.socket, 'room:state', { camera: { position: [0, 0], target: [0, 0, 0] } })).toMatchObject({ ok: false, error: { code: 'bad_request' } });
    const big = { circuit: { pins: Array.from({ length: 40 }, () => 'x'.repeat(2000)) } };
    expect(await call(presenter.socket, 'room:state', big)).toMatchObject({ ok: false, error: { code: 'bad_request', message: expect.stringMatching(/over the limit/) } });
  });

  it('hands control to a follower and takes it back', async () => {
    const { presenter, opened, me } = await presentFromApp();
    const follower = await follow(opened);
    const other = await follow(opened);
    const { memberId } = await joined(follower);
    await joined(other);
    expect(await call(presenter.socket, 'room:hand', memberId)).toEqual({ ok: true, value: { controller: memberId } });
    await other.next('room:control', (id) => id === memberId);
    // The new presenter drives: its state and run reach the others.
    expect(await call(follower.socket, 'room:state', { prompt: 'my turn' })).toMatchObject({ ok: true });
    await other.next('room:state', (s) => (s as { prompt?: string }).prompt === 'my turn');
    const run = await call<RunResult>(follower.socket, 'run:prompt', { prompt: 'my turn' });
    if (!run.ok) throw new Error(run.error.message);
    await presenter.next('room:result', (_e, v) => (v as RunResult).runId === run.value.runId);
    // The owner no longer drives until it takes control back.
    expect(await call(presenter.socket, 'room:state', { prompt: 'owner' })).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    expect(await call(follower.socket, 'room:take')).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    expect(await call(presenter.socket, 'room:take')).toEqual({ ok: true, value: { controller: me.memberId } });
    await follower.next('room:control', (id) => id === me.memberId);
    expect(await call(follower.socket, 'room:state', { prompt: 'again' })).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    expect(await call(presenter.socket, 'room:state', { prompt: 'owner' })).toMatchObject({ ok: true });
    // Control goes only to members of this room.
    expect(await call(presenter.socket, 'room:hand', 'not-a-member')).toMatchObject({ ok: false, error: { code: 'bad_request' } });
  });

  it('rate-limits pointer updates (volatile: the excess is dropped)', async () => {
    const { presenter, opened } = await presentFromApp();
    const follower = await follow(opened);
    await joined(follower);
    // Three every 10 ms (300 Hz; still over the limit when a loaded machine stretches the timer)
    // for a second, spaced out so the transport itself drops nothing; the limiter must.
    const started = performance.now();
    let sent = 0;
    while (performance.now() - started < 1000) {
      for (let i = 0; i < 3; i++) presenter.socket.emit('room:pointer', { origin: [0, 1.6, 0], direction: [0, 0, -1], hit: [sent++, 0, -2] });
      await new Promise((r) => setTimeout(r, 10));
    }
    const elapsed = (performance.now() - started) / 1000;
    // A marker after the stream: once it has arrived, every pointer that was relayed has too.
    await call(presenter.socket, 'room:state', { position: 1 });
    await follower.next('room:state');
    const received = follower.of('room:pointer');
    const allowed = POINTER_RATE.burst + POINTER_RATE.perSecond * elapsed + 2;
    expect(sent).toBeGreaterThan(allowed + 10); // the input really was faster than the limit
    expect(received.length).toBeGreaterThanOrEqual(POINTER_RATE.burst);
    expect(received.length).toBeLessThanOrEqual(allowed);
    expect(received[0]![0]).toEqual({ origin: [0, 1.6, 0], direction: [0, 0, -1], hit: [0, 0, -2] });
    // After a pause the bucket refills and updates flow again.
    await new Promise((r) => setTimeout(r, 400));
    presenter.socket.emit('room:pointer', { origin: [0, 1.6, 0], direction: [0, 0, -1], hit: [999, 0, -2] });
    await follower.next('room:pointer', (p) => (p as { hit: number[] }).hit[0] === 999, 5000);
  });

  it('refuses members past the room size limit', async () => {
    const { opened } = await presentFromApp();
    const members: Recorder[] = [];
    for (let i = 1; i < ROOM_SIZE; i++) members.push(await follow(opened));
    await expect(follow(opened)).rejects.toThrow(/room is full \(3 members/);
    // A member leaving frees a place.
    members[0]!.socket.disconnect();
    await expect.poll(async () => follow(opened).then(() => true, () => false), { timeout: 5000 }).toBe(true);
  });
});
