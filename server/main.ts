/**
 * `npm start`: loads the model (the bundled one by default), builds the client when it is
 * missing or stale, and serves it with socket.io on one port.
 *
 *   --model PATH  --tokenizer PATH  --port 8080  --host 127.0.0.1  --device cpu|cuda|webgpu  --https
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { ModelError } from './engine/decoder.js';
import { loadModel } from './engine/load.js';
import { devices, ModelRunner, type Device } from './engine/runner.js';
import { ModelHost } from './transport/model-host.js';
import { attachSocketServer } from './transport/socket-server.js';
import { staticHandler } from './transport/static-files.js';
import { certificate } from './transport/tls.js';

const root = new URL('../', import.meta.url).pathname;
export const defaultModel = join(root, 'assets/models/brown-gpt2');

class UsageError extends Error {}

/** WebXR controller profiles, served from the npm package so a headset never needs a CDN. */
export function xrProfilesDirectory(): string {
  return join(dirname(createRequire(import.meta.url).resolve('@webxr-input-profiles/assets/package.json')), 'dist', 'profiles');
}

function newestMtime(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return readdirSync(path).reduce((newest, name) => Math.max(newest, newestMtime(join(path, name))), stat.mtimeMs);
}

/** Builds the client with Vite when dist/client is missing or older than its sources. */
export async function ensureClientBuilt(log: (m: string) => void): Promise<string> {
  const out = join(root, 'dist/client');
  const index = join(out, 'index.html');
  const sources = Math.max(newestMtime(join(root, 'client')), newestMtime(join(root, 'shared')), statSync(join(root, 'vite.config.ts')).mtimeMs);
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return out;
  log('building the client (first start or sources changed)...');
  const { build } = await import('vite');
  await build({ configFile: join(root, 'vite.config.ts'), logLevel: 'warn' });
  return out;
}

export interface StartOptions {
  model: string;
  tokenizer?: string;
  port: number;
  host: string;
  device: Device;
  https: boolean;
  /** Build and serve the browser client (tests of the socket API turn this off). */
  serveClient?: boolean;
  log?: (message: string) => void;
}

export async function startServer(options: StartOptions): Promise<{ server: Server; url: string; host: ModelHost; close: () => Promise<void> }> {
  const log = options.log ?? ((m: string) => console.log(m));
  if (!existsSync(options.model)) {
    throw new ModelError(options.model === defaultModel
      ? `No default model is bundled at ${defaultModel}. Pass one with --model PATH (a Hugging Face GPT-2/Llama directory or a llama2.c .bin).`
      : `Model not found: ${options.model}`);
  }
  const clientDir = options.serveClient === false ? join(root, 'dist/none') : await ensureClientBuilt(log);
  log(`loading ${options.model} ...`);
  const model = await loadModel(options.model, { tokenizerPath: options.tokenizer });
  const runner = await ModelRunner.create(model.decoder, { device: options.device, onNotice: log });
  const host = new ModelHost(basename(options.model.replace(/\/+$/, '')), model, runner);
  const serveFiles = staticHandler(clientDir, { '/xr-profiles/': xrProfilesDirectory() });
  let server: Server;
  if (options.https) {
    const tls = await certificate(join(root, '.cache/tls'));
    if (tls.created) log('created a self-signed certificate in .cache/tls/ (your browser will ask you to accept it once)');
    server = createHttpsServer({ key: tls.key, cert: tls.cert }, serveFiles) as unknown as Server;
  } else {
    server = createHttpServer(serveFiles);
  }
  const { io } = attachSocketServer(server, host);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const url = `${options.https ? 'https' : 'http'}://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}/`;
  return {
    server, url, host,
    close: async () => {
      await new Promise<void>((resolve) => io.close(() => resolve()));
      await runner.dispose();
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' }, tokenizer: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' },
      device: { type: 'string' }, https: { type: 'boolean' }, help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    console.log('npm start -- [--model PATH] [--tokenizer PATH] [--port 8080] [--host 127.0.0.1] [--device cpu|cuda|webgpu] [--https]');
    return;
  }
  const port = Number(values.port ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a port number, got "${values.port}".`);
  const device = (values.device ?? 'cpu') as Device;
  if (!devices.includes(device)) throw new UsageError(`--device must be one of ${devices.join(', ')}, got "${values.device}".`);
  const { url } = await startServer({
    model: values.model ?? defaultModel, tokenizer: values.tokenizer, port, host: values.host ?? '127.0.0.1', device, https: values.https ?? false,
  });
  console.log(`Circuits XR is serving at ${url}`);
  if (values.https) console.log('Headsets on your network: open https://<this machine\'s address>:' + port + '/ and accept the certificate, then Enter VR.');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    console.error(`error: ${(error as Error).message}`);
    if (!(error instanceof ModelError || error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))) {
      if (process.env.DEBUG) console.error((error as Error).stack);
    }
    process.exit(1);
  });
}
