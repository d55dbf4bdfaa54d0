/**
 * The app's file server (server/transport/static-files.ts) on a real HTTP server: every answer
 * (page, asset, mounted folder, worker script, .wasm, a 404) carries the cross-origin isolation
 * headers the in-browser engine needs for WASM threads, with its content type.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { staticHandler } from '../../../server/transport/static-files.js';

let root: string;
let server: Server;
let base: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'circuits-static-'));
  mkdirSync(join(root, 'client/assets'), { recursive: true });
  mkdirSync(join(root, 'ort'), { recursive: true });
  writeFileSync(join(root, 'client/index.html'), '<!doctype html><title>app</title>');
  writeFileSync(join(root, 'client/assets/worker-abc.js'), 'self.onmessage = () => {};');
  writeFileSync(join(root, 'ort/ort.wasm'), new Uint8Array([0, 97, 115, 109]));
  server = createServer(staticHandler(join(root, 'client'), { '/ort/': join(root, 'ort') }));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  rmSync(root, { recursive: true, force: true });
});

describe('static files', () => {
  it.each([
    ['/', 200, 'text/html; charset=utf-8'],
    ['/?engine=browser', 200, 'text/html; charset=utf-8'],
    ['/assets/worker-abc.js', 200, 'text/javascript; charset=utf-8'],
    ['/ort/ort.wasm', 200, 'application/wasm'],
    ['/missing.js', 404, 'text/plain'],
  ])('%s answers %i with COOP same-origin and COEP require-corp', async (path, status, type) => {
    const response = await fetch(base + path);
    expect(response.status).toBe(status);
    expect(response.headers.get('content-type')).toBe(type);
    expect(response.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect(response.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
  });
});
