/**
 * Late joiners get the room's last run at once when they ask ('room:replay') (its frames, then its result; a generation's tokens;
 * the last analysis result), replayed from the room store, and the model runs once per presenter
 * action however many follow (ModelRunner.executions counts every forward pass).
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../../server/main.js';
import type { EffectsResult, RoomOpened, RunResult } from '../../../shared/protocol.js';
import { call, join, joined, queryOf, type Recorder } from './helpers.js';

const bundled = fileURLToPath(new URL('../../../assets/models/brown-gpt2/', import.meta.url));
let server: Awaited<ReturnType<typeof startServer>>;
const open: Recorder[] = [];
const track = (r: Recorder) => (open.push(r), r);

beforeAll(async () => {
  server = await startServer({ model: bundled, port: 0, host: '127.0.0.1', device: 'cpu', https: false, serveClient: false, index: false, log: () => {}, token: 'replay-token' });
});

afterAll(async () => {
  for (const r of open) r.socket.disconnect();
  await server?.close();
});

async function present(): Promise<{ presenter: Recorder; opened: RoomOpened }> {
  const presenter = track(await join(server.url, { token: server.token }));
  const answer = await call<RoomOpened>(presenter.socket, 'room:open');
  if (!answer.ok) throw new Error(answer.error.message);
  await joined(presenter);
  return { presenter, opened: answer.value };
}

const b64 = (f: unknown) => Buffer.from(f as ArrayBuffer).toString('base64');

describe('late joiners and model runs in a room', () => {
  it('runs the model the same number of times with 0 or 4 followers', async () => {
    const alone = await present();
    let before = server.host.runner.executions;
    const a = await call<RunResult>(alone.presenter.socket, 'run:prompt', { prompt: ' the cat sat on the mat' });
    expect(a.ok).toBe(true);
    const solo = server.host.runner.executions - before;
    expect(solo).toBeGreaterThan(0);

    const { presenter, opened } = await present();
    const followers = await Promise.all([0, 1, 2, 3].map(async () => track(await join(server.url, queryOf(opened.audienceQuery)))));
    await Promise.all(followers.map(joined));
    before = server.host.runner.executions;
    const b = await call<RunResult>(presenter.socket, 'run:prompt', { prompt: ' the cat sat on the mat' });
    if (!b.ok) throw new Error(b.error.message);
    await Promise.all(followers.map((f) => f.next('room:result', (_e, v) => (v as RunResult).runId === b.value.runId)));
    expect(server.host.runner.executions - before).toBe(solo);
    for (const f of followers) expect(f.of('run:frame').filter(([id]) => id === b.value.runId)).toHaveLength(b.value.tokens.length);
  });

  it('sends a late joiner the last run\'s frames and result, and the last effects, without running the model', async () => {
    const { presenter, opened } = await present();
    const run = await call<RunResult>(presenter.socket, 'run:prompt', { prompt: ' the apple fell from the' });
    if (!run.ok) throw new Error(run.error.message);
    const effects = await call<EffectsResult>(presenter.socket, 'analysis:effects', { prompt: ' the apple fell from the', target: ' tree', distractor: ' sky' });
    if (!effects.ok) throw new Error(effects.error.message);
    const mine = presenter.of('run:frame').filter(([id]) => id === run.value.runId).map(([, f]) => b64(f));

    const before = server.host.runner.executions;
    const late = track(await join(server.url, queryOf(opened.audienceQuery)));
    await joined(late);
    late.socket.emit('room:replay');
    const [, result] = await late.next('room:result', (event) => event === 'run:prompt');
    expect((result as RunResult).tokens).toEqual(run.value.tokens);
    const [, shown] = await late.next('room:result', (event) => event === 'analysis:effects');
    expect((shown as EffectsResult).logitDiff).toBe(effects.value.logitDiff);
    const theirs = late.of('run:frame').filter(([id]) => id === run.value.runId).map(([, f]) => b64(f));
    expect(theirs).toEqual(mine);
    // Snapshot first, then (asked for) frames, then the result.
    const order = late.events.map((e) => e[0]);
    expect(order.indexOf('room:joined')).toBeLessThan(order.indexOf('run:frame'));
    expect(order.lastIndexOf('run:frame')).toBeLessThan(order.indexOf('room:result'));
    expect(server.host.runner.executions).toBe(before);

    // A new prompt drops the effects of the old one from the catch-up.
    const next = await call<RunResult>(presenter.socket, 'run:prompt', { prompt: ' once upon a time' });
    if (!next.ok) throw new Error(next.error.message);
    await new Promise((r) => setTimeout(r, 100));
    const later = track(await join(server.url, queryOf(opened.audienceQuery)));
    await joined(later);
    later.socket.emit('room:replay');
    await later.next('room:result', (event, v) => event === 'run:prompt' && (v as RunResult).runId === next.value.runId);
    await new Promise((r) => setTimeout(r, 200));
    expect(later.of('room:result').map(([e]) => e)).toEqual(['run:prompt']);
  });

  it('sends a late joiner a generation\'s tokens so far', async () => {
    const { presenter, opened } = await present();
    const started = await call<{ runId: string }>(presenter.socket, 'generate:start', { prompt: ' the dog', maxTokens: 4, temperature: 0 });
    if (!started.ok) throw new Error(started.error.message);
    await presenter.next('generate:done', (id) => id === started.value.runId);
    const mine = presenter.of('generate:token').filter(([id]) => id === started.value.runId).map(([, t]) => (t as { text: string }).text);
    const late = track(await join(server.url, queryOf(opened.audienceQuery)));
    await joined(late);
    late.socket.emit('room:replay');
    await late.next('generate:done', (id) => id === started.value.runId);
    expect(late.of('generate:token').map(([, t]) => (t as { text: string }).text)).toEqual(mine);
    expect(late.of('room:result').map(([e]) => e)).toEqual(['generate:start']);
  });
});
