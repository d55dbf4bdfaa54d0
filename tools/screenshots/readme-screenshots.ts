/**
 * The README's screenshots, taken the way a visitor sees the page: headless Chromium at
 * 1280×800 against the real server and the bundled model, written to docs/screenshots/:
 * - first-visit-1280x800.png: the page as it opens (the default example run, the guide);
 * - generated-1280x800.png: a sentence generated slowly to end-of-text, the stop reason shown;
 * - circuit-1280x800.png: the induction example traced, a node's card offering the heads that
 *   move its inputs, one picked: its query × key grid in the panel, its arcs over the rail.
 * Run: `npx tsx tools/screenshots/readme-screenshots.ts` (builds the client first).
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'vite';
import { presets } from '../../shared/presets.js';
import { launchBrowser } from '../../tests/e2e/browser.js';
import { startServer } from '../../tests/e2e/server.js';

const out = resolve('docs/screenshots');
const bundledModel = resolve('assets/models/brown-gpt2');
if (!existsSync(join(bundledModel, 'model.safetensors'))) throw new Error(`no bundled model at ${bundledModel}`);
mkdirSync(out, { recursive: true });
process.env.NODE_ENV = 'production';
await build({ configFile: resolve('vite.config.ts'), logLevel: 'warn' });
const server = await startServer({ modelDir: bundledModel });
const browser = await launchBrowser({ width: 1280, height: 800 });
const { page } = browser;
page.setDefaultTimeout(240_000);
const waitFor = (expression: string) => page.waitForFunction(expression, null, { timeout: 240_000, polling: 100 });
const settle = () => page.evaluate(`(async () => { for (let i = 0; i < 8; i++) await new Promise((r) => requestAnimationFrame(r)); })()`);
const shoot = async (name: string) => {
  const path = join(out, name);
  await page.screenshot({ path });
  console.log(`${path}: ${(statSync(path).size / 1024).toFixed(0)} KB`);
};
const analysis = 'window.__circuitsAnalysis.store.getState()';
const runDone = `(() => { const s = window.__circuits.store.getState(); return s.runStatus === 'idle' && s.tokens.length > 0 && s.framesReady === s.tokens.length; })()`;

try {
  await page.goto(server.url);
  await waitFor(`window.__circuits?.store.getState().model != null && window.__circuits.store.getState().connection === 'connected'`);
  await waitFor(runDone);
  await page.waitForTimeout(1500);
  await settle();
  await shoot('first-visit-1280x800.png');

  const sentence = presets.find((p) => p.id !== 'induction' && /said/.test(p.prompt)) ?? presets.at(-1)!;
  await page.selectOption('[data-testid=preset-select]', sentence.id);
  await waitFor(runDone);
  await page.selectOption('[data-testid=pacing]', { index: 1 });
  await page.fill('input[aria-label="tokens to generate"]', '8');
  await page.click('[data-testid=generate-button]');
  await waitFor(`document.querySelector('[data-testid=stop-reason]') != null`);
  await settle();
  await shoot('generated-1280x800.png');

  const induction = presets.find((p) => p.id === 'induction')!;
  await page.click('[data-testid=guide-close]');
  await page.selectOption('[data-testid=preset-select]', induction.id);
  await page.fill('[data-testid=max-nodes]', '80');
  await page.click('[data-testid=trace-button]');
  await waitFor(`${analysis}.graphStatus === 'done' && ${analysis}.prune != null && !${analysis}.pruning`);
  await waitFor(runDone);
  // The last token's most connected neuron: its inputs come from earlier tokens through heads.
  const id = await page.evaluate<string>(`(() => {
    const a = ${analysis}; const byId = new Map(a.graph.nodes.map((n) => [n.node_id, n]));
    const free = (g) => { const b = g.querySelector('circle:not([fill=transparent]):not([fill=none])').getBoundingClientRect(); return document.elementFromPoint(b.x + b.width / 2, b.y + b.height / 2)?.closest('[data-testid=circuit-2d-node]') === g; };
    const drawn = [...document.querySelectorAll('[data-testid=circuit-2d-node][data-kind=feature]')].filter(free).map((g) => g.getAttribute('data-node-id'));
    const cross = (id) => a.graph.links.filter((l) => l.target === id && byId.get(l.source).ctx_idx < byId.get(id).ctx_idx).length;
    return drawn.sort((x, y) => cross(y) - cross(x))[0];
  })()`);
  // At the centre of its dot (the node's box includes its label, which a neighbour may overlap).
  const dot = await page.locator(`[data-testid=circuit-2d-node][data-node-id="${id}"] circle:not([fill=transparent]):not([fill=none])`).boundingBox();
  await page.mouse.click(dot!.x + dot!.width / 2, dot!.y + dot!.height / 2);
  await page.locator('[data-testid=card-head]').first().click({ timeout: 30_000 }).catch(async (error) => {
    console.log('chosen', id, await page.evaluate(`({ card: document.querySelector('[data-testid=circuit-card]')?.textContent ?? null, tokens: window.__circuits.store.getState().tokens.length, graphTokens: ${analysis}.graph.metadata.prompt_tokens.length })`));
    throw error;
  });
  await waitFor(`document.querySelector('[data-testid=attention-grid]')?.dataset.size > 0`);
  await page.waitForTimeout(500);
  await settle();
  await shoot('circuit-1280x800.png');
} finally {
  await browser.close();
  await server.stop();
}
process.exit(0);
