/**
 * Tours and session recordings in the browser (real server, real model, headless Chromium):
 * - the bundled tour, stepped with → / Page Down / Page Up / ←: each beat shows its caption,
 *   moves the camera to its pose, and applies its view (the prompt run once, the head selected,
 *   the induction head's arcs really pointing at the token it names), screenshots per beat;
 * - a tour edited (a beat recorded from the view, moved, a caption edited), saved as a file
 *   (download), loaded back from the file input, identical, and its beat restores the view;
 * - the session recorded meanwhile, saved, loaded and replayed: step, jump with the slider, the
 *   viewer's camera free during replay (and following the recording when asked);
 * - in an emulated headset, the controllers' A and B buttons step the tour, the caption hangs in
 *   the scene, and the visitor's head is never moved by a beat.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTour, type Tour } from '../../client/state/tour-schema.js';
import { parseRecording } from '../../client/state/tour-recording-schema.js';
import { launchBrowser, type BrowserSession } from './browser.js';
import { createPageHelpers } from './page.js';
import { startServer, type RunningServer } from './server.js';

const artifacts = resolve('test-artifacts/e2e/tours');
const bundled = JSON.parse(readFileSync(resolve('assets/tours/induction.json'), 'utf8')) as Tour;
let server: RunningServer;
let browser: BrowserSession;

const app = 'window.__circuits.store.getState()';
const analysis = 'window.__circuitsAnalysis.store.getState()';
const player = 'window.__circuitsTour.player.store.getState()';
const replayer = 'window.__circuitsTour.replayer.store.getState()';

const { state, waitFor, shoot, enterVr, xrFrames } = createPageHelpers({
  browser: () => browser, server: () => server, artifacts,
  snapshot: `(() => { const s = window.__circuits?.store.getState(); const a = window.__circuitsAnalysis?.store.getState(); const t = window.__circuitsTour?.player.store.getState(); const r = window.__circuitsTour?.replayer.store.getState(); return s && { runStatus: s.runStatus, tokens: s.tokens.length, position: s.position, error: s.error, head: a && a.selectedHead, effects: a && a.effectsStatus, aerror: a && a.error, beat: t && t.index, phase: t && t.phase, terror: t && t.error, replay: r && r.index, rerror: r && r.error }; })()`,
});

const idle = `(() => { const s = ${app}; return s.runStatus === 'idle' && s.tokens.length > 0 && s.framesReady === s.tokens.length; })()`;
const beatReady = (index: number) => `(() => { const t = ${player}; return t.index === ${index} && t.phase === 'ready'; })() && ${idle}`;

/** Whether a point drawn on the page lies in the scene's clear middle (between the side docks, above the bottom one). */
const inClearView = (p: { x: number; y: number } | null) => p !== null && p.x > 300 && p.x < 960 && p.y > 0 && p.y < 375;

const distance = (a: number[], b: number[]) => Math.hypot(...a.map((v, i) => v - b[i]!));
const camera = async () => Object.values(await state<{ x: number; y: number; z: number }>('window.__circuits.camera()'));

/** Presses a key with nothing focused (the tour keys ignore typing). */
async function press(key: string): Promise<void> {
  await browser.page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur?.());
  await browser.page.keyboard.press(key);
}

/** The file a click on `selector` downloads, saved under the artifacts. */
async function downloaded(selector: string, name: string): Promise<string> {
  const [download] = await Promise.all([browser.page.waitForEvent('download'), browser.page.click(selector)]);
  const path = join(artifacts, name);
  await download.saveAs(path);
  return path;
}

beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true });
  browser = await launchBrowser({ width: 1280, height: 800 });
  browser.page.setDefaultTimeout(60_000);
  await browser.page.addInitScript(`window.__uncaught = []; window.addEventListener('error', (e) => window.__uncaught.push(String(e.message)));`);
  await build({ configFile: resolve('vite.config.ts'), logLevel: 'warn' });
  server = await startServer();
  await browser.page.goto(server.url);
  await waitFor(`window.__circuits?.store.getState().model != null && window.__circuitsTour != null && window.__circuitsAnalysis != null`, 120_000);
  await waitFor(idle, 60_000);
  // Short beats, so the test steps quickly (the moves still run over several frames).
  await state(`(() => { const t = window.__circuitsTour.player.timings; t.captionMs = 150; t.moveMs = 400; })()`);
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('tours', () => {
  it('plays the bundled tour with the keys: caption, camera move, then the view', async () => {
    await browser.page.click('[data-testid=tour-panel-toggle]');
    await browser.page.click('[data-testid=recording-start]');
    await browser.page.click('[data-testid=tour-bundled]');
    expect(await browser.page.textContent('[data-testid=tour-position]')).toBe(`0 / ${bundled.beats.length}`);

    await press('ArrowRight');
    await waitFor(beatReady(0), 60_000);
    expect(await browser.page.textContent('[data-testid=tour-caption] p')).toBe(bundled.beats[0]!.caption);
    expect(await state(`${analysis}.prompt`)).toBe(bundled.beats[0]!.view.prompt);
    expect(await state(`${app}.tokens.length`)).toBe(25);
    expect(await state(`${app}.position`)).toBe(bundled.beats[0]!.view.position);
    expect(distance(await camera(), bundled.beats[0]!.camera!.position)).toBeLessThan(0.01);
    const firstRun = await state<string>(`${app}.runId`);
    await shoot('tour-beat-1');

    // The caption comes first, the view after the camera's move.
    await press('ArrowRight');
    await waitFor(`${player}.index === 1`, 5_000);
    expect(await browser.page.textContent('[data-testid=tour-caption] p')).toBe(bundled.beats[1]!.caption);
    await waitFor(beatReady(1), 30_000);
    expect(distance(await camera(), bundled.beats[1]!.camera!.position)).toBeLessThan(0.01);
    // The camera frames what the caption talks about: “ music” and “ green” on the rail.
    expect(inClearView(await state('window.__circuits.projectToken(9)'))).toBe(true);
    expect(inClearView(await state('window.__circuits.projectToken(24)'))).toBe(true);
    await shoot('tour-beat-2');

    await press('ArrowRight');
    await waitFor(beatReady(2), 30_000);
    expect(await state(`${analysis}.selectedHead`)).toEqual({ layer: 0, head: 3 });
    expect(inClearView(await state('window.__circuitsAnalysis.projectHead(0, 3)'))).toBe(true);
    // Same prompt, same action: stepping moves the selection, the model does not run again.
    expect(await state(`${app}.runId`)).toBe(firstRun);
    await shoot('tour-beat-3');

    await press('PageDown');
    await waitFor(beatReady(3), 30_000);
    expect(await state(`${analysis}.selectedHead`)).toEqual({ layer: 1, head: 4 });
    // The induction head's arcs, drawn from the real run, point where the caption says: “ music”.
    // (The arcs redraw a frame or two after the head changes: poll until the strongest key settles.)
    const strongestKey = async () => {
      const arcs = await state<{ query: number; keys: { key: number; weight: number }[] } | null>('window.__circuitsAnalysis.attentionArcs()');
      return arcs && arcs.query === 24 ? [...arcs.keys].sort((a, b) => b.weight - a.weight)[0]?.key : null;
    };
    await expect.poll(strongestKey, { timeout: 20_000 }).toBe(9);
    expect(await state(`${app}.tokens[9].text`)).toBe(' music');
    expect(distance(await camera(), bundled.beats[3]!.camera!.position)).toBeLessThan(0.01);
    expect(inClearView(await state('window.__circuitsAnalysis.projectHead(1, 4)'))).toBe(true);
    await shoot('tour-beat-4');

    await press('PageUp');
    await waitFor(beatReady(2), 30_000);
    expect(await state(`${analysis}.selectedHead`)).toEqual({ layer: 0, head: 3 });
    await press('ArrowLeft');
    await waitFor(beatReady(1), 30_000);
    expect(await state(`${analysis}.selectedHead`)).toBeNull();

    // The last beat asks the question: Explain runs and its tab is shown.
    const last = bundled.beats.length - 1;
    await browser.page.locator('[data-testid=tour-beat-play]').nth(last).click();
    await waitFor(beatReady(last), 60_000);
    await waitFor(`${analysis}.effectsStatus === 'done'`, 60_000);
    expect(await state(`${analysis}.target`)).toBe(' music');
    expect(await state('window.__circuitsTour.player.store.getState().caption')).toBe(bundled.beats[last]!.caption);
    await shoot('tour-beat-last');
    expect(await state<string[]>('window.__uncaught')).toEqual([]);
  });

  it('records, reorders, edits, saves and loads a tour: the file round-trips and its beats restore the view', async () => {
    // A beat of one's own: a neuron selected at another position.
    await state(`window.__circuits.store.setState({ selection: { layer: 2, neuron: 5 }, position: 3 })`);
    await browser.page.locator('[data-testid=tour-beat-play]').nth(0).click();
    await waitFor(beatReady(0), 30_000);
    await state(`window.__circuits.store.setState({ selection: { layer: 2, neuron: 5 }, position: 3 })`);
    await browser.page.fill('[data-testid=tour-record-caption]', 'Neuron 5 of layer 2, at “ horse”.');
    await browser.page.click('[data-testid=tour-record]');
    expect(await browser.page.locator('[data-testid=tour-beat]').count()).toBe(bundled.beats.length + 1);
    // Recorded after the shown beat (index 1); move it to the front, edit another's caption.
    await browser.page.locator('[data-testid=tour-beat-up]').nth(1).click();
    await browser.page.locator('[data-testid=tour-beat] textarea').nth(1).fill('Edited: the list, twice.');
    await browser.page.fill('[data-testid=tour-title]', 'My copy of the tour');

    const path = await downloaded('[data-testid=tour-save]', 'saved-tour.json');
    const saved = parseTour(readFileSync(path, 'utf8'));
    expect(saved.ok, saved.ok ? '' : saved.errors.join('; ')).toBe(true);
    if (!saved.ok) return;
    expect(saved.value.title).toBe('My copy of the tour');
    expect(saved.value.beats).toHaveLength(bundled.beats.length + 1);
    expect(saved.value.beats[0]!.caption).toBe('Neuron 5 of layer 2, at “ horse”.');
    expect(saved.value.beats[0]!.view).toMatchObject({ prompt: bundled.beats[0]!.view.prompt, action: 'run', position: 3, neuron: { layer: 2, neuron: 5 } });
    expect(saved.value.beats[0]!.camera?.position).toHaveLength(3);
    expect(saved.value.beats[1]!.caption).toBe('Edited: the list, twice.');
    expect(saved.value.beats.slice(2).map((b) => b.caption)).toEqual(bundled.beats.slice(1).map((b) => b.caption));

    // Closed, then loaded from the file: the same tour; its first beat restores the selection.
    await browser.page.click('[data-testid=tour-close]');
    await state(`window.__circuits.store.setState({ selection: null, position: 0 })`);
    await browser.page.setInputFiles('[data-testid=tour-file]', path);
    await waitFor(`${player}.tour?.title === 'My copy of the tour'`, 10_000);
    const reloaded = await state<Tour>(`${player}.tour`);
    expect({ ...reloaded, schemaVersion: 1, kind: 'circuits-xr-tour' }).toEqual(saved.value);
    await press('ArrowRight');
    await waitFor(beatReady(0), 30_000);
    expect(await state(`${app}.selection`)).toEqual({ layer: 2, neuron: 5 });
    expect(await state(`${app}.position`)).toBe(3);
    await shoot('tour-reloaded-beat-1');

    // A broken file is refused in words naming the field.
    const broken = join(artifacts, 'broken-tour.json');
    writeFileSync(broken, JSON.stringify({ ...saved.value, beats: [{ caption: 'x', view: { position: -1 } }] }));
    await browser.page.setInputFiles('[data-testid=tour-file]', broken);
    await waitFor(`document.querySelector('[data-testid=tour-error]') != null`, 10_000);
    expect(await browser.page.textContent('[data-testid=tour-error]')).toMatch(/beats\[0\]\.view\.position must be an integer ≥ 0 \(got -1\)/);
    expect(await state(`${player}.tour.title`)).toBe('My copy of the tour');
  });

  it('replays the recorded session: step, jump with the slider, camera free unless it follows', async () => {
    await browser.page.click('[data-testid=recording-stop]');
    const path = await downloaded('[data-testid=recording-save]', 'session.json');
    const parsed = parseRecording(readFileSync(path, 'utf8'));
    expect(parsed.ok, parsed.ok ? '' : parsed.errors.join('; ')).toBe(true);
    if (!parsed.ok) return;
    const events = parsed.value.events;
    // The log holds the views of the tour's beats in order, their captions, and camera moves.
    expect(events.filter((e) => e.kind === 'caption').map((e) => e.kind === 'caption' && e.caption).slice(0, 3)).toEqual(bundled.beats.slice(0, 3).map((b) => b.caption));
    expect(events.some((e) => e.kind === 'camera')).toBe(true);
    const views = events.map((e, i) => ({ e, i })).filter(({ e }) => e.kind === 'view');
    expect(views[0]!.e.kind === 'view' && views[0]!.e.view.prompt).not.toBe(bundled.beats[0]!.view.prompt);
    const inductionAt = views.find(({ e }) => e.kind === 'view' && e.view.head?.layer === 1 && e.view.head.head === 4)!.i;
    const explainAt = views.find(({ e }) => e.kind === 'view' && e.view.action === 'explain')!.i;

    await browser.page.click('[data-testid=tour-close]');
    await browser.page.setInputFiles('[data-testid=recording-file]', path);
    await waitFor(`${replayer}.recording?.events.length === ${events.length}`, 10_000);

    // Step: the first event is the view before the tour (the opening example), run again.
    await browser.page.click('[data-testid=replay-step]');
    await waitFor(`${replayer}.index === 0 && ${analysis}.prompt === ${JSON.stringify(views[0]!.e.kind === 'view' ? views[0]!.e.view.prompt : '')}`, 30_000);
    await waitFor(`${idle} && ${app}.tokens.length !== 25`, 60_000);
    await browser.page.click('[data-testid=replay-step]');
    await waitFor(`${replayer}.index === 1`, 10_000);

    // Jump with the slider to the induction head's beat.
    const slide = (to: number) => browser.page.evaluate((value) => {
      const slider = document.querySelector('[data-testid=replay-slider]') as HTMLInputElement;
      Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value')!.set!.call(slider, String(value));
      slider.dispatchEvent(new Event('input', { bubbles: true }));
    }, to);
    await slide(inductionAt);
    await waitFor(`${replayer}.index === ${inductionAt} && ${analysis}.selectedHead?.layer === 1 && ${analysis}.selectedHead?.head === 4`, 60_000);
    await waitFor(idle, 60_000);
    expect(await state(`${analysis}.prompt`)).toBe(bundled.beats[0]!.view.prompt);
    expect(await browser.page.textContent('[data-testid=replay-position]')).toMatch(new RegExp(`^${inductionAt + 1} / ${events.length}`));
    await shoot('replay-induction-head');

    // The viewer walks (W flies forward); replay steps leave the camera where the viewer put it.
    const before = await camera();
    await browser.page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur?.());
    await browser.page.keyboard.down('KeyW');
    // Held until it has moved (software-rendered frames can be slow on a loaded machine).
    await expect.poll(async () => distance(await camera(), before), { timeout: 10_000, interval: 100 }).toBeGreaterThan(0.2);
    await browser.page.keyboard.up('KeyW');
    await browser.page.waitForTimeout(300);
    const walked = await camera();
    await slide(explainAt);
    await waitFor(`${replayer}.index === ${explainAt} && ${analysis}.effectsStatus === 'done'`, 60_000);
    await browser.page.waitForTimeout(300);
    expect(distance(await camera(), walked)).toBeLessThan(0.01);
    await shoot('replay-explain-free-camera');

    // With "camera follows", a step takes the camera to the recorded pose.
    await browser.page.check('[data-testid=replay-follow-camera]');
    const cameraAt = events.findIndex((e, i) => i > 0 && e.kind === 'camera');
    await slide(cameraAt);
    const recordedPose = events[cameraAt]!.kind === 'camera' ? (events[cameraAt] as { camera: { position: number[] } }).camera.position : [];
    await expect.poll(async () => distance(await camera(), recordedPose), { timeout: 10_000 }).toBeLessThan(0.01);
    expect(await state<string[]>('window.__uncaught')).toEqual([]);
  });

  it('steps the tour with the controller buttons in VR, caption in the scene, the head never moved', async () => {
    await browser.page.click('[data-testid=replay-close]');
    await browser.page.click('[data-testid=tour-bundled]');
    await enterVr();
    const head = async () => state<number[]>('(() => { const c = window.__circuits.xrStore.getState().session && window.__circuits.camera(); return c ? [c.x, c.y, c.z] : []; })()');
    const pressButton = async (hand: 'left' | 'right', button: string) => {
      await state(`window.__circuits.xrStore.getState().emulator.controllers.${hand}.updateButtonValue('${button}', 1)`);
      await xrFrames(3);
      await state(`window.__circuits.xrStore.getState().emulator.controllers.${hand}.updateButtonValue('${button}', 0)`);
      await xrFrames(2);
    };
    const standing = await head();
    await pressButton('right', 'a-button');
    await waitFor(beatReady(0), 60_000);
    await pressButton('right', 'a-button');
    await waitFor(beatReady(1), 60_000);
    await pressButton('right', 'a-button');
    await waitFor(beatReady(2), 60_000);
    // B steps back; holding a button is one step, not one per frame.
    await pressButton('right', 'b-button');
    await waitFor(beatReady(1), 60_000);
    await xrFrames(3);
    expect(await state(`${player}.index`)).toBe(1);
    expect(await state<string[]>('window.__circuitsTourCaption?.() ?? []')).toEqual([bundled.beats[1]!.caption]);
    expect(await state('window.__circuitsTourCaptionVisible?.() ?? false')).toBe(true);
    // A beat's camera pose is for desktops: in the headset the view stays where the visitor stands.
    expect(distance(await head(), standing)).toBeLessThan(0.05);
    await shoot('tour-vr-beat-2');
  });
});
