/**
 * Tours, recordings and replay with the app's own stores and connection against the real server
 * (bundled model, real socket.io room):
 * - a presenter page plays the bundled tour: the beat's view is applied (the prompt run once for
 *   beats on one prompt, the head selected), and through `tourRoom.publish` (set here as the
 *   room sync would) the follower page's room state carries the beat's question and camera;
 * - the follower's recorder logs the room's events ('room:state', 'room:camera') and the page's
 *   own view; the log saves as a valid recording;
 * - a third page, in no room, replays that file: jumping to an event applies its view (the
 *   prompt run, position and head set) through the same applyView.
 */
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../server/main.js';
import { ActivationStore } from '../../client/state/activation-store.js';
import { createAppStore } from '../../client/state/app-store.js';
import { createConnection, createSocketBackend } from '../../client/state/connection.js';
import { attachRoom, createRoomStore, type RoomControls, type RoomLink, type RoomStore } from '../../client/state/room.js';
import { analysisServicesFor } from '../../client/analysis/state/analysis-services.js';
import type { AppServices } from '../../client/state/app-context.js';
import { tourRoom, viewToRoomState } from '../../client/state/tour.js';
import { createTourPlayer } from '../../client/state/tour-player.js';
import { createRecorder, createReplayer } from '../../client/state/tour-recorder.js';
import { linkTourToRoom, roomCaption } from '../../client/state/tour-room.js';
import { parseRecording } from '../../client/state/tour-recording-schema.js';
import type { Tour } from '../../client/state/tour-schema.js';
import type { RoomOpened } from '../../shared/protocol.js';
import { call, join, joined, queryOf, type Recorder } from '../server/rooms/helpers.js';

const bundled = fileURLToPath(new URL('../../assets/models/brown-gpt2/', import.meta.url));
const tour = JSON.parse(readFileSync(fileURLToPath(new URL('../../assets/tours/induction.json', import.meta.url)), 'utf8')) as Tour;
let server: Awaited<ReturnType<typeof startServer>>;
let owner: Recorder;
let opened: RoomOpened;

interface Page { services: AppServices; room: RoomStore; controls: RoomControls | null }
const pages: Page[] = [];

const until = async (check: () => boolean, what: string, ms = 30_000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

async function openPage(link: RoomLink | null): Promise<Page> {
  const app = createAppStore();
  const activations = new ActivationStore();
  const connection = createConnection(app, activations, createSocketBackend(server.url, link ? null : server.token));
  const room = createRoomStore();
  const controls = link ? attachRoom(connection.backend, app, activations, room, link) : null;
  const page = { services: { app, activations, connection }, room, controls };
  pages.push(page);
  await until(() => app.getState().model !== null && (!link || room.getState().memberId !== null), 'the page is connected');
  return page;
}

beforeAll(async () => {
  server = await startServer({ model: bundled, port: 0, host: '127.0.0.1', device: 'cpu', https: false, serveClient: false, index: false, log: () => {}, token: 'tour-room-token' });
  owner = await join(server.url, { token: server.token });
  const answer = await call<RoomOpened>(owner.socket, 'room:open');
  if (!answer.ok) throw new Error(answer.error.message);
  opened = answer.value;
  await joined(owner);
});

afterAll(async () => {
  tourRoom.publish = null;
  for (const page of pages) {
    page.controls?.dispose();
    page.services.connection.close();
  }
  owner?.socket.disconnect();
  await server?.close();
});

describe('tours and recordings in a room', () => {
  let recordingText = '';

  it('the presenter plays beats; the room receives them through tourRoom.publish; the follower records the room', async () => {
    const control = queryOf(opened.presenterQuery).control!;
    const presenter = await openPage({ room: opened.room, control });
    await until(() => presenter.controls!.isController(), 'the presenter page has control');
    const follower = await openPage({ room: opened.room });

    const followerContext = { services: follower.services, analysis: analysisServicesFor(follower.services) };
    const recorder = createRecorder(followerContext, follower.services.connection.backend);
    recorder.start();

    // As the room sync would connect it: the presenter's applied beats go to the room.
    tourRoom.publish = (view, camera) => {
      if (presenter.controls!.isController()) presenter.services.connection.backend.emit('room:state', viewToRoomState(view, camera), () => {});
    };
    const player = createTourPlayer({ services: presenter.services, analysis: analysisServicesFor(presenter.services) }, { captionMs: 0, moveMs: 0 });
    // As tour-services.ts links it in the app: the caption on screen goes into the room's state.
    const unlink = linkTourToRoom({ player, replayer: null }, presenter.services.connection.backend, presenter.room, presenter.controls!);
    expect(player.load(tour)).toBe(true);
    await player.goTo(0);
    expect(player.store.getState().phase).toBe('ready');
    const app = presenter.services.app.getState();
    expect(app.tokens).toHaveLength(25);
    expect(app.position).toBe(24);
    const runId = app.runId;
    await player.goTo(3);
    expect(player.store.getState().phase).toBe('ready');
    expect(analysisServicesFor(presenter.services).store.getState().selectedHead).toEqual({ layer: 1, head: 4 });
    expect(presenter.services.app.getState().runId).toBe(runId); // same prompt: not run again

    // The follower's room state carries the beat: its question (head) and camera.
    await until(() => (follower.room.getState().state.question as { head?: { head: number } } | undefined)?.head?.head === 4, 'the room state has the beat');
    expect(follower.room.getState().state.camera).toEqual(tour.beats[3]!.camera);
    // The follower saw the presenter's run (room.ts), with its tokens.
    await until(() => follower.services.app.getState().tokens.length === 25, 'the follower shows the run');
    // The beat's caption reached the follower through the room's state; its overlay shows it
    // (roomCaption), the presenter's own page shows its player's caption instead.
    await until(() => follower.room.getState().state.caption === tour.beats[3]!.caption, 'the follower has the beat\'s caption');
    expect(roomCaption(follower.room.getState())).toBe(tour.beats[3]!.caption);
    expect(roomCaption(presenter.room.getState())).toBeNull();
    // A late joiner gets the caption in the room's snapshot.
    const late = await openPage({ room: opened.room });
    expect(roomCaption(late.room.getState())).toBe(tour.beats[3]!.caption);

    recorder.stop();
    recordingText = recorder.toFile('brown-gpt2') ?? '';
    const parsed = parseRecording(recordingText);
    expect(parsed.ok, parsed.ok ? '' : parsed.errors.join('; ')).toBe(true);
    if (!parsed.ok) return;
    const roomViews = parsed.value.events.filter((e) => e.kind === 'view' && e.source === 'room');
    expect(roomViews.some((e) => e.kind === 'view' && e.view.head?.head === 4 && e.view.prompt === tour.beats[3]!.view.prompt)).toBe(true);
    expect(parsed.value.events.some((e) => e.kind === 'view' && e.source === 'page' && e.view.position === 24)).toBe(true);
    expect(parsed.value.events.some((e) => e.kind === 'camera')).toBe(true);
    expect(parsed.value.events.some((e) => e.kind === 'view' && e.source === 'room')).toBe(true);

    // Closing the tour clears the caption for the room.
    player.close();
    await until(() => follower.room.getState().state.caption === null, 'the room\'s caption is cleared');
    expect(roomCaption(follower.room.getState())).toBeNull();
    unlink();
  });

  it('another page, in no room, replays the recording: a jump applies the recorded view', async () => {
    expect(recordingText).not.toBe('');
    const viewer = await openPage(null);
    const analysis = analysisServicesFor(viewer.services);
    const replayer = createReplayer({ services: viewer.services, analysis });
    expect(replayer.load(recordingText)).toBe(true);
    const events = replayer.store.getState().recording!.events;
    const at = events.findIndex((e) => e.kind === 'view' && e.view.head?.head === 4);
    expect(at).toBeGreaterThanOrEqual(0);
    await replayer.jump(at);
    expect(replayer.store.getState().error).toBeNull();
    expect(analysis.store.getState().prompt).toBe(tour.beats[3]!.view.prompt);
    expect(viewer.services.app.getState().tokens).toHaveLength(25);
    expect(viewer.services.app.getState().position).toBe(24);
    expect(analysis.store.getState().selectedHead).toEqual({ layer: 1, head: 4 });
    // Back to the start: the first event's view (before the tour) is applied again.
    await replayer.jump(0);
    expect(replayer.store.getState().index).toBe(0);
    const first = events[0]!;
    expect(first.kind).toBe('view');
    expect(analysis.store.getState().selectedHead).toEqual((first.kind === 'view' && first.view.head) || null);
  });

  it('plays a recording at its pace (gaps shortened), pauses, and stops at its end', async () => {
    const viewer = pages[pages.length - 1]!;
    const replayer = createReplayer({ services: viewer.services, analysis: analysisServicesFor(viewer.services) }, { maxGapMs: 40 });
    expect(replayer.load(recordingText)).toBe(true);
    const count = replayer.store.getState().recording!.events.length;
    expect(count).toBeGreaterThanOrEqual(4);
    const playing = replayer.play();
    expect(replayer.store.getState().playing).toBe(true);
    await until(() => replayer.store.getState().index >= 1, 'replay advanced');
    replayer.pause();
    const pausedAt = replayer.store.getState().index;
    await new Promise((r) => setTimeout(r, 300));
    expect(replayer.store.getState().index).toBe(pausedAt);
    expect(replayer.store.getState().playing).toBe(false);
    await playing;
    // Play again from there: it runs to the last event and stops by itself.
    await replayer.play();
    expect(replayer.store.getState().index).toBe(count - 1);
    expect(replayer.store.getState().playing).toBe(false);
    expect(replayer.store.getState().error).toBeNull();
  });
});
