/**
 * A presentation room in the browser: `npm start -- --present` prints the presenter and audience
 * links; headless Chromium opens the audience link (no tokens in it) and, with no input of its
 * own, shows the presenter's run (driven by a socket.io client holding the presenter link) with
 * every frame, follows the presenter's position, and is refused in words when it tries to run.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { build } from 'vite';
import { io as connect } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunResult } from '../../shared/protocol.js';
import { launchBrowser, type BrowserSession } from './browser.js';
import { createPageHelpers } from './page.js';
import { startServer, type RunningServer } from './server.js';
import { call, record, type Recorder } from '../server/rooms/helpers.js';

const artifacts = resolve('test-artifacts/e2e');
let server: RunningServer;
let browser: BrowserSession;
let presenter: Recorder;
let links: { presenter: string; audience: string };

const { waitFor, shoot } = createPageHelpers({
  browser: () => browser, server: () => server, artifacts,
  snapshot: `(() => { const s = window.__circuits?.store.getState(); return s && { connection: s.connection, runStatus: s.runStatus, tokens: s.tokens.length, position: s.position, error: s.error, href: location.href }; })()`,
});

beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true });
  await build({ configFile: resolve('vite.config.ts'), logLevel: 'warn' });
  server = await startServer({ extraArgs: ['--present'] });
  const deadline = Date.now() + 30_000;
  while (!/^audience link: /m.test(server.output()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  links = {
    presenter: /^presenter link: (\S+)$/m.exec(server.output())?.[1] ?? '',
    audience: /^audience link: (\S+)$/m.exec(server.output())?.[1] ?? '',
  };
  const query = Object.fromEntries(new URL(links.presenter).searchParams);
  presenter = record(connect(new URL(links.presenter).origin, { transports: ['websocket'], forceNew: true, reconnection: false, auth: query }));
  await presenter.next('room:joined');
  browser = await launchBrowser({ width: 1280, height: 800 });
  browser.page.setDefaultTimeout(60_000);
});

afterAll(async () => {
  presenter?.socket.disconnect();
  await browser?.close();
  await server?.stop();
});

describe('presenting to a room in the browser', () => {
  it('prints a presenter link with the control token and an audience link without tokens', () => {
    expect(new URL(links.presenter).searchParams.get('control')).toMatch(/^[\w-]{32}$/);
    expect(new URL(links.presenter).searchParams.get('token')).toBe(server.token);
    expect([...new URL(links.audience).searchParams.keys()]).toEqual(['room']);
    expect(server.output().match(/^(presenter|audience) link: /gm)).toHaveLength(2);
  });

  it('follows the presenter\'s run and position, and refuses the follower\'s own run', async () => {
    await browser.page.goto(links.audience);
    await waitFor(`window.__circuits?.store.getState().model != null && window.__circuits.store.getState().connection === 'connected'`, 120_000);
    const run = await call<RunResult>(presenter.socket as never, 'run:prompt', { prompt: ' the apple fell from the tree' });
    if (!run.ok) throw new Error(run.error.message);
    const texts = JSON.stringify(run.value.tokens.map((t) => t.text));
    await waitFor(`(() => { const s = window.__circuits.store.getState(); return s.runId === ${JSON.stringify(run.value.runId)} && s.runStatus === 'idle' && s.framesReady === s.tokens.length && JSON.stringify(s.tokens.map((t) => t.text)) === ${JSON.stringify(texts)}; })()`);
    await call(presenter.socket as never, 'room:state', { position: 2 });
    await waitFor(`window.__circuits.store.getState().position === 2`);
    await shoot('rooms-01-follower');

    await browser.page.fill('[data-testid=prompt-input]', ' a follower tries');
    await browser.page.click('[data-testid=run-button]');
    await waitFor(`(window.__circuits.store.getState().error ?? '').includes('forbidden')`);
    expect(await browser.page.textContent('[data-testid=run-error]')).toMatch(/only the presenter may do this/);
  });
});
