/**
 * Access control and per-client limits on the real server (bundled model, socket.io over
 * websocket on a free port, real socket.io clients): the Origin check, the access token and the
 * operator/viewer roles, the connection cap per address, 'busy' past the per-client job cap,
 * fairness between addresses (a second loopback address, 127.0.0.2, stands for another machine),
 * and messages the server will not read answered in words.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io as connect, Manager, type Socket, type ManagerOptions, type SocketOptions } from 'socket.io-client';
import { startServer } from '../../../server/main.js';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../shared/protocol.js';
import { requestLimits } from '../../../shared/limits.js';

const bundled = fileURLToPath(new URL('../../../assets/models/brown-gpt2/', import.meta.url));

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;
type Server = Awaited<ReturnType<typeof startServer>>;
const clients: Client[] = [];
const servers: Server[] = [];

async function serve(options: Partial<Parameters<typeof startServer>[0]> = {}): Promise<Server> {
  const server = await startServer({
    model: bundled, port: 0, host: '127.0.0.1', device: 'cpu', https: false, serveClient: false, index: false, log: () => {}, ...options,
  });
  servers.push(server);
  return server;
}

function open(url: string, options: Partial<ManagerOptions & SocketOptions> = {}): Client {
  const socket: Client = connect(url, { transports: ['websocket'], forceNew: true, reconnection: false, ...options });
  clients.push(socket);
  return socket;
}

/** Connects; resolves with null when connected, or the refusal's message. */
function outcome(socket: Client): Promise<string | null> {
  return new Promise((resolve) => {
    socket.once('connect', () => resolve(null));
    socket.once('connect_error', (error) => resolve(error.message));
  });
}

async function connected(url: string, options: Partial<ManagerOptions & SocketOptions> = {}): Promise<Client> {
  const socket = open(url, options);
  const refused = await outcome(socket);
  if (refused !== null) throw new Error(`refused: ${refused}`);
  return socket;
}

let loopback: Server;

beforeAll(async () => {
  loopback = await serve({ token: 'loopback-secret', allowOrigins: ['https://lab.example:8443'] });
});

afterAll(async () => {
  for (const c of clients) c.disconnect();
  for (const s of servers) await s.close();
});

describe('origin check', () => {
  it('refuses a foreign page and accepts its own pages, allowed origins and clients without an Origin', async () => {
    const port = new URL(loopback.url).port;
    const foreign = await outcome(open(loopback.url, { extraHeaders: { Origin: 'http://evil.example' } }));
    expect(foreign).toMatch(/a page from http:\/\/evil\.example may not use this server/);
    expect(foreign).toMatch(/--allow-origin http:\/\/evil\.example/);
    // Same host, another port: another origin.
    expect(await outcome(open(loopback.url, { extraHeaders: { Origin: `http://127.0.0.1:${Number(port) + 1}` } }))).toMatch(/may not use this server/);
    expect(await outcome(open(loopback.url, { extraHeaders: { Origin: 'null' } }))).toMatch(/may not use this server/);
    expect(await outcome(open(loopback.url, { extraHeaders: { Origin: `http://127.0.0.1:${port}` } }))).toBeNull();
    expect(await outcome(open(loopback.url, { extraHeaders: { Origin: 'https://lab.example:8443' } }))).toBeNull();
    expect(await outcome(open(loopback.url))).toBeNull();
  });

  it('refuses a foreign page that rebinds its name to this loopback-bound server (Origin and Host agree)', async () => {
    const port = new URL(loopback.url).port;
    const rebound = open(loopback.url, { extraHeaders: { Host: `evil.example:${port}`, Origin: `http://evil.example:${port}` } });
    expect(await outcome(rebound)).toMatch(/answers to localhost or 127\.0\.0\.1, not to "evil\.example:\d+"/);
    expect(await outcome(open(loopback.url, { extraHeaders: { Host: `localhost:${port}`, Origin: `http://localhost:${port}` } }))).toBeNull();
  });
});

describe('access token and roles', () => {
  it('beyond loopback: refuses a connection without the token or with a wrong one, in words; accepts the token', async () => {
    const guarded = await serve({ requireToken: true });
    expect(guarded.token.length).toBeGreaterThanOrEqual(24); // random, unguessable
    expect(guarded.pageUrl).toBe(`${guarded.url}?token=${guarded.token}`);
    expect(await outcome(open(guarded.url))).toMatch(/this server needs its access token: open the link printed by npm start/);
    expect(await outcome(open(guarded.url, { auth: { token: 'not-the-token' } }))).toMatch(/wrong access token/);
    const withAuth = await connected(guarded.url, { auth: { token: guarded.token } });
    expect((await withAuth.emitWithAck('run:prompt', { prompt: 'The cat' })).ok).toBe(true);
    // The printed link works as a socket URL too (?token= in the query).
    expect(await outcome(open(guarded.pageUrl))).toBeNull();
  });

  it('requires the token by default when bound beyond loopback', async () => {
    const wide = await serve({ host: '0.0.0.0' });
    expect(wide.requireToken).toBe(true);
    const url = `http://127.0.0.1:${new URL(wide.url).port}/`;
    expect(await outcome(open(url))).toMatch(/needs its access token/);
    expect(await outcome(open(url, { auth: { token: wide.token } }))).toBeNull();
    expect(loopback.requireToken).toBe(false);
  });

  it('on loopback a client without the token is a viewer: it runs the model but cannot build or cancel the index', async () => {
    const viewer = await connected(loopback.url);
    expect((await viewer.emitWithAck('run:prompt', { prompt: 'The cat' })).ok).toBe(true);
    for (const event of ['index:build', 'index:cancel'] as const) {
      const refused = await viewer.emitWithAck(event);
      expect(refused.ok).toBe(false);
      if (refused.ok) continue;
      expect(refused.error.code).toBe('forbidden');
      expect(refused.error.message).toMatch(new RegExp(`^${event}: only the operator may do this`));
    }
    // Nothing was started: the index is as it was.
    const status = await viewer.emitWithAck('index:status');
    expect(status.ok && status.value.state).not.toBe('building');
    const operator = await connected(loopback.url, { auth: { token: 'loopback-secret' } });
    const cancelled = await operator.emitWithAck('index:cancel');
    expect(cancelled.ok).toBe(true);
  });

  it('no client can cancel another client\'s job', async () => {
    const owner = await connected(loopback.url, { auth: { token: 'loopback-secret' } });
    const other = await connected(loopback.url, { auth: { token: 'loopback-secret' } });
    const done = new Promise<string>((resolve) => owner.on('generate:done', (_id, reason) => resolve(reason)));
    const started = await owner.emitWithAck('generate:start', { prompt: 'Once upon', maxTokens: 12, temperature: 0 });
    expect(started.ok).toBe(true);
    if (!started.ok) return;
    const errors: string[] = [];
    other.on('error', (e) => errors.push(e.message));
    other.emit('run:cancel', started.value.runId);
    expect(['length', 'eos']).toContain(await done); // it ran to its end, not 'cancelled'
    expect(errors).toEqual([`run:cancel: no running job ${started.value.runId}`]);
  });
});

describe('per-client limits', () => {
  it('answers runs past the per-client queue cap with a busy error in words', async () => {
    const socket = await connected(loopback.url);
    const responses = await Promise.all(Array.from({ length: 40 }, (_, k) => socket.emitWithAck('run:prompt', { prompt: `Request number ${k}` })));
    const ok = responses.filter((r) => r.ok).length;
    const busy = responses.flatMap((r) => (r.ok ? [] : [r.error]));
    // 8 are queued at once; a run that finishes while later requests are still arriving frees a place.
    expect(ok).toBeGreaterThanOrEqual(8);
    expect(busy.length).toBeGreaterThanOrEqual(20);
    expect(ok + busy.length).toBe(40);
    for (const error of busy) {
      expect(error.code).toBe('busy');
      expect(error.message).toMatch(/you already have 8 requests waiting \(at most 8\)/);
    }
    // The cap is per client: another socket is served at once.
    const other = await connected(loopback.url);
    expect((await other.emitWithAck('run:prompt', { prompt: 'Me too' })).ok).toBe(true);
    // Once its queue drained, the first client is served again.
    expect((await socket.emitWithAck('run:prompt', { prompt: 'Again' })).ok).toBe(true);
  });

  it('caps connections per address and says so; a closed connection frees its place', async () => {
    const capped = await serve({ maxConnectionsPerAddress: 3 });
    const first = [await connected(capped.url), await connected(capped.url), await connected(capped.url)];
    expect(await outcome(open(capped.url))).toMatch(/127\.0\.0\.1 already has 3 connections to this server \(at most 3\)/);
    // Another address is not affected.
    expect(await outcome(open(capped.url, { localAddress: '127.0.0.2' } as Partial<ManagerOptions>))).toBeNull();
    first[0]!.disconnect();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await outcome(open(capped.url))).toBeNull();
    // Transport connections that never ask for a socket: refused outright past twice the cap.
    const raw: Manager[] = [];
    const opened = async () => {
      const manager = new Manager(capped.url, { transports: ['websocket'], reconnection: false, autoConnect: false });
      raw.push(manager);
      return new Promise<boolean>((resolve) => manager.open((error) => resolve(!error)));
    };
    const results: boolean[] = [];
    for (let k = 0; k < 4; k++) results.push(await opened());
    expect(results).toEqual([true, true, true, false]); // 3 sockets + 3 bare transports = 6 = 2 × 3
    for (const manager of raw) manager.engine?.close();
  });

  it('shares the model between addresses first: one socket is not starved by 20 sockets from another address', async () => {
    const crowd = await Promise.all(Array.from({ length: 20 }, () => connected(loopback.url, { localAddress: '127.0.0.2' } as Partial<ManagerOptions>)));
    const solo = await connected(loopback.url);
    const finished: string[] = [];
    const crowdDone = crowd.map((socket, k) => new Promise<void>((resolve) => socket.on('generate:done', () => { finished.push(`crowd-${k}`); resolve(); })));
    const soloDone = new Promise<void>((resolve) => solo.on('generate:done', () => { finished.push('solo'); resolve(); }));
    const request = { prompt: 'The old man', maxTokens: 8, temperature: 0 };
    const firstToken = new Promise<void>((resolve) => crowd.forEach((s) => s.once('generate:token', () => resolve())));
    for (const socket of crowd) socket.emit('generate:start', request, () => {});
    await firstToken; // the crowd's 20 generations are queued and streaming
    solo.emit('generate:start', request, () => {});
    await Promise.all([soloDone, ...crowdDone]);
    // Round robin by socket would give the solo user 1/21 of the steps and finish it with the
    // crowd; by address it gets every other step and finishes first.
    expect(finished[0]).toBe('solo');
    expect(finished).toHaveLength(21);
  });
});

describe('messages the server will not read', () => {
  it('answers a message over the app limit with a too_large error, and keeps the connection', async () => {
    const socket = await connected(loopback.url);
    const size = requestLimits.messageBytes + 200_000;
    const response = await socket.emitWithAck('run:prompt', { prompt: 'x'.repeat(size) });
    expect(response.ok).toBe(false);
    if (response.ok) return;
    expect(response.error.code).toBe('too_large');
    expect(response.error.message).toMatch(/^run:prompt: the message is 1\.2 MB, over the server's limit of 1 MB; it was not read$/);
    expect(socket.connected).toBe(true);
    expect((await socket.emitWithAck('run:prompt', { prompt: 'Still here' })).ok).toBe(true);
  });

  it('closes past the transport limit with websocket code 1009, which the page turns into words', async () => {
    const socket = await connected(loopback.url);
    const closed = new Promise<unknown>((resolve) => socket.on('disconnect', (_reason, details) => resolve(details)));
    socket.emit('tokenize', 'x'.repeat(requestLimits.transportBytes + 1000), () => {});
    const details = (await closed) as { context?: { code?: number } };
    expect(details.context?.code).toBe(1009); // client/state/connection.ts names this case
  });

  it('explains a packet it cannot parse before closing the connection', async () => {
    const socket = await connected(loopback.url);
    const said = new Promise<string>((resolve) => socket.on('error', (e) => resolve(`${e.code}: ${e.message}`)));
    const closed = new Promise<string>((resolve) => socket.on('disconnect', (reason) => resolve(reason)));
    // An event packet whose JSON is cut off, written straight to the transport.
    (socket.io.engine as unknown as { write: (data: string) => void }).write('42["run:prompt",{"prompt":');
    expect(await said).toMatch(/^bad_request: the server could not read a message from this client \(.+\); it closes the connection$/);
    expect(await closed).toMatch(/transport close|io server disconnect/);
  });
});
