/**
 * The static build with a prebuilt neuron index, in headless Chromium: a small index of the bundled
 * model (2,048 tokens of the default corpus) is built with the server's NeuronIndex in a temp
 * folder, `buildStatic({ out, indexDir })` copies it into a temp dist-static (finding its token
 * budget by itself), a plain static file server serves it (no Range support: the worker fetches
 * each store once), and a selected neuron's panel shows the server's indexed contexts, statistics
 * and output tokens. The corpus status reads ready and the build button is not offered. The time
 * from selecting the neuron to its panel is printed (docs-notes/issue-14-index.md).
 * Screenshot: test-artifacts/e2e/static-index-neuron.png.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exampleTokenText, formatCount } from '../../client/neurons/state/neuron-format.js';
import type { NeuronDetails } from '../../shared/neuron-index.js';
import { loadModel } from '../../server/engine/load.js';
import { NeuronIndex } from '../../server/neurons/service.js';
import { buildStatic } from '../../tools/build-static.js';
import { launchBrowser, type BrowserSession } from './browser.js';
import { createPageHelpers } from './page.js';
import { serveStatic, type StaticServer } from './static-server.js';

const artifacts = resolve('test-artifacts/e2e');
const bundledModel = resolve('assets/models/brown-gpt2');
const BUDGET = 2048;
const neuron = { layer: 1, neuron: 17 };

let browser: BrowserSession;
let served: StaticServer;
let indexDir: string;
let out: string;
let expected: NeuronDetails;
const logs: string[] = [];

const { state, waitFor, shoot } = createPageHelpers({
  browser: () => browser,
  server: () => (served ? { output: () => served.requests.map((r) => `${r.status} ${r.path}`).join('\n') } as never : undefined),
  artifacts,
  snapshot: `(() => { const s = window.__circuits?.store.getState(); const n = window.__circuits?.neurons.getState(); return { status: document.querySelector('[data-testid=status]')?.textContent, app: s && { connection: s.connection, selection: s.selection, error: s.error }, neurons: n && { status: n.status, error: n.error, index: n.index, indexed: n.details ? n.details.indexed != null : null } }; })()`,
});

beforeAll(async () => {
  mkdirSync(artifacts, { recursive: true });
  indexDir = mkdtempSync(join(tmpdir(), 'circuits-e2e-static-index-'));
  out = join(indexDir, 'dist-static');
  const model = await loadModel(bundledModel);
  const index = new NeuronIndex(model, { indexDir, tokens: BUDGET });
  const steps = await index.prepareBuild();
  while (steps && await steps.step());
  expected = index.details(neuron.layer, neuron.neuron);
  await index.dispose();
  expect(expected.indexed).not.toBeNull();
  await buildStatic({ out, indexDir, log: (m) => logs.push(m) });
  browser = await launchBrowser({ width: 1280, height: 800 });
  browser.page.setDefaultTimeout(60_000);
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await served?.close();
  if (indexDir) rmSync(indexDir, { recursive: true, force: true });
});

describe('static build with a prebuilt neuron index', () => {
  it("shows a selected neuron's indexed contexts, equal to the server's, from a plain static server", async () => {
    expect(logs.join('\n')).toMatch(/^neuron index included: Brown Corpus \+ nlp-corpus, 2,048 tokens \(4 layers × 1024 neurons\), [\d.]+ MB from /m);
    expect(existsSync(join(out, 'models/brown-gpt2/index/manifest.json'))).toBe(true);
    served = await serveStatic(out, { isolationHeaders: true });
    const loaded = Date.now();
    await browser.page.goto(served.url);
    await waitFor(`window.__circuits?.store.getState().model != null && window.__circuits.store.getState().connection === 'connected'`, 180_000);
    const connectedMs = Date.now() - loaded;
    await waitFor(`window.__circuits.neurons.getState().index?.state === 'ready'`, 60_000);
    const readyMs = Date.now() - loaded;
    expect(await state<string>(`window.__circuits.neurons.getState().index.corpus`)).toMatch(/, 2,048 tokens$/);

    const started = Date.now();
    await state(`window.__circuits.store.setState({ selection: ${JSON.stringify(neuron)} })`);
    await waitFor(`document.querySelector('[data-testid=neuron-details]')?.getAttribute('data-status') === 'ready'`, 30_000);
    await waitFor(`document.querySelectorAll('[data-testid=neuron-top-example]').length > 0`, 30_000);
    const panelMs = Date.now() - started;
    console.log(`static index: engine connected ${connectedMs} ms and index ready ${readyMs} ms after page load; neuron ${neuron.layer}/${neuron.neuron} details shown ${panelMs} ms after selecting it (${logs.find((l) => l.startsWith('neuron index'))})`);

    const indexed = expected.indexed!;
    const rows = await browser.page.locator('[data-testid=neuron-top-example]').evaluateAll((items) => items.map((li) => ({
      value: Number(li.getAttribute('data-value')),
      text: [...li.querySelectorAll('.example-token')].map((t) => t.textContent).join(''),
      focus: li.querySelector('.example-token.focus')?.textContent ?? null,
    })));
    expect(rows.length).toBe(Math.min(10, indexed.topExamples.length));
    rows.forEach((row, i) => {
      const example = indexed.topExamples[i]!;
      expect(row.value).toBe(example.value);
      expect(row.text).toBe(example.tokens.map((t) => exampleTokenText(t.text)).join(''));
      expect(row.focus).toBe(exampleTokenText(example.tokens[example.focus]!.text));
    });
    const count = await browser.page.locator('[data-testid=neuron-stat][data-key=count]').evaluate((c) => ({ value: Number(c.getAttribute('data-value')), text: c.querySelector('dd')?.textContent }));
    expect(count).toEqual({ value: indexed.stats.count, text: formatCount(indexed.stats.count) });
    expect(await browser.page.getAttribute('[data-testid=neuron-histogram]', 'data-bins')).toBe(String(indexed.histogram.counts.length));
    const promoted = await browser.page.locator('[data-testid=neuron-promoted] li').evaluateAll((items) => items.map((li) => Number(li.getAttribute('data-token-id'))));
    expect(promoted.length).toBeGreaterThan(0);
    expect(promoted).toEqual(expected.promoted.slice(0, promoted.length).map((e) => e.token.id));
    // The page's own answer is the server's, whole.
    const details = await state<NeuronDetails>(`window.__circuits.neurons.getState().details`);
    expect(JSON.stringify(details)).toBe(JSON.stringify(expected));
    expect(await browser.page.locator('[data-testid=build-index]').count()).toBe(0);
    const paths = served.requests.map((r) => `${r.status} ${r.path}`);
    expect(paths).toContain('200 /models/brown-gpt2/index/manifest.json');
    expect(paths).toContain('200 /models/brown-gpt2/index/neurons.nidx');
    expect(browser.errors.filter((e) => e.startsWith('pageerror'))).toEqual([]);
    await shoot('static-index-neuron');
  });
});
