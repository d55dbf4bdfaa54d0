/**
 * Issue 13 gap 2: explanation import accepts transcoder features (Neuronpedia-style JSON lines
 * keyed by layer "{l}-{set}" and feature index, or a CSV with a `feature` column), stores them
 * beside the neurons' without mixing the two, and 'feature:details' answers with the imported one.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import { startServer } from '../../../server/main.js';
import { ExplanationStore, readExplanations } from '../../../server/neurons/explanations.js';
import { indexPaths } from '../../../server/neurons/indexer.js';
import { modelKey } from '../../../server/neurons/keys.js';
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { FeatureDetailsView } from '../../../client/ui/feature-details.js';
import type { ClientToServerEvents, ServerToClientEvents } from '../../../shared/protocol.js';

const model = fileURLToPath(new URL('../../../assets/models/brown-gpt2/', import.meta.url));
type Client = Socket<ServerToClientEvents, ClientToServerEvents>;
const tmp = mkdtempSync(join(tmpdir(), 'feature-explanations-'));
let server: Awaited<ReturnType<typeof startServer>>;
let socket: Client;

beforeAll(async () => {
  server = await startServer({ model, port: 0, host: '127.0.0.1', device: 'cpu', https: false, serveClient: false, indexDir: tmp, log: () => {} });
  socket = connect(server.url, { transports: ['websocket'], forceNew: true });
  await new Promise<void>((resolve, reject) => { socket.once('connect', () => resolve()); socket.once('connect_error', reject); });
}, 120_000);

afterAll(async () => {
  socket?.disconnect();
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('explanations of transcoder features', () => {
  it('imports Neuronpedia-style and CSV feature entries beside neuron ones, and feature:details shows them', async () => {
    const { decoder } = server.host.model;
    const nFeatures = server.host.transcoders!.set.layers[0]!.nFeatures;
    const shape = { ...decoder.spec, nFeatures };
    const lines = [
      { modelId: 'brown-gpt2', layer: '2-brown-transcoders', index: '17', description: ' words about fruit', score: 0.5, explanationModelName: 'x' },
      { layer: 2, index: 17, description: 'a worse one', score: -1 },
      { neuron_id: { layer_index: 2, neuron_index: 17 }, scored_explanations: [{ explanation: 'the neuron, not the feature', scored_simulation: { ev_correlation_score: 0.3 } }] },
    ];
    writeFileSync(join(tmp, 'np.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n'));
    writeFileSync(join(tmp, 'features.csv'), 'layer,feature,explanation,score\n1,5,"commas, and ""quotes""",0.7\n');
    const jsonl = readExplanations(join(tmp, 'np.jsonl'), shape).explanations;
    const csv = readExplanations(join(tmp, 'features.csv'), shape).explanations;
    expect(jsonl.filter((e) => e.feature)).toEqual([{ layer: 2, index: 17, feature: true, text: 'words about fruit', score: 0.5, source: 'np.jsonl (brown-transcoders)' }]);
    expect(jsonl.filter((e) => !e.feature).map((e) => e.text)).toEqual(['the neuron, not the feature']);
    expect(csv).toEqual([{ layer: 1, index: 5, feature: true, text: 'commas, and "quotes"', score: 0.7, source: 'features.csv' }]);
    // Errors name the file and line, and the range of the loaded set.
    writeFileSync(join(tmp, 'bad.jsonl'), `${JSON.stringify(lines[0])}\n${JSON.stringify({ layer: '1-x', index: nFeatures, description: 'too far' })}\n`);
    expect(() => readExplanations(join(tmp, 'bad.jsonl'), shape)).toThrow(new RegExp(`bad\\.jsonl:2: feature ${nFeatures} is out of range \\(the transcoders have ${nFeatures}`));

    const store = new ExplanationStore(indexPaths(tmp, await modelKey(decoder, tmp), '').explanations);
    store.import([...jsonl, ...csv]);
    expect(store.get(2, 17)!.text).toBe('the neuron, not the feature');
    expect(store.getFeature(2, 17)!.text).toBe('words about fruit');
    expect(store.get(1, 5)).toBeNull();
    const file = JSON.parse(readFileSync(store.path, 'utf8'));
    expect(file.explanations).toHaveLength(1);
    expect(file.features).toHaveLength(2);

    const asked = await socket.emitWithAck('feature:details', { layer: 1, index: 5 });
    if (!asked.ok) throw new Error(asked.error.message);
    expect(asked.value.explanation).toEqual({ text: 'commas, and "quotes"', score: 0.7, source: 'features.csv' });
    // The page's Features panel (the component itself, rendered to markup) shows it with its source.
    const html = renderToStaticMarkup(createElement(FeatureDetailsView, { details: asked.value }));
    expect(html).toContain('data-testid="feature-explanation"');
    expect(html).toContain('commas, and &quot;quotes&quot;');
    expect(html).toMatch(/score 0\.70, features\.csv/);
    expect(html).toContain('data-testid="neuron-histogram"');
    const other = await socket.emitWithAck('feature:details', { layer: 1, index: 6 });
    if (!other.ok) throw new Error(other.error.message);
    expect(other.value.explanation).toBeNull();
    expect(renderToStaticMarkup(createElement(FeatureDetailsView, { details: other.value }))).not.toContain('feature-explanation');
    // The neuron with the same numbers keeps its own.
    const neuron = await socket.emitWithAck('neuron:details', { layer: 2, index: 17 });
    if (!neuron.ok) throw new Error(neuron.error.message);
    expect(neuron.value.explanation!.text).toBe('the neuron, not the feature');
  }, 300_000);
});
