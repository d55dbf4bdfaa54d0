/**
 * Follow mode against the real server (bundled model, real socket.io): a page joined from the
 * audience link (the app's own connection.ts and activation store, plus client/state/room.ts)
 * shows the presenter's run with its frames, tokens and predictions, follows position and
 * selection, keeps its own view while detached and takes the presenter's again on rejoin; the
 * link's control token leaves the address bar.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../server/main.js';
import { ActivationStore } from '../../client/state/activation-store.js';
import { createAppStore, type AppStore } from '../../client/state/app-store.js';
import { createConnection, createSocketBackend, type Connection } from '../../client/state/connection.js';
import { attachRoom, createRoomStore, takeRoomLink, type RoomControls, type RoomStore } from '../../client/state/room.js';
import type { RoomOpened, RunResult } from '../../shared/protocol.js';
import { call, join, joined, queryOf, type Recorder } from '../server/rooms/helpers.js';

const bundled = fileURLToPath(new URL('../../assets/models/brown-gpt2/', import.meta.url));
let server: Awaited<ReturnType<typeof startServer>>;
let presenter: Recorder;
let opened: RoomOpened;
let page: { app: AppStore; activations: ActivationStore; connection: Connection; room: RoomStore; controls: RoomControls };

const until = async (check: () => boolean, what: string, ms = 20_000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

beforeAll(async () => {
  server = await startServer({ model: bundled, port: 0, host: '127.0.0.1', device: 'cpu', https: false, serveClient: false, index: false, log: () => {}, token: 'client-room-token' });
  presenter = await join(server.url, { token: server.token });
  const answer = await call<RoomOpened>(presenter.socket, 'room:open');
  if (!answer.ok) throw new Error(answer.error.message);
  opened = answer.value;
  await joined(presenter);
  const app = createAppStore();
  const activations = new ActivationStore();
  const connection = createConnection(app, activations, createSocketBackend(server.url, null));
  const room = createRoomStore();
  const controls = attachRoom(connection.backend, app, activations, room, { room: opened.room });
  page = { app, activations, connection, room, controls };
  await until(() => room.getState().memberId !== null && app.getState().model !== null, 'the page joined the room');
});

afterAll(async () => {
  page?.controls.dispose();
  page?.connection.close();
  presenter?.socket.disconnect();
  await server?.close();
});

describe('follow mode (client/state/room.ts)', () => {
  it('takes the room link from the URL and removes the control token from the address bar', () => {
    const replaced: string[] = [];
    const store = new Map<string, string>();
    const storage = { getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => void store.set(k, v) } as unknown as Storage;
    const history = { state: null, replaceState: (_s: unknown, _t: string, url: string) => void replaced.push(url) } as unknown as History;
    const link = takeRoomLink({ href: 'http://h:1/?room=abcdefghijklmnopqrstuv&control=secret-control-token' } as Location, history, storage);
    expect(link).toEqual({ room: 'abcdefghijklmnopqrstuv', control: 'secret-control-token' });
    expect(replaced).toEqual(['/?room=abcdefghijklmnopqrstuv']);
    // A reload without the query keeps the room for this tab.
    expect(takeRoomLink({ href: 'http://h:1/' } as Location, history, storage)).toEqual(link);
  });

  it('shows the presenter\'s run and follows its position and selection; detached keeps its own view', async () => {
    const { app, room, controls, activations } = page;
    expect(room.getState().owner).toBe(false);
    expect(queryOf(opened.audienceQuery).control).toBeUndefined();
    const run = await call<RunResult>(presenter.socket, 'run:prompt', { prompt: 'The cat sat on the mat' });
    if (!run.ok) throw new Error(run.error.message);
    const { runId, tokens, predictions } = run.value;
    await until(() => app.getState().runId === runId && app.getState().runStatus === 'idle', 'the follower shows the run');
    await until(() => app.getState().framesReady === tokens.length, 'every frame arrived');
    expect(app.getState().tokens).toEqual(tokens);
    expect(app.getState().predictions).toEqual(predictions);
    expect(activations.version).toBeGreaterThan(0);

    await call(presenter.socket, 'room:state', { position: 2, selection: { kind: 'neuron', layer: 1, index: 42 } });
    await until(() => app.getState().position === 2, 'position followed');
    expect(app.getState().selection).toEqual({ layer: 1, neuron: 42 });

    controls.detach();
    app.setState({ position: 4, selection: { layer: 0, neuron: 7 } });
    await call(presenter.socket, 'room:state', { position: 1, selection: { kind: 'neuron', layer: 3, index: 5 } });
    await until(() => room.getState().state.position === 1, 'the snapshot still arrives while detached');
    expect(app.getState().position).toBe(4);
    expect(app.getState().selection).toEqual({ layer: 0, neuron: 7 });
    // Still sees the shared run while detached.
    const second = await call<RunResult>(presenter.socket, 'run:prompt', { prompt: 'A dog' });
    if (!second.ok) throw new Error(second.error.message);
    await until(() => app.getState().runId === second.value.runId && app.getState().runStatus === 'idle', 'the next run shown while detached');
    expect(app.getState().tokens).toEqual(second.value.tokens);

    controls.rejoin();
    expect(app.getState().position).toBe(Math.min(1, second.value.tokens.length - 1));
    expect(app.getState().selection).toEqual({ layer: 3, neuron: 5 });
  });

  it('streams the presenter\'s generation into the follower\'s token rail', async () => {
    const { app } = page;
    const gen = await call<{ runId: string; tokens: unknown[] }>(presenter.socket, 'generate:start', { prompt: 'Once upon a time', maxTokens: 3 });
    if (!gen.ok) throw new Error(gen.error.message);
    await until(() => app.getState().runId === gen.value.runId && app.getState().runStatus === 'idle' && app.getState().stopReason !== null, 'generation done');
    const sent = presenter.of('generate:token').filter(([id]) => id === gen.value.runId).map(([, t]) => t);
    expect(app.getState().tokens).toEqual([...gen.value.tokens, ...sent]);
    expect(app.getState().promptLength).toBe(gen.value.tokens.length);
  });

  it('forgets a room that no longer exists and connects without it, saying why', async () => {
    const app = createAppStore();
    const activations = new ActivationStore();
    const connection = createConnection(app, activations, createSocketBackend(server.url, null));
    const room = createRoomStore();
    const removed: string[] = [];
    const storage = { removeItem: (k: string) => void removed.push(k) } as unknown as Storage;
    const controls = attachRoom(connection.backend, app, activations, room, { room: 'gone'.repeat(6) }, storage);
    try {
      await until(() => app.getState().connection === 'connected', 'connected without the room');
      expect(room.getState().error).toMatch(/no such room/);
      expect(room.getState().room).toBeNull();
      expect(removed).toEqual(['circuits-xr-room']);
    } finally {
      controls.dispose();
      connection.close();
    }
  });
});
