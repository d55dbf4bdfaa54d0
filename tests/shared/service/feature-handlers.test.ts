/**
 * Issue 14: the feature events as the in-browser engine serves them, on its real transport (the
 * page's WorkerBackend and the worker's PortSocket over Node's MessageChannel) with the bundled
 * model and its transcoders loaded from fetched files (memoryFiles) and no corpus:
 * 'features:subscribe' makes run frames carry the transcoders' live features (equal to the
 * transcoders on the engine's own hooks, to the frame's 16-bit quantisation), and 'feature:details' is answered in words (the
 * corpus index is the server's), after the same range checks as the server.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PortSocket } from '../../../client/engine-worker/port-socket.js';
import type { MessageEndpoint } from '../../../client/engine-worker/port-messages.js';
import { WorkerBackend } from '../../../client/state/worker-backend.js';
import { loadModel } from '../../../server/engine/load.js';
import type { LoadedModel } from '../../../shared/engine/decoder.js';
import { memoryFiles } from '../../../shared/engine/files.js';
import { ModelRunner } from '../../../shared/engine/runner.js';
import { decodeFrame } from '../../../shared/frame-codec.js';
import type { ErrorEvent } from '../../../shared/protocol.js';
import { registerFeatureHandlers } from '../../../shared/service/feature-handlers.js';
import { registerHandlers, type ServiceSocket } from '../../../shared/service/handlers.js';
import { ModelHost } from '../../../shared/service/model-host.js';
import { Scheduler } from '../../../shared/service/scheduler.js';
import { HostedTranscoders } from '../../../shared/transcoders/live.js';
import { transcoderFileNames } from '../../../shared/transcoders/load.js';

type Reply = { ok: true; value: unknown } | { ok: false; error: ErrorEvent };

const setDir = fileURLToPath(new URL('../../../assets/models/brown-gpt2/transcoders', import.meta.url));
let model: LoadedModel;
let host: ModelHost;
let page: WorkerBackend;
const ports: MessagePort[] = [];

beforeAll(async () => {
  model = await loadModel(join(setDir, '..'));
  const fetched = new Map([['config.yaml', new Uint8Array(readFileSync(join(setDir, 'config.yaml')))]]);
  const files = memoryFiles('models/brown-gpt2/transcoders', fetched);
  for (const n of transcoderFileNames(files, model.decoder.spec.nLayers, 'config.yaml')) fetched.set(n, new Uint8Array(readFileSync(join(setDir, n))));
  const transcoders = await HostedTranscoders.load(files, model.decoder);
  host = new ModelHost('brown-gpt2', model, await ModelRunner.create(model.decoder), transcoders);
  const channel = new MessageChannel();
  ports.push(channel.port1, channel.port2);
  page = new WorkerBackend(channel.port1 as unknown as MessageEndpoint, { terminate: () => channel.port1.close() });
  const worker = new PortSocket(channel.port2 as unknown as MessageEndpoint, 'engine-1');
  const kit = registerHandlers(worker as unknown as ServiceSocket, host, new Scheduler(), 'operator');
  registerFeatureHandlers(kit, host);
  const connected = new Promise<void>((resolve) => page.on('connect', resolve));
  worker.open();
  await connected;
});

afterAll(async () => {
  for (const port of ports) port.close();
  await host?.transcoders?.dispose();
  await host?.runner.dispose();
});

const ask = (event: string, payload: unknown) => new Promise<Reply>((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`no answer to ${event}`)), 20_000);
  (page.emit as (e: string, ...a: unknown[]) => unknown)(event, payload, (reply: Reply) => { clearTimeout(timer); resolve(reply); });
});

describe('feature events in the in-browser engine', () => {
  it('streams live features to a subscribed page, equal to the transcoders on the engine’s hooks', async () => {
    expect(await ask('features:subscribe', true)).toEqual({ ok: true, value: { subscribed: true } });
    const frames: ArrayBuffer[] = [];
    const onFrame = (_runId: string, frame: ArrayBuffer) => frames.push(frame);
    page.on('run:frame', onFrame);
    const prompt = 'The jury said the election was conducted fairly';
    const reply = await ask('run:prompt', { prompt });
    page.off('run:frame', onFrame);
    expect(reply.ok).toBe(true);
    const tokens = model.tokenizer.encode(prompt);
    expect(frames).toHaveLength(tokens.length);
    const { cache } = await host.runner.run([tokens], { hooks: host.transcoders!.hooks });
    const expected = await host.transcoders!.features(cache);
    frames.map((f) => decodeFrame(f)).forEach((frame, p) => {
      expect(frame.features, `position ${p}`).not.toBeNull();
      expect(frame.features!.indices.length).toBeGreaterThan(0);
      expect(Array.from(frame.features!.counts)).toEqual(Array.from(expected[p]!.counts));
      expect(Array.from(frame.features!.indices)).toEqual(Array.from(expected[p]!.indices));
      // The frame quantises values to 16 bits of each layer's largest (frame-codec.ts).
      let start = 0;
      expected[p]!.counts.forEach((n, l) => {
        const values = expected[p]!.values.subarray(start, start + n);
        const max = values.reduce((a, b) => Math.max(a, b), 0);
        values.forEach((v, j) => expect(Math.abs(frame.features!.values[start + j]! - v), `position ${p} layer ${l}`).toBeLessThanOrEqual(max / 65535 + 1e-6));
        start += n;
      });
    });
  });

  it('answers feature:details in words: the corpus index is the server’s', async () => {
    const reply = await ask('feature:details', { layer: 1, index: 5 });
    expect(reply).toEqual({ ok: false, error: expect.objectContaining({ code: 'bad_request' }) });
    expect((reply as { error: ErrorEvent }).error.message)
      .toBe('feature:details: feature details need the corpus index, which the in-browser engine does not have (run npm start)');
    const F = host.transcoders!.set.layers[0]!.nFeatures;
    const outside = await ask('feature:details', { layer: 0, index: F });
    expect((outside as { error: ErrorEvent }).error.message).toBe(`feature:details: layer 0 has ${F} features (0..${F - 1}), asked for ${F}`);
  });
});
