/**
 * Issue 11's last two VR points, in headless Chromium against the real server and model:
 * - in the emulated headset (IWER, Quest 3), every in-VR panel (the selection, the neuron
 *   explanation, the control desk, the tour caption while a tour plays) is measured from the
 *   scene as drawn (window.__circuits.seenFromEye): its centre 1–2 m from the headset's eye,
 *   within 50° of the eye's forward
 *   view, and never over the token rail: the panel's corners and each rail block's bounding box
 *   are projected from the eye onto the plane facing the panel, and the two convex outlines must
 *   be apart (separating-axis test), with the default prompt and with a long one (its rail
 *   reaching far to the sides); the same check is shown to catch a panel put on the rail;
 * - Enter VR is disabled with a reason naming a secure page / https when the app is opened over
 *   plain http at this machine's non-loopback address (the server bound to 0.0.0.0, the page
 *   given the access token), even with the headset emulation forced on (`?xr-emulate`).
 * Screenshots: test-artifacts/e2e/ux-vr-placement-*.png (the headset's view with the default
 * prompt and with a 96-token one, and the page over plain http); measurements in
 * test-artifacts/e2e/ux-vr-placement.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join, resolve } from 'node:path';
import { Vector3 } from 'three';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, type BrowserSession } from './browser.js';
import { createPageHelpers } from './page.js';
import { startServer, type RunningServer } from './server.js';

const artifacts = resolve('test-artifacts/e2e');
let server: RunningServer;
let browser: BrowserSession;

const { state, waitFor, xrFrames, enterVr, shoot } = createPageHelpers({
  browser: () => browser, server: () => server, artifacts,
  snapshot: `(() => { const s = window.__circuits?.store.getState(); return s && { connection: s.connection, runStatus: s.runStatus, tokens: s.tokens.length, error: s.error, secure: window.isSecureContext }; })()`,
});

type Point = [number, number, number];
interface Seen {
  eye: Point;
  forward: Point;
  objects: { name: string; path: string; centre: Point; corners: Point[] }[];
}

const deg = 180 / Math.PI;

/** Convex hull (monotone chain) of 2D points, counter-clockwise. */
function hull(points: [number, number][]): [number, number][] {
  const sorted = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const cross = (o: [number, number], a: [number, number], b: [number, number]) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const half = (list: [number, number][]) => {
    const out: [number, number][] = [];
    for (const p of list) {
      while (out.length >= 2 && cross(out[out.length - 2]!, out[out.length - 1]!, p) <= 1e-12) out.pop();
      out.push(p);
    }
    out.pop();
    return out;
  };
  return [...half(sorted), ...half([...sorted].reverse())];
}

/**
 * The largest gap between two convex outlines along their edges' normals (separating axes):
 * > 0 means apart by at least that much (in tangent-plane units), ≤ 0 means they overlap.
 */
function separation(a: [number, number][], b: [number, number][]): number {
  let best = -Infinity;
  for (const shape of [a, b]) {
    for (let i = 0; i < shape.length; i++) {
      const p = shape[i]!;
      const q = shape[(i + 1) % shape.length]!;
      const length = Math.hypot(q[0] - p[0], q[1] - p[1]);
      if (length < 1e-12) continue;
      const n = [-(q[1] - p[1]) / length, (q[0] - p[0]) / length];
      const range = (s: [number, number][]) => {
        const d = s.map((r) => r[0] * n[0]! + r[1] * n[1]!);
        return [Math.min(...d), Math.max(...d)] as const;
      };
      const [aMin, aMax] = range(a);
      const [bMin, bMax] = range(b);
      best = Math.max(best, Math.max(bMin - aMax, aMin - bMax));
    }
  }
  return best;
}

interface Projection {
  /** Points projected onto the plane one unit ahead of the eye along `axis` (null: not in front). */
  project(points: Point[]): [number, number][] | null;
}

/** Perspective projection from the eye onto the plane perpendicular to the direction of `towards`. */
function projectionFrom(eye: Vector3, towards: Vector3): Projection {
  const axis = towards.clone().sub(eye).normalize();
  const right = new Vector3().crossVectors(axis, new Vector3(0, 1, 0)).normalize();
  const up = new Vector3().crossVectors(right, axis).normalize();
  return {
    project(points) {
      const out: [number, number][] = [];
      for (const p of points) {
        const v = new Vector3(...p).sub(eye);
        const ahead = v.dot(axis);
        // More than ~80° off the axis: not projectable here (and far from a panel that is not).
        if (ahead <= 0.17 * v.length()) return null;
        out.push([v.dot(right) / ahead, v.dot(up) / ahead]);
      }
      return out;
    },
  };
}

/** How far a panel's outline is from the nearest rail block's, seen from the eye (degrees, ≈; ≤ 0: over it). */
function clearanceFromRail(eye: Vector3, panel: Seen['objects'][number], rail: Seen['objects']): { degrees: number; nearest: string; projected: number } {
  const projection = projectionFrom(eye, new Vector3(...panel.centre));
  const outline = projection.project(panel.corners);
  if (!outline) throw new Error(`${panel.name} is not in front of the eye`);
  const panelHull = hull(outline);
  let degrees = Infinity;
  let nearest = '';
  let projected = 0;
  for (const block of rail) {
    const seen = projection.project(block.corners);
    if (!seen) continue;
    projected++;
    const gap = Math.atan(separation(panelHull, hull(seen))) * deg;
    if (gap < degrees) {
      degrees = gap;
      nearest = block.name;
    }
  }
  return { degrees, nearest, projected };
}

function lanAddress(): string | null {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return null;
}

/** Measures the in-VR panels against the eye and the rail now (see the file's comment); asserts as it goes. */
async function measurePanels(label: string): Promise<{ label: string; tokens: number; seen: Seen; rail: Seen['objects']; panels: Record<string, unknown>[] }> {
  const seen = await state<Seen>(`window.__circuits.seenFromEye('^(xr-(selection|neuron|controls)-panel|xr-tour-caption|token-\\\\d+)$')`);
  const eye = new Vector3(...seen.eye);
  const forward = new Vector3(...seen.forward).normalize();
  // The emulated headset stands at the entrance at eye height, looking along the rail's normal.
  expect(eye.y).toBeGreaterThan(1.4);
  expect(eye.y).toBeLessThan(1.8);
  const rail = seen.objects.filter((o) => o.name.startsWith('token-'));
  const tokens = await state<number>('window.__circuits.store.getState().tokens.length');
  expect(rail.length).toBe(tokens);
  expect(rail.length).toBeGreaterThan(3);

  const expected = ['xr-selection-panel', 'xr-neuron-panel', 'xr-controls-panel', 'xr-tour-caption'];
  const measured: Record<string, unknown>[] = [];
  for (const name of expected) {
    const panel = seen.objects.find((o) => o.name === name);
    expect(panel, `${name} is shown in VR`).toBeDefined();
    const toCentre = new Vector3(...panel!.centre).sub(eye);
    const distance = toCentre.length();
    const offForward = toCentre.angleTo(forward) * deg;
    const clear = clearanceFromRail(eye, panel!, rail);
    measured.push({ name, distance, offForwardDegrees: offForward, railClearanceDegrees: clear.degrees, nearestRailBlock: clear.nearest, railBlocksCompared: clear.projected });
    console.log(`${label}, ${name}: ${distance.toFixed(2)} m, ${offForward.toFixed(1)}° off forward, ${clear.degrees.toFixed(1)}° clear of the rail (nearest ${clear.nearest}; ${clear.projected} blocks compared)`);
    expect(distance, `${name} distance`).toBeGreaterThanOrEqual(1);
    expect(distance, `${name} distance`).toBeLessThanOrEqual(2);
    expect(offForward, `${name} angle from the forward view`).toBeLessThanOrEqual(50);
    expect(clear.projected, `${name}: rail blocks seen around it`).toBeGreaterThan(0);
    expect(clear.degrees, `${name} over the rail (${clear.nearest})`).toBeGreaterThan(0);
  }
  await shoot(`ux-vr-placement-${label.replace(/ /g, '-')}`);
  return { label, tokens, seen, rail, panels: measured };
}

beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true });
  browser = await launchBrowser({ width: 1280, height: 800 });
  browser.page.setDefaultTimeout(60_000);
  await build({ configFile: resolve('vite.config.ts'), logLevel: 'warn' });
  // Bound to every interface: the VR test uses localhost (a secure context), the other this machine's LAN address.
  server = await startServer({ extraArgs: ['--host', '0.0.0.0'] });
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe('VR panels measured in the browser, and Enter VR on a page that is not secure', () => {
  it('hangs every in-VR panel 1–2 m from the eye, within 50° of the forward view, and never over the token rail', async () => {
    await browser.page.goto(server.url);
    await waitFor(`window.__circuits?.store.getState().model != null && window.__circuits.store.getState().connection === 'connected'`, 120_000);
    await waitFor(`(() => { const s = window.__circuits.store.getState(); return s.runStatus === 'idle' && s.tokens.length > 0 && s.framesReady === s.tokens.length; })()`, 60_000);
    expect(await state<boolean>('window.isSecureContext')).toBe(true);
    await enterVr();
    // Something in every panel: a selected neuron, and a tour caption (the caption panel shows
    // while a beat's caption is set; set here directly, the placement is what is measured).
    await state(`window.__circuits.store.setState({ selection: { layer: 1, neuron: 5 } })`);
    await waitFor(`window.__circuitsTour != null`, 10_000);
    await state(`window.__circuitsTour.player.store.setState({ caption: 'A caption, to see where it hangs.' })`);
    await waitFor(`window.__circuitsTourCaptionVisible?.() === true`, 10_000);
    await xrFrames(10);

    const first = await measurePanels('default prompt');

    // A long prompt: the rail reaches far to the sides, where its top comes nearer the horizon.
    await state(`window.__circuits.xrStore.getState().session?.end()`);
    await waitFor(`window.__circuits.xrStore.getState().session == null`, 20_000);
    const long = Array.from({ length: 12 }, () => ' the river runs past the old mill').join('').trim();
    await browser.page.fill('[data-testid=prompt-input]', long);
    await browser.page.click('[data-testid=run-button]');
    await waitFor(`(() => { const s = window.__circuits.store.getState(); return s.runStatus === 'idle' && s.tokens.length > 60 && s.framesReady === s.tokens.length; })()`, 120_000);
    await enterVr();
    await state(`window.__circuits.store.setState({ selection: { layer: 1, neuron: 5 } })`);
    await state(`window.__circuitsTour.player.store.setState({ caption: 'A caption, to see where it hangs.' })`);
    await xrFrames(10);
    const second = await measurePanels('long prompt');
    writeFileSync(join(artifacts, 'ux-vr-placement.json'), JSON.stringify([first, second], null, 2));
    const { seen, rail } = second;
    const eye = new Vector3(...seen.eye);

    // The check can fail: a panel-sized quad hung in front of a rail block (halfway from the eye) is caught.
    const block = rail[Math.floor(rail.length / 2)]!;
    const middle = new Vector3(...block.centre).add(eye).multiplyScalar(0.5);
    const fake = { name: 'fake', path: '', centre: middle.toArray() as Point, corners: [[-0.3, -0.2], [0.3, -0.2], [-0.3, 0.2], [0.3, 0.2]].map(([x, y]) => [middle.x + x!, middle.y + y!, middle.z] as Point) };
    expect(clearanceFromRail(eye, fake, rail).degrees).toBeLessThanOrEqual(0);
    await state(`window.__circuits.xrStore.getState().session?.end()`);
    await waitFor(`window.__circuits.xrStore.getState().session == null`, 20_000);
  });

  it('disables Enter VR with a reason when the page is opened over plain http at a LAN address', async () => {
    const address = lanAddress();
    // No non-loopback IPv4 here: fail, so a CI machine without one does not pass this silently.
    expect(address, 'a non-loopback IPv4 address of this machine (os.networkInterfaces())').not.toBeNull();
    const url = `http://${address}:${server.port}/?token=${server.token}&xr-emulate`;
    await browser.page.goto(url);
    await waitFor(`window.__circuits?.store.getState().model != null && window.__circuits.store.getState().connection === 'connected'`, 120_000);
    // Served, connected with the token, and not a secure context.
    expect(await state<boolean>('window.isSecureContext')).toBe(false);
    await browser.page.locator('[data-testid=vr-reason]').waitFor();
    expect(await browser.page.isDisabled('[data-testid=enter-vr]')).toBe(true);
    const reason = await browser.page.textContent('[data-testid=vr-reason]');
    console.log(`Enter VR at ${url.replace(/token=[^&]+/, 'token=…')}: disabled, "${reason}"`);
    expect(reason).toMatch(/secure/i);
    expect(reason).toMatch(/https/i);
    expect(await browser.page.getAttribute('[data-testid=enter-vr]', 'title')).toBe(reason);
    await shoot('ux-vr-placement-insecure-http');
  });
});
