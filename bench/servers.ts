/**
 * Bench servers in child processes (so their RSS and CPU are their own): the bundled model
 * through startServer, or GPT-2-small shapes with random weights behind the same socket server.
 * Each prints `URL <address>` once it listens.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const here = (path: string) => new URL(path, import.meta.url).href;

/** startServer on the bundled model; `options` is a JS object literal's extra fields. */
export const bundledServerCode = (options = '') => `
const { startServer } = await import(${JSON.stringify(here('../server/main.ts'))});
const s = await startServer({ model: ${JSON.stringify(fileURLToPath(here('../assets/models/brown-gpt2/')))}, port: 0, host: '127.0.0.1', device: 'cpu', https: false, serveClient: false, index: false, log: () => {}${options ? `, ${options}` : ''} });
console.log('URL ' + s.url);
`;

/** GPT-2-small shapes (12 layers × 3072 neurons, 50,257 tokens), random weights; a word tokenizer
 * (a number is its own id, other words are hashed). `socketOptions`: attachSocketServer's options. */
export const gpt2SmallServerCode = (socketOptions = '{}') => `
const { createServer } = await import('node:http');
const { gpt2SmallSpec, randomDecoder } = await import(${JSON.stringify(here('../server/engine/random-decoder.ts'))});
const { ModelRunner } = await import(${JSON.stringify(here('../server/engine/runner.ts'))});
const { ModelHost } = await import(${JSON.stringify(here('../server/transport/model-host.ts'))});
const { attachSocketServer } = await import(${JSON.stringify(here('../server/transport/socket-server.ts'))});
const decoder = randomDecoder(gpt2SmallSpec());
const tokenizer = { encode: (t) => t.trim().split(/\\s+/).map((w, i) => Number(w) || (w.length * 7919 + i * 104729) % 50257), decode: (ids) => ids.join(' '), tokenString: (id) => ' ' + id, vocabSize: 50257, bosId: null, eosId: null };
const host = new ModelHost('gpt2-small-random', { decoder, tokenizer }, await ModelRunner.create(decoder));
const http = createServer();
attachSocketServer(http, host, undefined, ${socketOptions});
await new Promise((r) => http.listen(0, '127.0.0.1', r));
console.log('URL http://127.0.0.1:' + http.address().port + '/');
`;

/** Runs `code` in a child process and waits for its URL. */
export async function startServerChild(code: string, label: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let text = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const match = /URL (\S+)/.exec(text);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`bench server (${label}) exited with code ${code}`)));
  });
  return { child, url };
}
