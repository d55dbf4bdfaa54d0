/**
 * 'generate:token' carries, as its 5th argument, the distribution AFTER the token it announces
 * (what the Next-token panel shows during generation). Checked against an independent full
 * forward pass of prompt + generated tokens (not the incremental run the server streams from):
 * the top ids must match and the probabilities agree to float precision; and the distribution
 * that chose token k+1 must be the one sent as `next` with token k.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import { startServer } from '../../../server/main.js';
import type { ClientToServerEvents, Prediction, ServerToClientEvents, TokenInfo } from '../../../shared/protocol.js';

const bundled = fileURLToPath(new URL('../../../assets/models/brown-gpt2/', import.meta.url));
const fixtures = fileURLToPath(new URL('../../../../shared/fixtures/stories260K/', import.meta.url));
const modelOptions = existsSync(`${bundled}model.safetensors`)
  ? { model: bundled }
  : { model: `${fixtures}stories260K.bin`, tokenizer: `${fixtures}tok512.bin` };

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;
let server: Awaited<ReturnType<typeof startServer>>;
let socket: Client;

beforeAll(async () => {
  server = await startServer({ ...modelOptions, port: 0, host: '127.0.0.1', device: 'cpu', https: false, serveClient: false, index: false, log: () => {} });
  socket = connect(server.url, { transports: ['websocket'], forceNew: true });
  await new Promise<void>((resolve, reject) => { socket.once('connect', () => resolve()); socket.once('connect_error', reject); });
});

afterAll(async () => {
  socket?.disconnect();
  await server?.close();
});

function softmaxTop(logits: Float32Array, k: number): { id: number; prob: number }[] {
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  return [...logits.keys()].sort((a, b) => logits[b]! - logits[a]!).slice(0, k).map((id) => ({ id, prob: Math.exp(logits[id]! - max) / sum }));
}

it('sends the predictions after each generated token, equal to a full forward pass of the text so far', async () => {
  const steps: { token: TokenInfo; chosenFrom: Prediction[]; next: Prediction[] }[] = [];
  const done = new Promise<string>((resolve) => socket.on('generate:done', (_id, reason) => resolve(reason)));
  socket.on('generate:token', (_runId, token, predictions, _frame, next) => steps.push({ token, chosenFrom: predictions, next }));
  const response = await socket.emitWithAck('generate:start', { prompt: 'The man said that the', maxTokens: 4, temperature: 0 });
  expect(response.ok).toBe(true);
  if (!response.ok) return;
  await done;
  expect(steps.length).toBeGreaterThan(0);
  const ids = response.value.tokens.map((t) => t.id);
  const vocab = server.host.model.decoder.spec.vocabSize;
  for (const [k, step] of steps.entries()) {
    ids.push(step.token.id);
    expect(step.next.length).toBeGreaterThan(0);
    const { logits } = await server.host.runner.run([ids]);
    const reference = softmaxTop(logits.data.subarray(logits.data.length - vocab), step.next.length);
    expect(step.next.map((p) => p.id)).toEqual(reference.map((r) => r.id));
    step.next.forEach((p, i) => expect(Math.abs(p.prob - reference[i]!.prob)).toBeLessThan(1e-4));
    // Greedy: the next token is the top of this distribution, and is chosen from it.
    const following = steps[k + 1];
    if (following) {
      expect(following.token.id).toBe(step.next[0]!.id);
      expect(following.chosenFrom.map((p) => p.id)).toEqual(step.next.map((p) => p.id));
    }
  }
});
